//go:build linux

package server

import (
	"github.com/nproxy/nproxy/proxyproto"
)

// proxyHeader reads the PROXY protocol header that starts a connection to
// a proxy_protocol listener, before any TLS or HTTP byte, and returns the
// bytes after it (for the TLS engine or the HTTP parser). The header's
// source address becomes the connection's peer. A header that arrives in
// pieces is gathered in aux.proxyHdr (rare: a balancer writes it in one
// segment with, or before, the client's first bytes); a connection that
// does not start with a valid header is closed, as nginx closes it.
//
// data is the reactor's buffer: what is returned may be a slice of it,
// valid as long as data is, which is all the callers need.
func (c *conn) proxyHeader(data []byte) []byte {
	b := data
	if a := c.aux; a != nil && a.proxyHdr != nil {
		a.proxyHdr = append(a.proxyHdr, data...)
		b = a.proxyHdr
	}
	n, src, err := proxyproto.Parse(b)
	if err != nil {
		c.s.log.Debugf("server: %s: %v", c.g.addr, err)
		c.closeNow()
		return nil
	}
	if n == 0 {
		if len(b) > proxyproto.MaxHeader {
			c.closeNow()
			return nil
		}
		if a := c.getAux(); a.proxyHdr == nil {
			a.proxyHdr = append(make([]byte, 0, 256), data...)
		}
		return nil
	}
	c.awaitProxy = false
	if src.IsValid() {
		o := c.observed()
		o.peer, o.peerKnown = src, true
	}
	rest := b[n:]
	c.putAux() // rest may still point into its proxyHdr: the GC keeps it while needed
	return rest
}
