//go:build linux

package server

import (
	"bytes"
	"time"

	"github.com/nproxy/nproxy/http"
	"github.com/nproxy/nproxy/http2"
	"github.com/nproxy/nproxy/reactor"
)

// HTTP/2 on a client connection (http2 = on). A connection becomes an
// HTTP/2 one once, at its start: after a TLS handshake that negotiated
// "h2" by ALPN (tlsconn.go), or on a plain listener whose first bytes are
// the client preface (h2c with prior knowledge, sniffH2c). From then on
// the conn's input goes to an http2.Conn (which holds the protocol state)
// instead of the HTTP/1.1 parser, and what the http2.Conn produces goes
// out through the conn's transport (send: in the clear, or encrypted),
// one pooled buffer at a time. The conn's HTTP/1.1 states are not used:
// state stays stRead until the conn closes or lingers.
//
// Each stream is served through the block's routing chain like an
// HTTP/1.1 request (h2stream.go). A step that takes its exchange over
// (the reverse proxy, a streamed directory listing) gets the stream as
// its http.Client (h2proxy.go) and runs as it does on HTTP/1.1.
//
// Timers, one reactor timer per connection as for HTTP/1.1, set to the
// earliest of the connection's own and its taken-over streams'
// (SetTimeout): header_timeout until the first request, send_timeout
// while output is in flight or a stream answered by the server waits for
// the client's flow-control window, keepalive_timeout when no stream is
// open; a taken-over stream's step keeps its own timers (body_timeout,
// send_timeout, ...), so a slow upstream does not close the connection.
// The connection's own expiry closes it; a stream's tells its step.

// h2conn is the HTTP/2 side of one client connection.
type h2conn struct {
	c  *conn
	hc *http2.Conn

	// inflight is the output buffer handed to send and not done yet
	// (pooled); nil when nothing is in flight.
	inflight []byte
	// started: a request arrived (header_timeout no longer applies).
	started bool
	// paused: input is stopped because the output backs up.
	paused bool
	// spent: the connection served keepalive_requests streams; it ends
	// as a drain ends it (GOAWAY, the open streams finish).
	spent bool

	// bodies are the responses still being sent, by stream id: a body
	// that did not fit the flow-control windows at once (h2stream.go).
	bodies map[uint32]*h2body

	// serving is the stream OnRequest is serving; taking the h2proxy a
	// step hijacked it with during that Serve (nil otherwise).
	serving uint32
	taking  *h2proxy
	// proxies are the taken-over streams, by id (h2proxy.go); settling
	// lists those that recorded something for settleProxies.
	proxies  map[uint32]*h2proxy
	settling []*h2proxy
	retired  []*h2proxy         // ended, recycled by putProxies
	rh       *http.ResponseHead // scratch for a step's response head

	// ownDue is when the connection's own timer expires (loop
	// nanoseconds, 0: none); the reactor timer is set to the earliest of
	// it and the proxies' (nextDue).
	ownDue int64

	line  []byte // scratch: the access log's request line
	lines []byte // scratch: a response head's lines
}

// h2MaxPending is the output the http2.Conn may hold (response heads of
// streams answered while the client does not read) before the conn stops
// reading the client: the HTTP/2 form of the pipelining backpressure.
const h2MaxPending = reactor.LargeBuf

// offersH2c reports whether a plain address takes h2c with prior
// knowledge: only when every block on it has http2 on, since the preface
// arrives before any Host names a block.
func (g *addrGroup) offersH2c() bool {
	if g.tls != nil {
		return false
	}
	for _, vh := range g.vhosts {
		if !vh.cfg.HTTP2 {
			return false
		}
	}
	return true
}

// startH2 turns the conn into an HTTP/2 connection and sends the server's
// preface (SETTINGS). Called once, before any input reaches it.
func (c *conn) startH2() {
	h := &h2conn{c: c, bodies: make(map[uint32]*h2body), proxies: make(map[uint32]*h2proxy)}
	s := c.s
	h.hc = http2.NewConn(h, &http2.Config{Now: s.loop.Now})
	c.h2 = h
	c.h2cMaybe = false
	c.rc.SetTimeout(c.vh.cfg.HeaderTimeout)
	h.ownDue = s.loop.NowNano() + int64(c.vh.cfg.HeaderTimeout)
}

// sniffH2c looks at the first bytes of a plain connection offering h2c:
// the client preface makes it an HTTP/2 connection, anything else an
// HTTP/1.1 one. It reports whether it took data (false: process it as
// HTTP/1.1). A conn method, from recv.
func (c *conn) sniffH2c(data []byte) bool {
	b := data
	if len(c.in) > 0 {
		c.in = c.s.loop.AppendBuf(c.in, data)
		b = c.in
	}
	match, complete := http2.LooksLikePreface(b)
	switch {
	case !match:
		c.h2cMaybe = false
		if notHTTP1(b) {
			// Neither protocol the address speaks (a bad preface, RFC
			// 9113 §3.4): an HTTP/1.1 answer would mean nothing to it.
			c.closeNow()
			return true
		}
		if len(c.in) > 0 {
			// data is in c.in already: process it from there.
			c.process(nil)
			c.flush()
			return true
		}
		return false
	case !complete:
		if len(c.in) == 0 {
			c.in = c.s.loop.AppendBuf(nil, data)
		}
		return true
	}
	in := c.in
	c.in = nil
	c.startH2()
	c.h2Recv(b)
	if in != nil {
		c.s.loop.PutBuf(in)
	}
	return true
}

// notHTTP1 reports whether the first bytes of a connection hold a whole
// first line that cannot be an HTTP/1.x request line: it names no
// "HTTP/" version. On an address offering h2c such a client is closed
// without an answer, as an HTTP/2 server closes on a bad preface; a
// malformed HTTP/1.x request (an "HTTP/" version is there) is still
// answered 400, and a line that has not arrived whole is left to the
// HTTP/1.1 parser.
func notHTTP1(b []byte) bool {
	line, _, whole := bytes.Cut(b, []byte{'\n'})
	return whole && len(bytes.TrimSpace(line)) > 0 && !bytes.Contains(line, []byte(" HTTP/"))
}

// h2Recv feeds received plaintext to the http2.Conn (which serves the
// streams it completes) and sends what it answered.
func (c *conn) h2Recv(data []byte) {
	if c.state != stRead {
		return // lingering or closed
	}
	h := c.h2
	if err := h.hc.Feed(data); err != nil {
		c.s.log.Debugf("http2: %v", err)
	}
	if c.s.draining || h.spent {
		// A connection accepted or busy while the worker drains, or
		// one that served keepalive_requests streams: what the client
		// sent so far is served, then GOAWAY.
		h.hc.Shutdown()
	}
	c.h2Flush()
}

// h2Flush sends the http2.Conn's output, one pooled buffer per send,
// until it has nothing more or a send has to wait; then it closes a
// finished connection or arms the right timer.
func (c *conn) h2Flush() {
	h := c.h2
	l := c.s.loop
	h.settleProxies()
	for h.inflight == nil && c.state == stRead && c.rc.Open() {
		out := h.hc.Output(l.GetBuf(reactor.LargeBuf))
		if len(out) == 0 {
			l.PutBuf(out)
			if h.settleProxies() {
				continue // a step acted inside OnWritable
			}
			break
		}
		done, err := c.send(out)
		if err != nil {
			l.PutBuf(out)
			c.closeNow()
			return
		}
		if !done {
			h.inflight = out
			c.armSendTimeout()
			h.ownDue = l.NowNano() + int64(c.vh.cfg.SendTimeout)
			break
		}
		l.PutBuf(out)
		h.settleProxies()
	}
	if c.state != stRead {
		return
	}
	if h.inflight == nil && h.hc.Done() {
		if h.hc.Err() != nil || c.readClosed {
			c.closeNow()
		} else {
			c.linger() // after GOAWAY: the client's last bytes are read, never reset
		}
		return
	}
	switch {
	case h.inflight != nil && h.hc.Pending() >= h2MaxPending:
		if !h.paused {
			h.paused = true
			c.rc.StopRecv()
		}
	case h.paused:
		h.paused = false
		c.rc.StartRecv()
	}
	now := l.NowNano()
	switch {
	case h.inflight != nil:
		// armed by the send
	case h.hc.Streams() > len(h.proxies):
		h.ownDue = now + int64(c.vh.cfg.SendTimeout) // a window the client keeps closed
	case len(h.proxies) > 0:
		h.ownDue = 0 // the steps' timers watch their streams
	case h.started:
		h.ownDue = now + int64(c.vh.cfg.KeepaliveTimeout)
	}
	if due := h.nextDue(); due != 0 {
		c.rc.SetTimeout(time.Duration(max(due-now, 1)))
	} else {
		c.rc.SetTimeout(0)
	}
	if c.readClosed && h.inflight == nil {
		c.closeNow()
	}
}

// h2SendDone continues after a send that could not finish at once.
func (c *conn) h2SendDone(err error) {
	h := c.h2
	if h.inflight != nil {
		c.s.loop.PutBuf(h.inflight)
		h.inflight = nil
	}
	if err != nil {
		c.closeNow()
		return
	}
	c.h2Flush()
}

// h2ReadEnd handles the client's EOF or a read error: the connection
// ends (an HTTP/2 client that half-closes is done with it).
func (c *conn) h2ReadEnd(err error) {
	if c.state == stLinger && err == nil {
		c.closeNow()
		return
	}
	if err != nil || c.h2.inflight == nil {
		c.closeNow()
	}
	// Else the send in flight finishes, then h2Flush closes.
}

// h2Timeout handles the connection's timer: send_timeout is started again
// while the client keeps acknowledging; every other timer closes.
func (c *conn) h2Timeout() {
	h := c.h2
	if c.state == stRead {
		now := c.s.loop.NowNano()
		h.proxyTimers(now)
		if sd := h.hc.ShutdownDue(); !sd.IsZero() && now >= sd.UnixNano() {
			// The drain's PING went unanswered: the final GOAWAY now
			// (the loop's clock is the Conn's, Config.Now).
			h.hc.Expire()
			c.h2Flush()
			return
		}
		switch {
		case h.ownDue == 0 || now < h.ownDue:
			c.h2Flush() // a stream's timer: the steps acted; re-arm
			return
		case h.inflight != nil && c.sendMoved():
			c.armSendTimeout()
			h.ownDue = now + int64(c.vh.cfg.SendTimeout)
			c.h2Flush()
			return
		}
	}
	c.closeNow()
}

// h2Drain starts the graceful close of an HTTP/2 connection when the
// worker drains: GOAWAY(2^31-1) and a PING, the final GOAWAY once the
// PING's ACK arrives or at its bound (http2.Conn.Shutdown; h2Timeout
// fires at ShutdownDue through nextDue), open streams finish, then the
// connection ends.
func (c *conn) h2Drain() {
	if c.state != stRead {
		return
	}
	c.enter()
	c.h2.hc.Shutdown()
	c.h2Flush()
	c.leave()
}

// releaseH2 drops the HTTP/2 state (teardown): every stream still being
// answered is reset, which gives its body's resources back.
func (c *conn) releaseH2() {
	h := c.h2
	if h == nil {
		return
	}
	c.h2 = nil
	h.hc.Close()
	if h.inflight != nil {
		c.s.loop.PutBuf(h.inflight)
		h.inflight = nil
	}
	for id, b := range h.bodies {
		h.dropBody(id, b)
	}
	for _, p := range h.proxies {
		h.proxyReset(p) // hc.Close reported the open ones; these had ended there
	}
	h.settling = nil
	h.putProxies()
}
