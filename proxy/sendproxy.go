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
// client's connection (http.AffineSlot), which a later request of that
// client connection takes it back from, and it closes when the client
// connection closes: a client that leaves leaves no upstream connection
// behind. An HTTP/1.1 client connection keeps one. An HTTP/2 one keeps
// up to its concurrent streams limit, bounded by http.AffineMax: its
// concurrent streams open a connection each, and the next burst of
// streams takes them back (the most recently parked first, so that when
// fewer streams run the oldest idle out). A request that goes to
// another backend, or, behind real_ip_from, names another client, opens
// a new connection; parked in a full slot, it takes the oldest one's
// place. A parked connection that the backend closes, or that stays
// idle upstreamIdleTimeout, leaves the slot at once.

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

// takeAffine takes back the connection parked most recently with s's
// client connection that goes to b and named the same client; nil when
// there is none (the others stay for later requests).
func takeAffine(b *backend, s *session) *upConn {
	if s.cl == nil {
		return nil
	}
	slot := s.cl.Affine()
	if slot == nil {
		return nil
	}
	for i := slot.Len() - 1; i >= 0; i-- {
		u, _ := slot.At(i).(*upConn)
		if u == nil || u.b != b || u.ppClient != s.ppClient {
			continue
		}
		slot.TakeAt(i)
		u.slot, u.parked = nil, false
		b.addIdle(-1)
		if u.rc == nil || !u.rc.Open() {
			u.close()
			continue
		}
		return u
	}
	return nil
}

// park keeps u, idle, with the connection of s's client (whom its PROXY
// header named) until a later request of that client connection or its
// end; u closes at once when the client connection is closing (no slot).
func park(u *upConn, s *session) {
	var slot *http.AffineSlot
	if s != nil && s.cl != nil {
		slot = s.cl.Affine()
	}
	if slot == nil {
		u.close()
		return
	}
	u.parked, u.slot = true, slot
	u.b.addIdle(1)
	u.rc.SetTimeout(upstreamIdleTimeout)
	u.startRecv() // notice the backend closing it
	slot.Park(u)
}

// unpark takes u, closing while parked, out of its slot (dropIdle).
func (u *upConn) unpark() {
	if u.slot != nil {
		u.slot.Remove(u)
		u.slot = nil
	}
	u.parked = false
	u.b.addIdle(-1)
}

// CloseAffine closes a parked connection (http.AffineConn), out of its
// slot already: its client connection closed, or it was the oldest of a
// full slot.
func (u *upConn) CloseAffine() {
	u.slot = nil
	if u.parked {
		u.g.dropIdle(u)
	}
}
