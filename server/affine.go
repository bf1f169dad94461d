//go:build linux

package server

import "github.com/nproxy/nproxy/http"

// A client connection's affine slot (http.AffineSlot) is where the
// reverse proxy keeps, between two exchanges of the connection, the
// upstream connection that speaks for this client alone (its PROXY
// header named it: proxy_send_proxy_protocol). The slot is taken from
// the server's pool the first time a stream asks for it, so a connection
// that never proxies to such a backend carries only the pointer, and it
// is closed (with what is parked in it) and given back at teardown. An
// HTTP/1.1 connection keeps one upstream connection (it has one request
// at a time); an HTTP/2 connection has one slot for all its streams,
// which keeps as many as the client may run streams at once, up to
// http.AffineMax (see there why the bound).

// Affine returns the slot of the connection the stream took over
// (http.Client).
func (c *conn) Affine() *http.AffineSlot {
	if c.state != stTakeover {
		return nil
	}
	return c.affineSlot(1)
}

// Affine returns the slot of the stream's connection (http.Client).
func (p *h2proxy) Affine() *http.AffineSlot {
	if p.st == nil || p.ended {
		return nil
	}
	return p.h.c.affineSlot(p.h.hc.MaxStreams())
}

// affineSlot returns the connection's slot, taken from the pool the
// first time, keeping up to limit connections (http.AffineSlot.SetLimit:
// a pooled slot may come from a connection of the other protocol, and an
// h2c upgrade changes it); nil once the connection is closed.
func (c *conn) affineSlot(limit int) *http.AffineSlot {
	if c.state == stClosed {
		return nil
	}
	if c.affine == nil {
		s := c.s
		if n := len(s.affineFree); n > 0 {
			c.affine, s.affineFree = s.affineFree[n-1], s.affineFree[:n-1]
		} else {
			c.affine = new(http.AffineSlot)
		}
	}
	c.affine.SetLimit(limit)
	return c.affine
}

// closeAffine closes the upstream connection parked with the connection,
// if any, and gives the slot back (teardown).
func (c *conn) closeAffine() {
	a := c.affine
	if a == nil {
		return
	}
	c.affine = nil
	a.Close()
	c.s.affineFree = append(c.s.affineFree, a)
}
