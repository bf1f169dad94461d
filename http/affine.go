//go:build linux

package http

// Affine upstream connections (HAProxy's private connections). An
// upstream connection that began with a PROXY protocol header naming a
// client (proxy_send_proxy_protocol) speaks for that client for as long
// as it lives, so no other client may use it. Such a connection is kept
// with its client connection rather than in a pool every client draws
// from: the step parks it in the client connection's AffineSlot when an
// exchange ends, takes it back for the next request of that client
// connection, and the client connection closes it when it closes.

// AffineConn is an upstream connection a step parks in an AffineSlot.
type AffineConn interface {
	// CloseAffine closes the connection: the client connection it was
	// parked with has closed, or another connection took its place in
	// the slot. On the loop thread.
	CloseAffine()
}

// AffineSlot holds at most one AffineConn for one client connection
// (Client.Affine); an HTTP/2 connection has one for all its streams, so
// of the upstream connections its concurrent streams opened, the last
// parked is kept and the others close. Loop thread only.
type AffineSlot struct {
	conn AffineConn
}

// Conn returns the connection parked in the slot, leaving it there; nil
// when the slot is empty.
func (s *AffineSlot) Conn() AffineConn { return s.conn }

// Take empties the slot and returns what it held (nil when empty).
func (s *AffineSlot) Take() AffineConn {
	c := s.conn
	s.conn = nil
	return c
}

// Park puts c in the slot, closing the connection it held before.
func (s *AffineSlot) Park(c AffineConn) {
	if old := s.conn; old != nil && old != c {
		old.CloseAffine()
	}
	s.conn = c
}

// Close closes the connection parked, if any, and empties the slot: the
// client connection closes.
func (s *AffineSlot) Close() {
	if c := s.Take(); c != nil {
		c.CloseAffine()
	}
}
