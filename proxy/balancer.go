//go:build linux

package proxy

// Balancer chooses the backend for the next request among those that are
// up and not yet tried for this request. Implementations are one small
// type per policy; they run on the loop thread.
type Balancer interface {
	// Pick returns the chosen backend, or nil when none is eligible.
	// tried has bit i set for backends[i] already tried.
	Pick(backends []*backend, tried uint64, now int64) *backend
}

var (
	_ Balancer = (*roundRobin)(nil)
	_ Balancer = (*leastConn)(nil)
)

// eligible reports whether backends[i] may take a request now.
func eligible(b *backend, i int, tried uint64, now int64) bool {
	return tried&(1<<uint(i)) == 0 && b.up(now)
}

// roundRobin is nginx's smooth weighted round-robin: each pick adds every
// eligible backend's weight to its current value, takes the largest and
// subtracts the total from it. Weights 5,1,1 give a a b a c a a, never a
// burst of the heavy backend.
type roundRobin struct{}

func (roundRobin) Pick(bs []*backend, tried uint64, now int64) *backend {
	var best *backend
	total := 0
	for i, b := range bs {
		if !eligible(b, i, tried, now) {
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
// round-robin so that idle backends share the load evenly.
type leastConn struct{ next int }

func (lc *leastConn) Pick(bs []*backend, tried uint64, now int64) *backend {
	var best *backend
	n := len(bs)
	for k := 0; k < n; k++ {
		i := (lc.next + k) % n
		b := bs[i]
		if !eligible(b, i, tried, now) {
			continue
		}
		if best == nil || b.active*best.weight < best.active*b.weight {
			best = b
		}
	}
	if best != nil {
		lc.next = (best.index + 1) % n
	}
	return best
}
