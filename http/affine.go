//go:build linux

package http

// Affine upstream connections (HAProxy's private connections). An
// upstream connection that began with a PROXY protocol header naming a
// client (proxy_send_proxy_protocol) speaks for that client for as long
// as it lives, so no other client may use it. Such a connection is kept
// with its client connection rather than in a pool every client draws
// from: the step parks it in the client connection's AffineSlot when an
// exchange ends, takes it back for a later request of that client
// connection, and the client connection closes it when it closes.

// AffineMax bounds the upstream connections one client connection keeps
// parked (an AffineSlot's limit). An HTTP/2 connection's concurrent
// streams each need a connection of their own, so its slot keeps up to
// its SETTINGS_MAX_CONCURRENT_STREAMS of them, but no more than this:
// every parked connection is a descriptor held open on the backend for
// one client, and the streams limit (128 by default) is far above what
// a backend should keep for one client (HAProxy's max-session-srv-conns
// bounds the same list, lower still). A client running more concurrent
// streams than this opens the extra connections per burst and they
// close when their responses end.
const AffineMax = 16

// AffineConn is an upstream connection a step parks in an AffineSlot.
type AffineConn interface {
	// CloseAffine closes the connection: the client connection it was
	// parked with has closed, or the slot was full and it was the
	// oldest. It is out of the slot when called. On the loop thread.
	CloseAffine()
}

// AffineSlot holds the AffineConns parked with one client connection
// (Client.Affine), oldest first, at most its limit: 1 for an HTTP/1.1
// connection (one request at a time), up to AffineMax for an HTTP/2
// connection, whose streams share the slot. Its size is fixed so that
// parking never allocates; the server pools slots. Loop thread only.
type AffineSlot struct {
	conns [AffineMax]AffineConn
	n     uint8
	limit uint8 // 0 means 1
}

// SetLimit sets how many connections the slot keeps, clamped to
// [1, AffineMax]; when it holds more, the oldest are closed.
func (s *AffineSlot) SetLimit(n int) {
	n = min(max(n, 1), AffineMax)
	s.limit = uint8(n)
	for int(s.n) > n {
		s.TakeAt(0).CloseAffine()
	}
}

// Limit returns how many connections the slot keeps.
func (s *AffineSlot) Limit() int { return max(int(s.limit), 1) }

// Len returns the number of connections parked.
func (s *AffineSlot) Len() int { return int(s.n) }

// At returns the i-th connection parked (0 is the oldest), leaving it
// there.
func (s *AffineSlot) At(i int) AffineConn { return s.conns[:s.n][i] }

// TakeAt removes the i-th connection parked and returns it; the others
// keep their order.
func (s *AffineSlot) TakeAt(i int) AffineConn {
	c := s.conns[:s.n][i]
	copy(s.conns[i:s.n], s.conns[i+1:s.n])
	s.n--
	s.conns[s.n] = nil
	return c
}

// Remove takes c out of the slot without closing it (it closed while
// parked: the backend closed it, or it was idle too long); it reports
// whether c was there.
func (s *AffineSlot) Remove(c AffineConn) bool {
	for i, x := range s.conns[:s.n] {
		if x == c {
			s.TakeAt(i)
			return true
		}
	}
	return false
}

// Park puts c in the slot as its newest connection; a full slot closes
// its oldest first.
func (s *AffineSlot) Park(c AffineConn) {
	if int(s.n) >= s.Limit() {
		s.TakeAt(0).CloseAffine()
	}
	s.conns[s.n] = c
	s.n++
}

// Close closes every connection parked and empties the slot: the client
// connection closes.
func (s *AffineSlot) Close() {
	for s.n > 0 {
		s.TakeAt(int(s.n) - 1).CloseAffine()
	}
}
