//go:build linux

package server

import (
	"errors"
	"time"

	"github.com/nproxy/nproxy/http"
	"github.com/nproxy/nproxy/metrics"
	"github.com/nproxy/nproxy/reactor"
)

// connState is where a client connection is in the request cycle. The
// states of the architecture's diagram map onto it: READING_REQUEST is
// stRead, WRITING_RESPONSE and SENDFILE are stRead with a send in flight
// (responses are queued in order, so pipelined requests keep being read),
// PROXYING and TUNNEL are stTakeover.
//
// Transitions:
//
//	stRead     -> stBody      a request answered before its body: discard it
//	stBody     -> stRead      the discarded body ended
//	stRead     -> stTakeover  a step hijacked the connection (Hijack)
//	stTakeover -> stRead      the stream's Release was applied (settle)
//	any        -> stLinger    last response sent with input still coming
//	any        -> stClosed    closeNow; terminal
//
// stClosed is entered at once, but the conn is torn down (buffers given
// back, struct zeroed and recycled, socket closed) only when no conn
// method is on the stack (depth 0): a caller up the stack that still
// looks at the conn sees stClosed, never a zeroed or reused struct.
type connState uint8

const (
	stRead     connState = iota // reading request heads (idle when nothing is buffered)
	stBody                      // discarding the body of a request already answered
	stLinger                    // closing: output shut down, input discarded until EOF
	stTakeover                  // a streaming step (proxy, tunnel) owns the connection
	stClosed                    // closed; torn down once depth is 0
)

// streamWant is what the stream asked of the connection through Release
// or Abort, applied by settle once the stream's call has returned.
type streamWant uint8

const (
	wantNothing streamWant = iota
	wantKeep               // Release(true)
	wantClose              // Release(false)
	wantAbort              // Abort
)

// lingerTimeout bounds how long a closing connection waits for the
// client's FIN while discarding its input (nginx's lingering_timeout).
const lingerTimeout = 5 * time.Second

// flushAt is the output size at which pipelined requests stop being
// processed until what is queued has been sent.
const flushAt = reactor.SmallBuf / 2

// conn is the HTTP state of one client connection. An idle keep-alive
// connection holds no buffer: in, out and req are taken when there is work
// and given back when it is done. It holds no state of the phases most
// connections never enter either: a stream's hold on it (tk), a request
// body being dropped and a PROXY header that came in pieces (aux) are
// taken from the server's pools when they begin and given back when they
// end. What stays is what every request uses; the struct is kept within
// the allocator's 176-byte size class (TestConnAllocSize): every byte of it is
// memory per idle connection, times tens of thousands of connections.
//
// Re-entrancy rule: every entry from outside (the reactor's callbacks, the
// loop's deferred run) goes through enter/leave; closeNow inside them only
// marks the conn stClosed, and the outermost leave tears it down. The
// stream attached in stTakeover never changes the conn's state from inside
// a call: its Release, Abort and ResumeRecv are recorded (want, feed) and
// applied by settle after the Stream call returns, or from the loop's
// deferred run when the stream acted on an event of its own.
type conn struct {
	s  *Server
	rc *reactor.Conn
	g  *addrGroup
	vh *vhost

	in   []byte   // received, not yet processed (pooled; owned by the conn)
	out  []byte   // responses queued or in flight (pooled)
	ps   *parsing // the request whose head is being parsed (pooled)
	body *pending // the last response's body when it is not in out (pooled)

	tls  *tlsConn  // the TLS side (tlsconn.go); nil for a plain or kernel-TLS connection
	h2   *h2conn   // the HTTP/2 side (h2conn.go); nil for HTTP/1.1
	obsv *observed // access log and metrics (observe.go); nil when unused
	tk   *takeover // the stream that took the connection over (stTakeover; pooled)
	aux  *connAux  // a body being dropped (stBody) or a PROXY header in pieces (pooled)

	affine *http.AffineSlot // the proxy's upstream connection for this client alone (affine.go); nil until asked for

	acked uint64 // bytes the client had acknowledged when send_timeout was armed
	// routeSendMs is the send_timeout, in milliseconds rounded up (the
	// timing wheel's ticks are coarser), of the route that answered the
	// last request queued (a [location]'s may differ from its
	// [server]'s; pipelined answers batched in one send take the last
	// one's); 0 means the [server]'s (sendTimeout). 32 bits hold the
	// bound of 24h, and leave room for requests in the size class.
	routeSendMs uint32
	requests    uint32 // requests (HTTP/2: streams) served, for keepalive_requests

	seq       uint32 // bumped at teardown: deferred references to an older use are stale
	state     connState
	depth     uint8 // conn entries on the stack (enter/leave)
	inProcess bool  // inside process: a Release is applied there, not by flush

	sending     bool // the conn's own output is in flight
	sendingOut  bool // out is in flight (else the body is, when sending)
	closeAfter  bool // close once everything queued is sent
	lingerAfter bool
	readClosed  bool
	posted      bool // waiting in the server's deferred list

	// awaitProxy: the connection came to a proxy_protocol listener and
	// its PROXY header is not read yet (proxyproto.go).
	awaitProxy bool
	h2cMaybe   bool // a plain http2 address: the first bytes may be the h2c preface
	// sniPinned: the TLS handshake's SNI chose the block vh, and every
	// request stays on it (exchangeFor).
	sniPinned bool
}

// takeover is the state of a stream that took an HTTP/1.1 connection over
// (Hijack): taken from the server's pool then, and given back when the
// stream is detached (or at teardown, when it left a buffer in flight).
type takeover struct {
	stream        http.Stream
	streamQueued  []byte      // a stream Send waiting for the conn's own output
	streamBuf     []byte      // the stream's buffer of the Send in flight
	orphan        []byte      // a stream buffer in flight at Abort: ours, put at teardown
	mods          *moduleHold // the modules of the exchange the stream took (modulelog.go)
	streamSending bool        // a Send or SpliceFrom of the stream is in flight
	want          streamWant  // Release/Abort recorded, applied by settle
	feed          bool        // the stream wants ClientData
	eofTold       bool        // the stream was told of the client's EOF
}

// connAux holds what a connection needs in two uncommon phases, never at
// once: before the first request, the part of a PROXY protocol header
// that arrived (proxyproto.go), when it came in pieces; after a request
// answered before its body, the dropping of that body (body.go). Taken
// from the server's pool when either begins, given back when it ends.
type connAux struct {
	proxyHdr []byte
	// The body being dropped: Content-Length bytes still to drop, or the
	// chunked decoder when chunked; the route's body_timeout (0: the
	// [server]'s).
	discard     int64
	chunked     bool
	chunk       http.ChunkedDecoder
	bodyTimeout time.Duration
}

// parsing is a request head being parsed: taken from the server's pool when
// a request starts and given back once it is answered, so that an idle
// connection carries neither the 1 KiB header table nor the parser.
type parsing struct {
	req http.Request
	p   http.Parser
	// start is when the first byte of the head was taken (loop clock,
	// Unix ns), for the request's duration.
	start int64
}

// pending is a response body sent after the head: a file region
// (sendfile) or bytes too big to copy into out.
type pending struct {
	kind http.BodyKind
	fd   int
	off  int64
	n    int64
	ref  []byte
	rel  http.Releaser
}

func (s *Server) accept(rc *reactor.Conn, g *addrGroup) error {
	var c *conn
	if n := len(s.connFree); n > 0 {
		c = s.connFree[n-1]
		s.connFree = s.connFree[:n-1]
	} else {
		c = new(conn)
	}
	*c = conn{s: s, rc: rc, g: g, vh: g.vhosts[0], seq: c.seq}
	rc.H, rc.Ctx = c, c
	c.awaitProxy = g.proxyProto
	c.h2cMaybe = g.offersH2c()
	if g.tls != nil {
		c.startTLS()
	}
	s.connOpened()
	rc.SetTimeout(c.vh.cfg.HeaderTimeout)
	rc.StartRecv()
	return nil
}

// idle reports whether the connection waits for a new request with
// nothing buffered and nothing to send.
func (c *conn) idle() bool {
	return c.state == stRead && c.ps == nil && len(c.in) == 0 && !c.sending && len(c.out) == 0 &&
		(c.tls == nil || c.tls.ready && !c.tls.out.Sending()) // a handshake is work in progress
}

// enter and leave bracket every entry into the conn from outside; the
// outermost leave tears down a conn that closed meanwhile.
func (c *conn) enter() { c.depth++ }

func (c *conn) leave() {
	c.depth--
	if c.depth == 0 && c.state == stClosed {
		c.teardown()
	}
}

// OnRecv takes input: processed at once when nothing is being sent,
// buffered otherwise (responses must leave in request order).
func (c *conn) OnRecv(rc *reactor.Conn, data []byte) {
	c.enter()
	if c.awaitProxy {
		if data = c.proxyHeader(data); len(data) == 0 {
			c.leave()
			return
		}
	}
	if c.tls != nil {
		c.tlsInput(data)
	} else {
		c.recv(data)
	}
	c.leave()
}

func (c *conn) recv(data []byte) {
	switch {
	case c.h2 != nil:
		c.h2Recv(data)
		return
	case c.state == stLinger || c.state == stClosed:
		return
	case c.state == stTakeover:
		tk := c.tk
		if !tk.feed || len(c.in) > 0 || tk.stream == nil {
			c.in = c.s.loop.AppendBuf(c.in, data)
			if !tk.feed || len(c.in) >= reactor.LargeBuf {
				c.rc.StopRecv()
			}
		} else if n := tk.stream.ClientData(data); n < len(data) {
			c.in = c.s.loop.AppendBuf(c.in, data[n:])
			tk.feed = false
			c.rc.StopRecv()
		}
		c.settle()
		return
	case c.sending || c.closeAfter:
		if c.closeAfter {
			return // nothing after a closing request is answered
		}
		c.in = c.s.loop.AppendBuf(c.in, data)
		if len(c.in) >= reactor.LargeBuf {
			c.rc.StopRecv() // pipelining faster than we send: push back
		}
		return
	}
	if c.h2cMaybe && c.sniffH2c(data) {
		return
	}
	c.process(data)
	c.flush()
}

// process parses and answers every complete request in c.in followed by
// data, queueing the responses in c.out. It owns c.in while it runs: no
// stream call can touch it (streams get bytes only through ClientData).
func (c *conn) process(data []byte) {
	c.inProcess = true
	defer func() { c.inProcess = false }()
	src := data
	fromIn := len(c.in) > 0
	if fromIn {
		c.in = c.s.loop.AppendBuf(c.in, data)
		src = c.in
	}
	pos := 0
	for pos < len(src) {
		if c.state == stBody {
			n, err := c.discardBody(src[pos:])
			pos += n
			if err != nil {
				// Bad framing of a body being discarded: the answer
				// already queued still goes out, then the connection
				// closes (nothing after it can be trusted).
				c.state, c.closeAfter, c.lingerAfter = stLinger, true, true
				break
			}
			if c.state == stBody {
				break
			}
			continue
		}
		if c.state != stRead || c.closeAfter || c.body != nil || len(c.out) >= flushAt {
			break
		}
		fresh := c.ps == nil
		if fresh {
			c.ps = c.s.getParsing()
			c.ps.start = c.s.loop.NowNano()
		}
		done, err := c.ps.p.Parse(src[pos:], &c.ps.req)
		if err != nil {
			c.fail(err, src[pos:])
			pos = len(src)
			break
		}
		if !done {
			// header_timeout runs from the first byte of a head that
			// did not arrive whole (a complete one needs no timer).
			if fresh {
				c.rc.SetTimeout(c.vh.cfg.HeaderTimeout)
			}
			break
		}
		n := c.ps.req.HeadLen
		c.serve(src[pos : pos+n])
		if c.ps != nil {
			c.s.putParsing(c.ps)
			c.ps = nil
		}
		pos += n
		if c.state == stTakeover && pos < len(src) && c.tk.want == wantNothing {
			// The body (or tunnel data) that came with the head.
			k := c.tk.stream.ClientData(src[pos:])
			pos += k
			if pos < len(src) {
				c.tk.feed = false
				c.rc.StopRecv()
			}
		}
		if c.state == stTakeover && pos == len(src) && c.tk.want == wantNothing && c.tk.feed && !c.readClosed {
			// The stream wants input and the conn holds none: read.
			// A takeover started from c.in (a pipelined request, parsed
			// after the previous stream's Release) finds receiving
			// stopped, by that stream's takeover or by flush's push
			// back; nothing else restarts it, since a ResumeRecv made
			// during Serve only posts (c.in is not empty yet), and the
			// client's EOF would then wait for body_timeout.
			c.rc.StartRecv()
		}
		c.applyWant()
		if c.state == stClosed || c.state == stTakeover {
			break
		}
	}
	rest := src[pos:]
	if c.state == stLinger || c.state == stClosed {
		rest = nil
	}
	if fromIn {
		n := copy(c.in, rest)
		c.in = c.in[:n]
		if n == 0 {
			c.s.loop.PutBuf(c.in)
			c.in = nil
		}
	} else if len(rest) > 0 {
		c.in = c.s.loop.AppendBuf(nil, rest)
	}
}

// serve answers one complete request head (buf holds it) by queueing the
// response.
func (c *conn) serve(buf []byte) {
	s := c.s
	req := &c.ps.req
	x, misdirected := c.exchangeFor(req, buf)
	vh := c.vh

	if s.draining {
		// A draining server ends a keep-alive connection with the
		// response to its next request (drain.go): every step, the
		// proxy included, answers as if the client had asked to close.
		req.KeepAlive = false
	}
	if c.requests++; vh.cfg.KeepaliveRequests > 0 && c.requests >= uint32(vh.cfg.KeepaliveRequests) {
		// keepalive_requests: this one's response closes the
		// connection, the proxy's included, as a drain's does.
		req.KeepAlive = false
	}
	closeConn := !req.KeepAlive || vh.cfg.KeepaliveTimeout <= 0
	switch c.route(x, misdirected) {
	case routeBadPath:
		closeConn = true
	case routeChain:
		if c.state == stTakeover && (c.tk.want == wantKeep || c.tk.want == wantClose) {
			// The stream gave the connection back within Serve (it
			// answered in x.Resp, the ordinary way).
			if c.tk.want == wantClose {
				closeConn = true
			}
			c.tk.want = wantNothing
			c.detachStream()
			c.state = stRead
		}
		if c.state == stTakeover {
			s.hdr = x.Resp.Header[:0]
			return
		}
	}
	c.routeSendMs = uint32((x.Resp.SendTimeout + time.Millisecond - 1) / time.Millisecond)
	if x.Resp.Status == http.StatusNoResponse {
		c.drop(x, req)
		return
	}
	if req.HasBody() && !c.lingerAfter {
		c.skipBody(req, closeConn || x.Resp.Close, x.Resp.BodyTimeout)
	}
	c.queue(&x.Resp, req.Method == http.MethodHead, closeConn, req.Minor == 0 && !closeConn)
	// The request as the modules left it (x.Req, x.Buf: their copy when
	// they changed it), as a streamed exchange's is logged: a module's
	// header is the access log's $http_NAME.
	c.observe(x.Req, x.Buf, &x.Resp, req.Method == http.MethodHead)
	s.hdr = x.Resp.Header[:0]
	x.Resp.Body, x.Resp.Release = nil, nil
}

// exchangeFor prepares the loop's Exchange for req (buf holds it), for an
// HTTP/1.1 request or an HTTP/2 stream alike: the [server] block by Host,
// held to the block the TLS handshake's SNI chose (a Host that another
// block names was meant for a different certificate: misdirected, RFC 9110
// §15.5.20; a Host no block names is served by the SNI's block), and the
// per-request fields.
func (c *conn) exchangeFor(req *http.Request, buf []byte) (x *http.Exchange, misdirected bool) {
	s := c.s
	vh, named := c.g.pickVhost(req.Host.Bytes(buf))
	if c.sniPinned && vh != c.vh {
		misdirected = named
		vh = c.vh
	}
	c.vh = vh
	x = &s.x
	x.Req, x.Buf, x.TLS = req, buf, c.g.tls != nil
	x.Now = s.loop.Now()
	x.Date = s.date.Get(x.Now)
	x.Resp.Reset(s.hdr)
	x.Resp.NoServer = !vh.cfg.ServerTokens
	s.route, s.handler, s.reqIDSet = nil, metrics.HandlerLocal, false
	x.Cause = http.CauseNone
	s.served++
	return x, misdirected
}

// routeResult is how route answered an exchange.
type routeResult uint8

const (
	routeMisdirected routeResult = iota // 421 in x.Resp
	routeBadPath                        // 400 in x.Resp: the path does not normalize
	routeChain                          // the chain ran: a step answered (or took the request over), else 404 is in x.Resp
)

// route answers x for the conn's block: 421 when misdirected, 400 for a
// path that does not normalize, else the first step of the chain that
// answers (404 when none does; a step that takes the request over
// answers true).
func (c *conn) route(x *http.Exchange, misdirected bool) routeResult {
	// No path until this request's normalizes: x.Path would otherwise
	// still be the previous exchange's (another client's), in s.pathBuf
	// under what a failed normalization wrote over it, and the access
	// log's $uri would show it.
	x.Path, x.Rewritten = nil, false
	if misdirected {
		x.Resp.Error(421)
		return routeMisdirected
	}
	s := c.s
	p, err := normalizePath(s.pathBuf, x.Req.Path.Bytes(x.Buf))
	s.pathBuf = p[:0]
	if err != nil {
		x.Resp.Error(400)
		return routeBadPath
	}
	x.Path, x.Rewritten = p, false
	x.Takeover = c
	answered := false
	for _, step := range c.vh.chain {
		if step.Serve(x) {
			answered = true
			break
		}
	}
	x.Takeover = nil
	if !answered {
		x.Resp.Error(404)
	}
	return routeChain
}

// queue appends the response's head (and a body that fits) to c.out and
// keeps a larger body for after it.
func (c *conn) queue(r *http.Response, head, closeConn, keepAlive10 bool) {
	if r.Close {
		closeConn = true
	}
	if c.out == nil {
		c.out = c.s.loop.GetBuf(reactor.SmallBuf)
	}
	n := len(c.out)
	c.out = http.AppendHead(c.out, r, c.s.x.Date, closeConn, keepAlive10)
	c.s.headLen = len(c.out) - n
	keep := false
	if !head && r.Status >= 200 && r.Status != 204 && r.Status != 304 {
		switch r.Kind {
		case http.BodyBytes:
			if len(c.out)+len(r.Body) <= cap(c.out) {
				c.out = append(c.out, r.Body...)
			} else {
				c.body = c.s.getPending()
				c.body.kind, c.body.ref, keep = http.BodyBytes, r.Body, true
			}
		case http.BodyFile:
			c.body = c.s.getPending()
			b := c.body
			b.kind, b.fd, b.off, b.n, keep = http.BodyFile, r.File, r.FileOff, r.FileLen, true
		}
	}
	if keep {
		c.body.rel = r.Release
	} else if r.Release != nil {
		r.Release.Release()
	}
	if closeConn {
		c.closeAfter = true
	}
}

// drop ends the connection without answering req (return = 444, as
// nginx's): what earlier requests queued still goes out, nothing is
// queued for this one, and the connection then closes as after a
// Connection: close (lingering when the client may still be sending).
// The access log records 444 with no bytes.
func (c *conn) drop(x *http.Exchange, req *http.Request) {
	r := &x.Resp
	if r.Release != nil {
		r.Release.Release()
	}
	r.Body, r.Release, r.Kind = nil, nil, http.BodyNone
	c.s.headLen = 0
	c.closeAfter = true
	if req.HasBody() {
		c.lingerAfter = true // its body is not read: linger, never reset
	}
	c.observe(x.Req, x.Buf, r, true)
	c.s.hdr = r.Header[:0]
}

// fail answers a request the parser refused and closes the connection
// after the answer; buf holds the head so far.
func (c *conn) fail(err error, buf []byte) {
	status := 400
	var he *http.Error
	if errors.As(err, &he) {
		status = he.Status
	}
	x := &c.s.x
	x.Now = c.s.loop.Now()
	x.Date = c.s.date.Get(x.Now)
	x.Resp.Reset(c.s.hdr)
	x.Resp.NoServer = !c.vh.cfg.ServerTokens
	x.Resp.Error(status)
	c.s.route, c.s.handler, c.s.reqIDSet = nil, metrics.HandlerLocal, false
	x.Cause = http.CauseNone
	c.routeSendMs = 0
	c.lingerAfter = true
	c.queue(&x.Resp, false, true, false)
	// A head refused in its fields is logged with its request line
	// ($request, $request_uri, $request_method...), as nginx logs it; its
	// path was never normalized, so $uri stays empty (x.Path would be the
	// previous exchange's).
	var req *http.Request
	if c.ps != nil && c.ps.p.LineParsed() {
		req = &c.ps.req
	}
	x.Path, x.Rewritten = nil, false
	c.observe(req, buf, &x.Resp, false)
	if c.ps != nil {
		c.s.putParsing(c.ps)
		c.ps = nil
	}
}

// flush sends what is queued, one write per batch, then either goes back
// to reading (keep-alive) or closes.
func (c *conn) flush() {
	for {
		if c.sending || c.state == stClosed || !c.rc.Open() {
			return
		}
		if len(c.out) > 0 && c.body != nil && c.body.kind == http.BodyFile {
			// The head goes out with the file's first segments.
			n := c.sendHead(c.out)
			c.out = c.out[:copy(c.out, c.out[n:])]
		}
		// send_timeout is armed only for a send that has to wait: one
		// that finishes at once needs no timer.
		if len(c.out) > 0 {
			done, err := c.send(c.out)
			if err != nil {
				c.closeNow()
				return
			}
			if !done {
				c.armSendTimeout()
				c.sending, c.sendingOut = true, true
				return
			}
			c.out = c.out[:0]
		}
		if b := c.body; b != nil {
			var done bool
			var err error
			if b.kind == http.BodyFile {
				done, err = c.sendFile(b.fd, b.off, b.n)
			} else {
				done, err = c.send(b.ref)
			}
			if err != nil {
				c.closeNow()
				return
			}
			if !done {
				c.armSendTimeout()
				c.sending, c.sendingOut = true, false
				return
			}
			c.releaseBody()
		}
		// Everything queued is out.
		if c.out != nil {
			c.s.loop.PutBuf(c.out)
			c.out = nil
		}
		if c.state == stTakeover {
			// Responses queued before the takeover are out: the
			// stream's first send may have waited for them.
			c.sendQueued()
			return
		}
		if c.closeAfter {
			c.finish()
			return
		}
		if len(c.in) == 0 {
			break
		}
		// Pipelined requests wait in c.in.
		c.process(nil)
		if c.state == stClosed {
			return
		}
		if len(c.out) == 0 && c.body == nil && !c.closeAfter {
			break
		}
	}
	c.waitRequest()
}

// waitRequest arms the right timer for a connection with nothing to send.
func (c *conn) waitRequest() {
	switch c.state {
	case stTakeover, stClosed, stLinger:
		return // the stream owns the connection's input and timer
	case stBody:
		c.rc.SetTimeout(c.bodyTimeout())
	default:
		if c.ps != nil || len(c.in) > 0 {
			break // a partial head keeps the timer it got at its first byte
		}
		if c.s.draining {
			// An idle connection of a draining server gets the
			// drain's grace, then ends by lingering (drain.go).
			c.rc.SetTimeout(c.drainGrace())
		} else {
			c.rc.SetTimeout(c.vh.cfg.KeepaliveTimeout)
		}
	}
	if c.readClosed {
		c.closeNow()
		return
	}
	c.rc.StartRecv()
}

func (c *conn) releaseBody() {
	b := c.body
	if b == nil {
		return
	}
	if b.rel != nil {
		b.rel.Release()
	}
	*b = pending{}
	c.s.pendFree = append(c.s.pendFree, b)
	c.body = nil
}

// finish ends a connection whose last response is sent: at once when the
// client has nothing more in flight, else by lingering (shut down output,
// drop input until EOF), so that unread input does not make the kernel
// reset the connection before the client has read the response.
//
// A draining server always lingers: the client may have sent its next
// request before it read the Connection: close (drain.go).
func (c *conn) finish() {
	if c.readClosed || (!c.lingerAfter && !c.s.draining && c.state != stBody && len(c.in) == 0) {
		c.closeNow()
		return
	}
	c.linger()
}

// OnSendDone continues after a send that could not finish at once.
func (c *conn) OnSendDone(rc *reactor.Conn, err error) {
	c.enter()
	if c.tls == nil {
		c.sendDone(err)
	} else if mine, err := c.tlsSendDone(err); mine {
		c.sendDone(err)
	}
	c.leave()
}

func (c *conn) sendDone(err error) {
	if c.state == stClosed {
		return
	}
	if c.h2 != nil {
		c.h2SendDone(err)
		return
	}
	if tk := c.tk; tk != nil && tk.streamSending && !c.sending {
		tk.streamSending, tk.streamBuf = false, nil
		if tk.stream != nil { // nil: the stream released the conn meanwhile
			tk.stream.ClientSent(err)
		}
		c.settle()
		return
	}
	c.sending = false
	if err != nil {
		c.closeNow()
		return
	}
	if c.sendingOut {
		c.out = c.out[:0]
	} else {
		c.releaseBody()
	}
	c.flush()
}

// OnReadClosed handles the client's EOF: answered requests are still sent
// (a client may half-close after its last request).
func (c *conn) OnReadClosed(rc *reactor.Conn, err error) {
	c.enter()
	c.readEnd(err)
	c.leave()
}

func (c *conn) readEnd(err error) {
	c.readClosed = true
	switch {
	case c.state == stClosed:
		return
	case c.h2 != nil:
		c.h2ReadEnd(err)
		return
	case c.state == stTakeover:
		if tk := c.tk; tk.stream != nil && (err != nil || len(c.in) == 0) {
			// Bytes still held are offered first (settle), then the EOF.
			tk.eofTold = true
			tk.stream.ClientClosed(err)
		}
		c.settle()
		return
	}
	if err != nil || c.state == stLinger || c.idle() || (c.ps != nil && !c.sending) {
		c.closeNow()
		return
	}
	c.closeAfter = true
	if !c.sending {
		c.flush()
	}
}

// OnConnect is unused: client connections are accepted, not dialed.
func (c *conn) OnConnect(rc *reactor.Conn, err error) {}

// OnTimeout closes the connection: a header, body, send, keep-alive or
// linger timeout all end it (nginx answers none of them). The drain's
// idle grace ends an idle connection by lingering instead (drain.go), and
// send_timeout starts again while the client keeps acknowledging what it
// is sent (sendtimeout.go).
func (c *conn) OnTimeout(rc *reactor.Conn) {
	c.enter()
	switch {
	case c.state == stClosed:
	case c.h2 != nil:
		c.h2Timeout()
	case c.state == stTakeover:
		if st := c.tk.stream; st != nil {
			st.ClientTimeout()
		}
		c.settle()
	case c.s.draining && c.idle() && !c.readClosed:
		c.linger()
	case c.sending && c.state != stLinger && c.sendMoved():
		c.armSendTimeout() // a slow reader, not a stalled one (sendtimeout.go)
	default:
		c.closeNow()
	}
	c.leave()
}

// closeNow closes the connection: the state becomes stClosed at once, and
// the conn is torn down now if no conn method is on the stack, else by the
// outermost leave. An attached stream is told (and anything it asks in
// return is ignored: the conn is closed).
func (c *conn) closeNow() {
	if c.state == stClosed || c.rc == nil {
		return
	}
	c.state = stClosed
	if tk := c.tk; tk != nil && tk.stream != nil {
		st := tk.stream
		tk.stream = nil
		st.ClientClosed(reactor.ErrClosed)
		c.endStream()
	}
	if c.depth == 0 {
		c.teardown()
	}
}

// teardown gives every buffer back, closes the socket and recycles the
// conn. Only closeNow and leave call it, with depth 0.
func (c *conn) teardown() {
	s := c.s
	rc := c.rc
	// Close first: a send still in flight stops reading its buffer when
	// Close returns (reactor.Conn.Close), and only then do the buffers go
	// back to the pools.
	rc.Close()
	c.releaseBody()
	if c.in != nil {
		s.loop.PutBuf(c.in)
	}
	if c.out != nil {
		s.loop.PutBuf(c.out)
	}
	if c.ps != nil {
		s.putParsing(c.ps)
	}
	c.putAux()
	c.releaseH2()
	c.closeAffine() // after releaseH2: its streams' steps park nothing more
	c.releaseTLS()
	c.connClosed()
	if tk := c.tk; tk != nil {
		if tk.orphan != nil {
			s.loop.PutBuf(tk.orphan[:0:cap(tk.orphan)])
		}
		c.putTakeover()
	}
	*c = conn{seq: c.seq + 1, state: stClosed}
	s.connFree = append(s.connFree, c)
	s.checkIdle()
}

func (s *Server) getParsing() *parsing {
	var ps *parsing
	if n := len(s.parseFree); n > 0 {
		ps = s.parseFree[n-1]
		s.parseFree = s.parseFree[:n-1]
	} else {
		ps = new(parsing)
	}
	ps.req.Reset()
	ps.p.Reset()
	return ps
}

func (s *Server) putParsing(ps *parsing) { s.parseFree = append(s.parseFree, ps) }

func (s *Server) getPending() *pending {
	if n := len(s.pendFree); n > 0 {
		b := s.pendFree[n-1]
		s.pendFree = s.pendFree[:n-1]
		return b
	}
	return new(pending)
}

// reqStart is when the first byte of the head of the request being
// answered was taken (loop clock, Unix ns): its parsing (c.ps) lasts from
// that byte to the answer, when this is read. 0 without one.
func (c *conn) reqStart() int64 {
	if c.ps == nil {
		return 0
	}
	return c.ps.start
}

// getTakeover attaches a takeover from the server's pool to c.
func (c *conn) getTakeover() *takeover {
	s := c.s
	if n := len(s.tkFree); n > 0 {
		c.tk = s.tkFree[n-1]
		s.tkFree = s.tkFree[:n-1]
	} else {
		c.tk = new(takeover)
	}
	return c.tk
}

// putTakeover gives c's takeover back to the pool.
func (c *conn) putTakeover() {
	*c.tk = takeover{}
	c.s.tkFree = append(c.s.tkFree, c.tk)
	c.tk = nil
}

// getAux attaches a connAux from the server's pool to c, or returns the
// one it has.
func (c *conn) getAux() *connAux {
	if c.aux != nil {
		return c.aux
	}
	s := c.s
	if n := len(s.auxFree); n > 0 {
		c.aux = s.auxFree[n-1]
		s.auxFree = s.auxFree[:n-1]
	} else {
		c.aux = new(connAux)
	}
	return c.aux
}

// putAux gives c's connAux back to the pool. A PROXY header's bytes are
// not reused: what follows the header may still be read from them.
func (c *conn) putAux() {
	a := c.aux
	if a == nil {
		return
	}
	*a = connAux{}
	c.s.auxFree = append(c.s.auxFree, a)
	c.aux = nil
}
