package ratelimit

import (
	"net/netip"
	"testing"
	"time"
)

func key(s string) Key { return Key(netip.MustParseAddr(s).As16()) }

// step is one request in a scripted sequence: at (offset from the start),
// and the expected verdict.
type step struct {
	at   time.Duration
	ok   bool
	wait time.Duration // expected wait when refused
}

func TestAllow(t *testing.T) {
	const start = int64(1_700_000_000) * int64(time.Second)
	tests := []struct {
		name  string
		rate  float64
		burst int
		steps []step
	}{
		{name: "burst 0: one at a time", rate: 1, burst: 0, steps: []step{
			{at: 0, ok: true},
			{at: 0, ok: false, wait: time.Second},
			{at: 500 * time.Millisecond, ok: false, wait: 500 * time.Millisecond},
			{at: time.Second, ok: true},
			{at: 2 * time.Second, ok: true},
		}},
		{name: "burst 2: three at once then the rate", rate: 10, burst: 2, steps: []step{
			{at: 0, ok: true}, {at: 0, ok: true}, {at: 0, ok: true},
			{at: 0, ok: false, wait: 100 * time.Millisecond},
			{at: 100 * time.Millisecond, ok: true},
			{at: 100 * time.Millisecond, ok: false, wait: 100 * time.Millisecond},
			{at: time.Second, ok: true}, {at: time.Second, ok: true}, {at: time.Second, ok: true},
			{at: time.Second, ok: false, wait: 100 * time.Millisecond},
		}},
		{name: "refused requests are not charged", rate: 2, burst: 0, steps: []step{
			{at: 0, ok: true},
			{at: 100 * time.Millisecond, ok: false, wait: 400 * time.Millisecond},
			{at: 200 * time.Millisecond, ok: false, wait: 300 * time.Millisecond},
			{at: 500 * time.Millisecond, ok: true},
		}},
		{name: "idle refills to burst+1, not more", rate: 100, burst: 1, steps: []step{
			{at: 0, ok: true}, {at: 0, ok: true}, {at: 0, ok: false, wait: 10 * time.Millisecond},
			{at: time.Hour, ok: true}, {at: time.Hour, ok: true}, {at: time.Hour, ok: false, wait: 10 * time.Millisecond},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := New(tt.rate, tt.burst, 64, 0)
			k := key("192.0.2.1")
			for i, s := range tt.steps {
				ok, wait := l.Allow(k, start+int64(s.at))
				if ok != s.ok || (!ok && wait != s.wait) {
					t.Fatalf("request %d at +%v: ok=%v wait=%v, want ok=%v wait=%v", i, s.at, ok, wait, s.ok, s.wait)
				}
			}
		})
	}
}

func TestClientsAreSeparate(t *testing.T) {
	l := New(1, 0, 64, 0)
	now := int64(time.Hour)
	for _, ip := range []string{"192.0.2.1", "192.0.2.2", "2001:db8::1", "::ffff:192.0.2.3"} {
		if ok, _ := l.Allow(key(ip), now); !ok {
			t.Errorf("%s: first request refused", ip)
		}
		if ok, _ := l.Allow(key(ip), now); ok {
			t.Errorf("%s: second request allowed", ip)
		}
	}
}

// TestBounded fills the table with far more clients than it holds: it
// never grows, and a client evicted under pressure is only ever treated
// more leniently (as new), never refused without cause.
func TestBounded(t *testing.T) {
	l := New(1, 0, 64, 0)
	n := len(l.table)
	if n != 64 {
		t.Fatalf("table has %d entries, want 64", n)
	}
	now := int64(time.Hour)
	for i := 0; i < 10000; i++ {
		k := key(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}).String())
		if ok, _ := l.Allow(k, now); !ok {
			t.Fatalf("client %d refused on its first request", i)
		}
	}
	if len(l.table) != n {
		t.Errorf("table grew to %d", len(l.table))
	}
	// A client whose bucket refilled reuses an idle entry: the first
	// 10000 clients are all idle a second later, so a returning one is
	// allowed again.
	if ok, _ := l.Allow(key("10.0.0.5"), now+int64(time.Second)); !ok {
		t.Error("returning client refused after its bucket refilled")
	}
}

func TestRetryAfter(t *testing.T) {
	tests := []struct {
		wait time.Duration
		want int64
	}{
		{0, 1}, {time.Millisecond, 1}, {time.Second, 1}, {time.Second + 1, 2}, {90 * time.Second, 90},
	}
	for _, tt := range tests {
		if got := RetryAfter(tt.wait); got != tt.want {
			t.Errorf("RetryAfter(%v) = %d, want %d", tt.wait, got, tt.want)
		}
	}
}

func TestHugeBurst(t *testing.T) {
	l := New(0.001, 1<<30, 8, 0)
	for i := 0; i < 1000; i++ {
		if ok, _ := l.Allow(key("192.0.2.9"), 0); !ok {
			t.Fatalf("request %d refused under a huge burst", i)
		}
	}
}
