//go:build linux

package proxy

// Balancer chooses the backend for the next request among those that are
// up and not yet tried for this request. Implementations are one small
// type per policy; they run on the loop thread.
type Balancer interface {
	// Pick returns the chosen backend, or nil when none is eligible.
	// tried has bit b.index set for each backend b already tried
	// (backends may be part of the group's: its primaries or backups).
	Pick(backends []*backend, tried uint64, now int64) *backend
}

var (
	_ Balancer = (*roundRobin)(nil)
	_ Balancer = (*leastConn)(nil)
)

// eligible reports whether b may take a request now.
func eligible(b *backend, tried uint64, now int64) bool {
	return tried&(1<<uint(b.index)) == 0 && b.up(now)
}

// roundRobin is nginx's smooth weighted round-robin: each pick adds every
// eligible backend's weight to its current value, takes the largest and
// subtracts the total from it. Weights 5,1,1 give a a b a c a a, never a
// burst of the heavy backend.
type roundRobin struct{}

func (roundRobin) Pick(bs []*backend, tried uint64, now int64) *backend {
	var best *backend
	total := 0
	for _, b := range bs {
		if !eligible(b, tried, now) {
			continue
		}
		b.current += b.weight
		total += b.weight
		if best == nil || b.current > best.current {
			best = b
		}
	}
	if best != nil {
		best.current -= total
	}
	return best
}

// leastConn picks the backend with the fewest requests in flight relative
// to its weight (active/weight, compared without division), breaking ties
// round-robin so that idle backends share the load evenly. next is a
// position in the slice it is given: one leastConn per slice.
type leastConn struct{ next int }

func (lc *leastConn) Pick(bs []*backend, tried uint64, now int64) *backend {
	var best *backend
	n, at := len(bs), 0
	for k := 0; k < n; k++ {
		i := (lc.next + k) % n
		b := bs[i]
		if !eligible(b, tried, now) {
			continue
		}
		if best == nil || b.active*best.weight < best.active*b.weight {
			best, at = b, i
		}
	}
	if best != nil {
		lc.next = (at + 1) % n
	}
	return best
}
