// Package ratelimit is the per-client request rate limit of a [server]
// block (rate_limit, rate_burst): nginx's limit_req keyed by
// $binary_remote_addr, with 429 instead of nginx's default 503.
//
// # Algorithm
//
// Each client IP has a token bucket that holds Burst+1 requests and
// refills at Rate requests per second, kept in the equivalent "generic cell
// rate algorithm" form: one theoretical arrival time (tat) per client. A
// request at now is allowed when tat-now <= Burst*T (T = 1/Rate), and then
// moves tat to max(tat, now)+T. So Burst+1 requests may arrive at once,
// and after that one per T, exactly nginx's limit_req with burst=Burst
// and nodelay (nginx's excess is tat-now measured in requests).
//
// # Table
//
// The buckets live in a fixed table (Capacity entries, 24 bytes each,
// allocated once): set-associative, a client IP hashes to one set of
// eight ways. A client whose bucket has refilled completely (tat <= now)
// is indistinguishable from a new one, so its entry is free for reuse;
// when every way of a set is busy the least recently refilled one is
// evicted, which can only make the limit more lenient for that client,
// never block a client wrongly. The table never grows, whatever the
// number of clients, and a lookup allocates nothing.
//
// # Scope
//
// A Limiter belongs to one worker loop (no locks). With N worker processes
// a client whose connections land on several workers (SO_REUSEPORT spreads
// connections, not clients) can get up to N times the rate, as with nginx
// limit_req without a shared zone. A keep-alive connection stays on one
// worker, so a single connection sees the configured limit exactly.
package ratelimit

import (
	"math"
	"time"
)

// Key is a client's IP address in 16-byte form (IPv4 as v4-mapped IPv6),
// the same bytes as netip.Addr.As16.
type Key [16]byte

// ways is the associativity of the table: a lookup scans one set of ways
// entries (two cache lines of keys), and an eviction picks the oldest of
// them. Eight makes an unlucky eviction of a busy client rare without
// making the scan long.
const ways = 8

// DefaultCapacity is the number of client entries of a Limiter. nginx's
// documentation sizes a 1 MiB limit_req zone at about 16,000 states; this
// holds as many in 384 KiB per worker and limited [server] block.
const DefaultCapacity = 16384

type entry struct {
	key Key
	tat int64 // theoretical arrival time, unix ns; <= now means idle
}

// Limiter is the token-bucket table of one [server] block in one worker.
// It must be used from one goroutine (the worker's loop thread).
type Limiter struct {
	interval  int64 // T: nanoseconds per request
	tolerance int64 // Burst*T
	mask      uint64
	table     []entry
}

// New returns a limiter of rate requests per second with burst extra
// requests at once, for up to capacity clients (rounded up to a power of
// two, at least one set). rate must be > 0.
func New(rate float64, burst, capacity int) *Limiter {
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
	return &Limiter{
		interval:  interval,
		tolerance: tol,
		mask:      uint64(sets - 1),
		table:     make([]entry, sets*ways),
	}
}

// Allow charges one request of client k at now (unix nanoseconds). It
// reports whether the request may proceed and, when not, how long until
// it would be allowed.
func (l *Limiter) Allow(k Key, now int64) (ok bool, wait time.Duration) {
	set := l.table[(hash(k)&l.mask)*ways:][:ways]
	var e *entry
	oldest := 0
	for i := range set {
		if set[i].key == k {
			e = &set[i]
			break
		}
		if set[i].tat < set[oldest].tat {
			oldest = i
		}
	}
	if e == nil {
		// New client, or one forgotten: a full bucket. The oldest way is
		// idle if any is (tat <= now); else it is the busy client closest
		// to idle.
		e = &set[oldest]
		e.key, e.tat = k, now
	}
	tat := max(e.tat, now)
	if over := tat - now - l.tolerance; over > 0 {
		return false, time.Duration(over)
	}
	e.tat = tat + l.interval
	return true, 0
}

// hash mixes the 16 key bytes into a set index: the two words are
// multiplied by odd constants (splitmix64's) so that IPv4 keys, which
// differ only in the last four bytes, still spread over every set.
func hash(k Key) uint64 {
	a := le64(k[0:8])
	b := le64(k[8:16])
	h := (a*0x9E3779B97F4A7C15 ^ b) * 0xBF58476D1CE4E5B9
	return h ^ h>>31
}

func le64(b []byte) uint64 {
	_ = b[7]
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}

// RetryAfter returns the Retry-After header value for wait: whole
// seconds, rounded up, at least 1.
func RetryAfter(wait time.Duration) int64 {
	s := int64((wait + time.Second - 1) / time.Second)
	return max(s, 1)
}
