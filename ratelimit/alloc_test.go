//go:build linux && !race

package ratelimit

import (
	"testing"
	"time"
)

// TestAllowAllocs proves that charging a request allocates nothing.
func TestAllowAllocs(t *testing.T) {
	l := New(1000, 10, DefaultCapacity, DefaultIPv6Prefix)
	k := key("198.51.100.7")
	now := int64(time.Hour)
	allocs := testing.AllocsPerRun(1000, func() {
		now += int64(time.Millisecond)
		l.Allow(k, now)
	})
	if allocs != 0 {
		t.Errorf("Allow: %v allocs, want 0", allocs)
	}
}

func BenchmarkAllow(b *testing.B) {
	l := New(1e6, 10, DefaultCapacity, DefaultIPv6Prefix)
	keys := make([]Key, 1024)
	for i := range keys {
		keys[i] = Key{10: 0xff, 11: 0xff, 12: 10, 13: byte(i >> 8), 14: byte(i)}
	}
	now := int64(time.Hour)
	i := 0
	for b.Loop() {
		now += 1000
		l.Allow(keys[i&1023], now)
		i++
	}
}
