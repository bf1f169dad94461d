//go:build linux

package proxy

import (
	"net/netip"

	"github.com/nproxy/nproxy/http"
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
// A backend reads the header once per connection, so an upstream
// connection speaks for the client that opened it for as long as it
// lives, and serves no other (HAProxy's private connections): it never
// enters the backend's pool. When a response ends it is parked with the
// client's connection (http.AffineSlot), which the next request of that
// client connection takes it back from, and it closes when the client
// connection closes: a client that leaves leaves no upstream connection
// behind. One is parked per client connection (an HTTP/2 connection's
// concurrent streams open one each; the last to finish is kept); a
// request of the client connection that goes to another backend, or,
// behind real_ip_from, names another client, opens a new connection,
// which then takes the parked one's place.

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

// takeAffine takes back the connection parked with s's client
// connection when it goes to b and named the same client; nil otherwise
// (the parked one stays for a later request).
func takeAffine(b *backend, s *session) *upConn {
	if s.cl == nil {
		return nil
	}
	slot := s.cl.Affine()
	if slot == nil {
		return nil
	}
	u, _ := slot.Conn().(*upConn)
	switch {
	case u == nil:
		return nil
	case !u.parked:
		slot.Take() // closed while parked (by the backend, or idle too long)
		return nil
	case u.b != b || u.ppClient != s.ppClient:
		return nil
	}
	slot.Take()
	u.parked = false
	b.addIdle(-1)
	if u.rc == nil || !u.rc.Open() {
		u.close()
		return nil
	}
	return u
}

// park keeps u, idle, with the connection of s's client (whom its PROXY
// header named) until that client connection's next request or its end;
// u closes at once when the client connection is closing (no slot).
func park(u *upConn, s *session) {
	var slot *http.AffineSlot
	if s != nil && s.cl != nil {
		slot = s.cl.Affine()
	}
	if slot == nil {
		u.close()
		return
	}
	u.parked = true
	u.b.addIdle(1)
	u.rc.SetTimeout(upstreamIdleTimeout)
	u.startRecv() // notice the backend closing it
	slot.Park(u)
}

// CloseAffine closes a parked connection (http.AffineConn): its client
// connection closed, or a newer connection took its place. One that was
// closed while parked is closed already.
func (u *upConn) CloseAffine() {
	if u.parked {
		u.g.dropIdle(u)
	}
}
