//go:build linux

package proxy

import (
	"net/netip"

	"github.com/nproxy/nproxy/proxyproto"
	"github.com/nproxy/nproxy/reactor"
)

// proxy_send_proxy_protocol = v1|v2 (HAProxy's send-proxy and
// send-proxy-v2): every new connection to a backend of the group starts
// with a PROXY protocol header naming the client of the request that
// opened it (its address, and the proxy's address the client connected
// to), written once, before the request (and before the TLS handshake
// to an https:// backend). Health probes send one naming no client
// (v1 UNKNOWN, v2 LOCAL), as HAProxy's checks do.
//
// A backend reads the header once per connection, so a pooled
// connection speaks for the client that opened it: nproxy reuses an
// idle connection only for requests of that same client (address and
// port, so in practice the same client connection), and opens a new one
// for any other. A backend never sees one client's requests under
// another's address; the pool then saves connections for keep-alive
// clients only.

// newPP gives u, a new connection for a request of client (to local),
// its PROXY header; an invalid client makes a header with no address
// (a health probe's).
func (g *Group) newPP(u *upConn, client, local netip.AddrPort) {
	if g.sendProxy == 0 {
		return
	}
	b := g.loop.GetBuf(reactor.SmallBuf)
	if g.sendProxy == 1 {
		b = proxyproto.AppendV1(b, client, local)
	} else {
		b = proxyproto.AppendV2(b, client, local)
	}
	u.pp, u.ppClient = b, client
}

// sendPP sends u's PROXY header on the new connection; it reports
// whether the connection may go on at once (the send is done), else
// OnSendDone goes on, or a failure was reported through connected.
func (u *upConn) sendPP() bool {
	done, err := u.rc.Send(u.pp)
	switch {
	case err != nil:
		u.freePP()
		u.connected(err)
		return false
	case !done:
		u.ppSending = true
		return false
	}
	u.freePP()
	return true
}

// freePP gives the header's buffer back (never while its send is in
// flight on an open connection).
func (u *upConn) freePP() {
	if u.pp != nil && !u.ppSending {
		u.g.loop.PutBuf(u.pp)
		u.pp = nil
	}
}

// takeIdleFor removes from b's pool and returns the most recent idle
// connection opened for client, or nil.
func takeIdleFor(b *backend, client netip.AddrPort) *upConn {
	for i := len(b.idle) - 1; i >= 0; i-- {
		if u := b.idle[i]; u.ppClient == client {
			copy(b.idle[i:], b.idle[i+1:])
			b.idle[len(b.idle)-1] = nil
			b.idle = b.idle[:len(b.idle)-1]
			return u
		}
	}
	return nil
}
