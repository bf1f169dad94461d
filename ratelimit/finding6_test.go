package ratelimit

import (
	"net/netip"
	"testing"
	"time"
)

// addrs returns n addresses: base with its last byte (IPv4) or last
// 16-bit group (IPv6) replaced by 0..n-1, or, with at > 0, the 16-bit
// group at byte offset at replaced instead.
func addrs(base string, n, at int) []Key {
	b := netip.MustParseAddr(base).As16()
	keys := make([]Key, n)
	for i := range keys {
		k := Key(b)
		if at == 0 {
			at = 14
			if netip.AddrFrom16(b).Unmap().Is4() {
				k[15] = byte(i)
				keys[i] = k
				at = 0
				continue
			}
		}
		k[at], k[at+1] = byte(i>>8), byte(i)
		keys[i] = k
	}
	return keys
}

// TestFinding6SameSubnet replays finding 6 of issue 9: many sources of one
// /24 (or one /64) sending round after round within one refill period. At
// 1r/s each client may pass burst+1 times; before the fix the whole /24
// fell into one 8-way set and every request passed (180/180 for 9
// sources).
func TestFinding6SameSubnet(t *testing.T) {
	const rounds = 20
	tests := []struct {
		name  string
		keys  []Key
		burst int
		want  int // requests allowed in all
	}{
		{name: "9 in a /24, burst 0", keys: addrs("203.0.113.0", 9, 0), burst: 0, want: 9},
		{name: "9 in a /24, burst 2", keys: addrs("203.0.113.0", 9, 0), burst: 2, want: 27},
		{name: "256 in a /24, burst 0", keys: addrs("203.0.113.0", 256, 0), burst: 0, want: 256},
		{name: "256 in a /24, burst 2", keys: addrs("203.0.113.0", 256, 0), burst: 2, want: 768},
		{name: "9 hosts of one /64 are one client", keys: addrs("2001:db8:1:2::", 9, 0), burst: 0, want: 1},
		{name: "256 hosts of one /64, burst 2", keys: addrs("2001:db8:1:2::", 256, 0), burst: 2, want: 3},
		{name: "256 /64s of one /48", keys: addrs("2001:db8:1::1", 256, 6), burst: 0, want: 256},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := New(1, tt.burst, DefaultCapacity, DefaultIPv6Prefix)
			n := len(tt.keys) * rounds
			step := int64(900*time.Millisecond) / int64(n) // all within one period
			now := int64(time.Hour)
			allowed := 0
			for range rounds {
				for _, k := range tt.keys {
					if ok, _ := l.Allow(k, now); ok {
						allowed++
					}
					now += step
				}
			}
			t.Logf("%d/%d allowed", allowed, n)
			if allowed != tt.want {
				t.Errorf("%d of %d requests allowed, want %d", allowed, n, tt.want)
			}
		})
	}
}

// TestFinding6IPv6Prefix checks which addresses count as one client for
// each IPv6 prefix length: the prefix groups IPv6 addresses and never
// IPv4 ones.
func TestFinding6IPv6Prefix(t *testing.T) {
	tests := []struct {
		prefix int
		a, b   string
		same   bool
	}{
		{prefix: 0, a: "2001:db8:1:2::1", b: "2001:db8:1:2:ffff:ffff:ffff:ffff", same: true},
		{prefix: 0, a: "2001:db8:1:2::1", b: "2001:db8:1:3::1", same: false},
		{prefix: 64, a: "2001:db8:1:2::1", b: "2001:db8:1:2:8000::1", same: true},
		{prefix: 64, a: "2001:db8:1:2::1", b: "2001:db8:1:3::1", same: false},
		{prefix: 48, a: "2001:db8:1:2::1", b: "2001:db8:1:ffff::1", same: true},
		{prefix: 48, a: "2001:db8:1::1", b: "2001:db8:2::1", same: false},
		{prefix: 56, a: "2001:db8:1:200::1", b: "2001:db8:1:2ff::1", same: true},
		{prefix: 56, a: "2001:db8:1:200::1", b: "2001:db8:1:300::1", same: false},
		{prefix: 32, a: "2001:db8:1::1", b: "2001:db8:ffff::1", same: true},
		{prefix: 96, a: "2001:db8::1:0:1", b: "2001:db8::1:0:2", same: true},
		{prefix: 96, a: "2001:db8::1:0:1", b: "2001:db8::2:0:1", same: false},
		{prefix: 128, a: "2001:db8::1", b: "2001:db8::2", same: false},
		{prefix: 200, a: "2001:db8::1", b: "2001:db8::2", same: false},
		{prefix: 32, a: "192.0.2.1", b: "192.0.2.2", same: false},
		{prefix: 32, a: "192.0.2.1", b: "198.51.100.1", same: false},
		{prefix: 32, a: "192.0.2.1", b: "::ffff:192.0.2.1", same: true},
		{prefix: 32, a: "::ffff:192.0.2.1", b: "::ffff:0:0", same: false},
	}
	for _, tt := range tests {
		l := New(1, 0, DefaultCapacity, tt.prefix)
		now := int64(time.Hour)
		if ok, _ := l.Allow(key(tt.a), now); !ok {
			t.Fatalf("/%d: first request of %s refused", tt.prefix, tt.a)
		}
		ok, _ := l.Allow(key(tt.b), now)
		if same := !ok; same != tt.same {
			t.Errorf("/%d: %s and %s one client: %v, want %v", tt.prefix, tt.a, tt.b, same, tt.same)
		}
	}
}

// TestFinding6Unpredictable checks that the sets an address falls into
// depend on a key of the Limiter, different for each: a client cannot
// work out offline which of its addresses share a set.
func TestFinding6Unpredictable(t *testing.T) {
	a := New(1, 0, DefaultCapacity, 0)
	b := New(1, 0, DefaultCapacity, 0)
	if a.k0 == b.k0 && a.k1 == b.k1 {
		t.Fatal("two limiters drew the same hash key")
	}
	// Eight addresses all landing in the same sets under two random
	// keys has a chance of 2048^-8.
	differ := false
	for _, k := range addrs("203.0.113.0", 8, 0) {
		ha, la := a.client(&k)
		if sipHash13(a.k0, a.k1, ha, la)&a.mask != sipHash13(b.k0, b.k1, ha, la)&b.mask {
			differ = true
		}
	}
	if !differ {
		t.Error("addresses fall into the same sets under two keys")
	}
}

// TestEvictsFullestBucket fills a one-set table and checks whom a new
// client displaces: an idle entry when there is one, else the client
// whose bucket is fullest, while the others stay limited.
func TestEvictsFullestBucket(t *testing.T) {
	l := New(1, 0, ways, 0) // one set: both choices are the same
	keys := addrs("198.51.100.0", ways+2, 0)
	now := int64(time.Hour)
	sec := int64(time.Second)
	// ways clients, one every 100 ms: the first is idle again by the
	// time the table is full plus 200 ms.
	for i, k := range keys[:ways] {
		if ok, _ := l.Allow(k, now+int64(i)*sec/10); !ok {
			t.Fatalf("client %d refused on its first request", i)
		}
	}
	now += sec + sec/10 // clients 0 and 1 idle, 2.. busy
	if ok, _ := l.Allow(keys[ways], now); !ok {
		t.Fatal("new client refused")
	}
	for i := 2; i < ways; i++ {
		if ok, _ := l.Allow(keys[i], now); ok {
			t.Errorf("busy client %d forgotten while an idle entry was free", i)
		}
	}
	// Every entry but client 1's is busy now: the next newcomer takes
	// that idle one; the one after (client 0, forgotten) displaces the
	// fullest busy bucket, client 2's (charged first, tat = +1.2 s).
	if ok, _ := l.Allow(keys[ways+1], now); !ok {
		t.Fatal("second new client refused")
	}
	if ok, _ := l.Allow(keys[0], now); !ok {
		t.Fatal("forgotten client 0 refused")
	}
	for i := 3; i < ways; i++ {
		if ok, _ := l.Allow(keys[i], now); ok {
			t.Errorf("client %d forgotten before the fuller bucket of client 2", i)
		}
	}
	if ok, _ := l.Allow(keys[2], now); !ok {
		t.Error("client 2, the fullest bucket, was not the one evicted")
	}
}

// TestBusyClientsKeepTheirEntries fills half of the table with clients
// that are all busy at once (each charged once, then again within the
// refill period): none may be forgotten, so none passes twice. With one
// choice of set, some sets overflow at this load and let their clients
// through again.
func TestBusyClientsKeepTheirEntries(t *testing.T) {
	l := New(1, 0, DefaultCapacity, 0)
	n := len(l.table) / 2
	keys := make([]Key, n)
	for i := range keys {
		keys[i] = Key(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}).As16())
	}
	now := int64(time.Hour)
	allowed := 0
	for range 2 {
		for _, k := range keys {
			if ok, _ := l.Allow(k, now); ok {
				allowed++
			}
			now += int64(100 * time.Microsecond) // both rounds within a second
		}
	}
	if allowed != n {
		t.Errorf("%d requests of %d busy clients allowed in one refill period, want %d", allowed, n, n)
	}
}

// TestSipHash13 checks the hash against a published answer: SipHash-1-3
// of the bytes 00..0f under the key 00..0f, whose low 32 bits are the
// 16-byte vector of the Linux kernel's hsiphash on 64-bit machines.
func TestSipHash13(t *testing.T) {
	const w0, w1 = 0x0706050403020100, 0x0f0e0d0c0b0a0908
	if got := uint32(sipHash13(w0, w1, w0, w1)); got != 0x7d908b66 {
		t.Errorf("SipHash-1-3 = %#x, want 0x7d908b66", got)
	}
}
