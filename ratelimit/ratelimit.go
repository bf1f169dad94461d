package ratelimit

import (
	"encoding/binary"
	"math"
	"time"
)

// Key is a client's IP address in 16-byte form (IPv4 as v4-mapped IPv6),
// the same bytes as netip.Addr.As16.
type Key [16]byte

// ways is the associativity of a set: a lookup scans the ways entries of
// each of a client's two sets (three cache lines each). Eight ways with
// two choices keep every busy client in the table until it is about two
// thirds full (see doc.go) without making the scan long.
const ways = 8

// DefaultCapacity is the number of client entries of a Limiter. nginx's
// documentation sizes a 1 MiB limit_req zone at about 16,000 states; this
// holds as many in 384 KiB per worker and limited [server] block.
const DefaultCapacity = 16384

// DefaultIPv6Prefix is the prefix length that makes an IPv6 address one
// client when New is given none: a /64, the smallest network a subscriber
// is normally given (RFC 6177), whose hosts choose their own interface
// identifiers.
const DefaultIPv6Prefix = 64

// entry is one client's bucket. hi and lo are the client's address, masked
// to its prefix for IPv6, as big-endian words.
type entry struct {
	hi, lo uint64
	tat    int64 // theoretical arrival time, unix ns; <= now means idle
}

// Limiter is the token-bucket table of one [server] block in one worker.
// It must be used from one goroutine (the worker's loop thread).
type Limiter struct {
	interval  int64 // T: nanoseconds per request
	tolerance int64 // Burst*T
	mask      uint64
	k0, k1    uint64 // SipHash key of the set index, secret
	v6hi      uint64 // IPv6 prefix mask, first word
	v6lo      uint64 // and second word
	table     []entry
}

// New returns a limiter of rate requests per second with burst extra
// requests at once, for up to capacity clients (rounded up to a power of
// two, at least one set). An IPv6 client is the first ipv6Prefix bits of
// its address: a value of 0 or less means DefaultIPv6Prefix, one above
// 128 means 128 (every address its own client). IPv4 clients are always
// whole addresses. rate must be > 0.
//
// Each Limiter hashes addresses under its own random key, so which
// addresses share a set differs between workers and between runs.
func New(rate float64, burst, capacity, ipv6Prefix int) *Limiter {
	sets := 1
	for sets*ways < capacity {
		sets <<= 1
	}
	interval := int64(math.Round(float64(time.Second) / rate))
	if interval < 1 {
		interval = 1
	}
	tol := interval * int64(burst)
	if burst > 0 && tol/int64(burst) != interval { // overflow: no limit at all
		tol = math.MaxInt64 / 2
	}
	l := &Limiter{
		interval:  interval,
		tolerance: tol,
		mask:      uint64(sets - 1),
		table:     make([]entry, sets*ways),
	}
	l.k0, l.k1 = sipKey()
	l.v6hi, l.v6lo = prefixMask(ipv6Prefix)
	return l
}

// prefixMask returns the two words of the mask of an IPv6 prefix of n
// bits, n as New takes it.
func prefixMask(n int) (hi, lo uint64) {
	switch {
	case n <= 0:
		n = DefaultIPv6Prefix
	case n > 128:
		n = 128
	}
	if n < 64 {
		return ^uint64(0) << (64 - n), 0
	}
	return ^uint64(0), ^uint64(0) << (128 - n) // a shift by 64 is 0 in Go
}

// v4Mapped is the second word of an IPv4-mapped address (::ffff:a.b.c.d)
// with the IPv4 address zeroed; its first word is zero.
const v4Mapped = 0xffff << 32

// client returns the words that identify the client at address k: the
// whole address for IPv4 (v4-mapped), its prefix for IPv6.
func (l *Limiter) client(k *Key) (hi, lo uint64) {
	hi = binary.BigEndian.Uint64(k[:8])
	lo = binary.BigEndian.Uint64(k[8:])
	if hi == 0 && lo&^0xffffffff == v4Mapped {
		return hi, lo
	}
	return hi & l.v6hi, lo & l.v6lo
}

// Allow charges one request of client k at now (unix nanoseconds). It
// reports whether the request may proceed and, when not, how long until
// it would be allowed.
func (l *Limiter) Allow(k Key, now int64) (ok bool, wait time.Duration) {
	hi, lo := l.client(&k)
	h := sipHash13(l.k0, l.k1, hi, lo)
	a := l.table[(h&l.mask)*ways:][:ways]
	b := l.table[(h>>32&l.mask)*ways:][:ways]
	e := find(a, hi, lo)
	if e == nil {
		e = find(b, hi, lo)
	}
	if e == nil {
		// A new client, or one forgotten: a full bucket.
		e = place(a, b, now)
		e.hi, e.lo, e.tat = hi, lo, now
	}
	tat := max(e.tat, now)
	if over := tat - now - l.tolerance; over > 0 {
		return false, time.Duration(over)
	}
	e.tat = tat + l.interval
	return true, 0
}

// find returns the entry of client (hi, lo) in set s, or nil.
func find(s []entry, hi, lo uint64) *entry {
	for i := range s {
		if s[i].hi == hi && s[i].lo == lo {
			return &s[i]
		}
	}
	return nil
}

// place returns the way that a new client, whose sets are a and b, takes:
// in the set with fewer busy clients (the two-choice rule, which is what
// keeps the sets evenly loaded), the fullest bucket, idle if the set has
// an idle entry; when both sets are equally busy, the fuller of their
// fullest buckets.
func place(a, b []entry, now int64) *entry {
	ea, na := fullest(a, now)
	eb, nb := fullest(b, now)
	if nb < na || nb == na && eb.tat < ea.tat {
		return eb
	}
	return ea
}

// fullest returns the entry of set s with the lowest tat, that is the
// fullest bucket, and the number of busy entries in s (tat > now).
func fullest(s []entry, now int64) (e *entry, busy int) {
	e = &s[0]
	for i := range s {
		if s[i].tat > now {
			busy++
		}
		if s[i].tat < e.tat {
			e = &s[i]
		}
	}
	return e, busy
}

// RetryAfter returns the Retry-After header value for wait: whole
// seconds, rounded up, at least 1.
func RetryAfter(wait time.Duration) int64 {
	s := int64((wait + time.Second - 1) / time.Second)
	return max(s, 1)
}
