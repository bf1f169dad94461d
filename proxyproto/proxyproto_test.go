package proxyproto

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"
)

// v2 builds a version 2 header.
func v2(cmd, fam byte, addrs []byte) []byte {
	b := append([]byte{}, v2Sig...)
	b = append(b, 0x20|cmd, fam, 0, 0)
	binary.BigEndian.PutUint16(b[14:], uint16(len(addrs)))
	return append(b, addrs...)
}

func TestParse(t *testing.T) {
	v4addrs := []byte{203, 0, 113, 7, 10, 0, 0, 1, 0x1f, 0x90, 0, 80}
	v6addrs := append(netip.MustParseAddr("2001:db8::7").AsSlice(), netip.MustParseAddr("2001:db8::1").AsSlice()...)
	v6addrs = append(v6addrs, 0x1f, 0x90, 0, 80)
	tlv := append(append([]byte{}, v4addrs...), 0x04, 0, 3, 'a', 'b', 'c')
	tests := []struct {
		name string
		in   string
		n    int
		src  string
		err  error
	}{
		{name: "v1 tcp4", in: "PROXY TCP4 203.0.113.7 10.0.0.1 56324 443\r\nGET /", n: 43, src: "203.0.113.7"},
		{name: "v1 tcp6", in: "PROXY TCP6 2001:db8::7 2001:db8::1 56324 443\r\n", n: 46, src: "2001:db8::7"},
		{name: "v1 unknown", in: "PROXY UNKNOWN\r\nGET", n: 15},
		{name: "v1 partial", in: "PROXY TCP4 203.0.11"},
		{name: "v1 first byte", in: "P"},
		{name: "v1 family mismatch", in: "PROXY TCP4 2001:db8::7 2001:db8::1 1 2\r\n", err: ErrBadHeader},
		{name: "v1 bad port", in: "PROXY TCP4 1.2.3.4 1.2.3.5 65536 2\r\n", err: ErrBadHeader},
		{name: "v1 too long", in: "PROXY TCP4 " + string(make([]byte, 120)), err: ErrBadHeader},
		{name: "not proxy", in: "GET / HTTP/1.1\r\n", err: ErrBadHeader},
		{name: "v2 tcp4", in: string(v2(1, 0x11, v4addrs)) + "GET", n: 28, src: "203.0.113.7"},
		{name: "v2 tcp6", in: string(v2(1, 0x21, v6addrs)), n: 52, src: "2001:db8::7"},
		{name: "v2 tlv skipped", in: string(v2(1, 0x11, tlv)), n: 34, src: "203.0.113.7"},
		{name: "v2 local", in: string(v2(0, 0x00, nil)), n: 16},
		{name: "v2 partial", in: string(v2(1, 0x11, v4addrs)[:20])},
		{name: "v2 signature partial", in: "\r\n\r\n\x00"},
		{name: "v2 short addresses", in: string(v2(1, 0x11, v4addrs[:4])), err: ErrBadHeader},
		{name: "v2 bad version", in: string(append(append([]byte{}, v2Sig...), 0x11, 0x11, 0, 0)), err: ErrBadHeader},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, src, err := Parse([]byte(tt.in))
			if !errors.Is(err, tt.err) || n != tt.n {
				t.Fatalf("Parse = %d, %v, %v; want %d, %v", n, src, err, tt.n, tt.err)
			}
			if want := tt.src; want != "" && src != netip.MustParseAddr(want) || want == "" && src.IsValid() {
				t.Errorf("source %v, want %q", src, want)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("PROXY TCP4 203.0.113.7 10.0.0.1 56324 443\r\n"))
	f.Add(v2(1, 0x11, []byte{1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 0, 2}))
	f.Fuzz(func(t *testing.T, b []byte) {
		n, _, err := Parse(b)
		if err == nil && n > len(b) {
			t.Fatalf("n %d beyond %d bytes", n, len(b))
		}
		if err == nil && n == 0 && len(b) >= MaxHeader+16 {
			t.Fatalf("still waiting after %d bytes", len(b))
		}
	})
}

// TestAppendRoundTrip checks that what AppendV1 and AppendV2 write,
// Parse reads back: the whole header and the client's address, for
// IPv4, IPv6, a mix of the two and a header without addresses.
func TestAppendRoundTrip(t *testing.T) {
	v4 := netip.MustParseAddrPort("192.0.2.7:40001")
	v4dst := netip.MustParseAddrPort("198.51.100.1:443")
	v6 := netip.MustParseAddrPort("[2001:db8::7]:40002")
	tests := []struct {
		name     string
		src, dst netip.AddrPort
		want     netip.Addr
		v1       string
	}{
		{name: "IPv4", src: v4, dst: v4dst, want: v4.Addr(), v1: "PROXY TCP4 192.0.2.7 198.51.100.1 40001 443\r\n"},
		{name: "IPv6", src: v6, dst: v6, want: v6.Addr(), v1: "PROXY TCP6 2001:db8::7 2001:db8::7 40002 40002\r\n"},
		{name: "mixed", src: v4, dst: v6, want: v4.Addr(), v1: "PROXY TCP6 ::ffff:192.0.2.7 2001:db8::7 40001 40002\r\n"},
		{name: "none", src: netip.AddrPort{}, dst: v4dst, v1: "PROXY UNKNOWN\r\n"},
	}
	for _, tt := range tests {
		for _, v := range []int{1, 2} {
			var b []byte
			if v == 1 {
				b = AppendV1(nil, tt.src, tt.dst)
				if string(b) != tt.v1 {
					t.Errorf("%s: v1 %q, want %q", tt.name, b, tt.v1)
				}
			} else {
				b = AppendV2(nil, tt.src, tt.dst)
			}
			if len(b) > MaxV1 && v == 1 || len(b) > MaxV2 && v == 2 {
				t.Errorf("%s v%d: %d bytes, over the bound", tt.name, v, len(b))
			}
			n, src, err := Parse(append(b, "GET / HTTP/1.1\r\n"...))
			if err != nil || n != len(b) || src != tt.want {
				t.Errorf("%s v%d: Parse = %d, %v, %v; want %d, %v", tt.name, v, n, src, err, len(b), tt.want)
			}
		}
	}
}
