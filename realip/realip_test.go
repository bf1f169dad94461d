package realip

import (
	"net/netip"
	"testing"
)

func TestFromXFF(t *testing.T) {
	trusted := Trusted{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")}
	tests := []struct {
		xff, want string
	}{
		{"203.0.113.7", "203.0.113.7"},
		{"203.0.113.7, 10.0.0.2", "203.0.113.7"},
		{"6.6.6.6, 203.0.113.7, 10.0.0.2, 10.1.1.1", "203.0.113.7"}, // the spoofed left part is ignored
		{"10.0.0.5, 10.0.0.2", "10.0.0.5"},                          // all trusted: the leftmost
		{" 2001:db8::1 ,2001:db9::7 ", "2001:db9::7"},
		{"junk, 203.0.113.7", "203.0.113.7"},
		{"203.0.113.7, junk, 10.0.0.2", "10.0.0.2"}, // the chain breaks at junk
		{"::ffff:203.0.113.9", "203.0.113.9"},
		{"fe80::1%eth0", ""},
		{"", ""},
		{",", ""},
	}
	for _, tt := range tests {
		got, ok := FromXFF([]byte(tt.xff), trusted)
		if tt.want == "" {
			if ok {
				t.Errorf("FromXFF(%q) = %v, want none", tt.xff, got)
			}
			continue
		}
		if !ok || got != netip.MustParseAddr(tt.want) {
			t.Errorf("FromXFF(%q) = %v %v, want %s", tt.xff, got, ok, tt.want)
		}
	}
}

func TestParseAddr(t *testing.T) {
	for _, s := range []string{"1.2.3.4", "0.0.0.0", "255.255.255.255", "::1", "2001:db8::7", "::ffff:1.2.3.4", "1.2.3.04", "256.1.1.1", "1.2.3", "1..2.3", "a.b.c.d", "1.2.3.4.5", "fe80::1%lo", " 1.2.3.4", ""} {
		want, err := netip.ParseAddr(s)
		got, ok := ParseAddr([]byte(s))
		if ok != (err == nil && want.Zone() == "") || ok && got != want.Unmap() {
			t.Errorf("ParseAddr(%q) = %v %v; netip: %v %v", s, got, ok, want, err)
		}
	}
}

func FuzzParseAddr(f *testing.F) {
	f.Add("10.0.0.1")
	f.Add("2001:db8::1")
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := ParseAddr([]byte(s))
		want, err := netip.ParseAddr(s)
		if ok && (err != nil || got != want.Unmap()) {
			t.Errorf("ParseAddr(%q) = %v, netip says %v %v", s, got, want, err)
		}
		if !ok && err == nil && want.Zone() == "" && len(s) <= 45 {
			t.Errorf("ParseAddr(%q) refused, netip accepts %v", s, want)
		}
	})
}
