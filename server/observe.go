//go:build linux

package server

import (
	"bytes"
	"net/netip"

	"github.com/nproxy/nproxy/accesslog"
	"github.com/nproxy/nproxy/http"
	"github.com/nproxy/nproxy/metrics"
)

// This file is what the server records about each request: the metrics
// counters and the access log line. Both are off (nil) unless the
// configuration enables them, and then cost no allocation and no system
// call per request.

// observed is a connection's part of it: the client address, looked up
// on first need, and the streamed response being followed. A connection
// takes one from the server's pool when a feature first needs it, so
// connections of a server without these features carry only a nil
// pointer.
type observed struct {
	peer      netip.Addr // the socket's peer, or a PROXY protocol header's source
	peerKnown bool
	// client is the current request's real client address (real_ip_from
	// and real_ip_header), when clientSet; the router sets it per request.
	client    netip.Addr
	clientSet bool
	stream    *streamObs
}

// observed returns c's observation state, taking it from the pool.
func (c *conn) observed() *observed {
	if c.obsv == nil {
		s := c.s
		if n := len(s.obsvFree); n > 0 {
			c.obsv = s.obsvFree[n-1]
			s.obsvFree = s.obsvFree[:n-1]
		} else {
			c.obsv = new(observed)
		}
	}
	return c.obsv
}

// peerAddr returns the client's IP address: the current request's real
// client when real_ip set one, else the connection's peer (a PROXY
// protocol header's source, or the socket's peer, asked of the kernel
// with getpeername once per connection and only when a feature needs it:
// the rate limit, allow/deny, the access log, the proxy); the zero Addr
// if the kernel cannot say.
func (c *conn) peerAddr() netip.Addr {
	o := c.observed()
	if o.clientSet {
		return o.client
	}
	if !o.peerKnown {
		o.peerKnown = true
		o.peer = peerOf(c.rc.Fd())
	}
	return o.peer
}

// connOpened counts an accepted connection.
func (s *Server) connOpened() {
	if s.counters != nil {
		s.counters.Accepted()
	}
}

// connClosed records a closing connection: the end of a stream it was
// following, and the active connection count.
func (c *conn) connClosed() {
	if o := c.obsv; o != nil {
		c.endStream()
		*o = observed{}
		c.s.obsvFree = append(c.s.obsvFree, o)
		c.obsv = nil
	}
	if c.s.counters != nil {
		c.s.counters.Closed()
	}
}

// observe records a response the server queued itself (head: the request
// was HEAD). req is nil for a request whose request line could not be
// parsed.
func (c *conn) observe(req *http.Request, buf []byte, r *http.Response, head bool) {
	if c.s.x.Cause != http.CauseNone && req != nil {
		c.logRefused(req, buf, requestLine(req, buf))
	}
	if c.s.counters != nil || c.vh.alog != nil {
		c.record(req, buf, r.Status, bodyBytes(r, head))
	}
	c.logModules(r.Status, bodyBytes(r, head))
}

// bodyBytes is the size of the body the server sends for r (what queue
// sends: nothing for HEAD, 1xx, 204 and 304).
func bodyBytes(r *http.Response, head bool) int64 {
	if head || r.Status < 200 || r.Status == 204 || r.Status == 304 {
		return 0
	}
	switch r.Kind {
	case http.BodyBytes:
		return int64(len(r.Body))
	case http.BodyFile:
		return r.FileLen
	}
	return 0
}

func (c *conn) record(req *http.Request, buf []byte, status int, body int64) {
	s := c.s
	if s.counters != nil {
		// A response the server queues itself is recorded in the loop
		// iteration that routed it: the exchange's clock is the loop's.
		s.routeMetrics(c.vh).Response(status, body, s.handler, s.x.Now.UnixNano()-c.reqStart())
	}
	if al := c.vh.alog; al != nil {
		e := &s.entry
		*e = accesslog.Entry{Addr: c.peerAddr(), Time: s.x.Now, Status: status, BodyBytes: body,
			BytesSent: int64(s.headLen) + body, DurationNs: s.x.Now.UnixNano() - c.reqStart()}
		if req != nil {
			c.fillRequest(e, c.vh.alogFmt, req, buf, requestLine(req, buf), protoOf(req))
		} else {
			c.fillConn(e, c.vh.alogFmt)
		}
		s.logWrite(al, c.vh.alogFmt, e)
		*e = accesslog.Entry{}
	}
}

// requestLine returns the request line as received, without its CRLF.
func requestLine(req *http.Request, buf []byte) []byte {
	start := int(req.MethodSpan.Off)
	end := start + bytes.IndexByte(buf[start:], '\n')
	if end < start {
		return nil
	}
	if end > start && buf[end-1] == '\r' {
		end--
	}
	return buf[start:end]
}

// streamObs follows a response that a streaming step (the reverse proxy)
// sends itself, on an HTTP/1.1 connection (observed.stream, pooled in
// Server.obsFree) or an HTTP/2 stream (embedded in its h2proxy): its
// status and body bytes, as the step reports them (Client.SetResult),
// the bytes it sent, the backends it tried (Client.StreamLog), and what
// the access log line needs of the request, copied out of the request
// buffer (valid only during Serve).
type streamObs struct {
	status int
	body   int64
	sent   int64 // bytes the step gave the connection to send ($bytes_sent)
	// The request's series, handler and start (metrics), as the router
	// chose them when the stream took the request over.
	m       *metrics.Route
	handler int
	start   int64
	// The access log line: its file and format, the entry with the
	// request's fields (views of rec), the backends tried.
	alog *accesslog.Log
	f    *accesslog.Format
	e    accesslog.Entry
	rec  []byte
	up   http.StreamLog
}

// startStream begins following the response of a request that a step
// took over on c; called from serve while the request head is still
// valid.
func (c *conn) startStream(req *http.Request, buf []byte) {
	s := c.s
	if s.counters == nil && c.vh.alog == nil {
		return
	}
	var o *streamObs
	if n := len(s.obsFree); n > 0 {
		o = s.obsFree[n-1]
		s.obsFree = s.obsFree[:n-1]
	} else {
		o = new(streamObs)
	}
	var line []byte
	if c.vh.alog != nil {
		line = requestLine(req, buf)
	}
	o.begin(c, req, buf, line, protoOf(req), c.reqStart())
	c.observed().stream = o
}

// endStream records a streamed exchange once the stream is done with the
// connection (Release, Abort, or the connection closing).
func (c *conn) endStream() {
	if c.tk != nil {
		c.s.logHeld(&c.tk.mods)
	}
	if c.obsv == nil || c.obsv.stream == nil {
		return
	}
	o := c.obsv.stream
	c.obsv.stream = nil
	o.record(c)
	c.s.obsFree = append(c.s.obsFree, o)
}

// begin starts following the response of req, a request of c that a
// step took over at start (loop nanoseconds); called while the request
// head (buf) is still valid. line and proto are the request line and
// protocol the access log shows; line is read only when c's block logs.
// o's record buffer is kept for reuse.
func (o *streamObs) begin(c *conn, req *http.Request, buf, line []byte, proto string, start int64) {
	s := c.s
	*o = streamObs{rec: o.rec[:0], start: start, handler: s.handler}
	if s.counters != nil {
		o.m = s.routeMetrics(c.vh)
	}
	if al := c.vh.alog; al != nil {
		c.peerAddr() // now, while the client is surely connected
		o.alog, o.f = al, c.vh.alogFmt
		c.fillRequest(&o.e, o.f, req, buf, line, proto)
		o.rec = o.e.CopyBytes(o.rec)
		if usesUpstream(o.f) {
			o.e.Upstream = &o.up
		}
	}
}

// result records the response's status and body bytes (SetResult).
func (o *streamObs) result(status int, body int64) { o.status, o.body = status, body }

// streamLog returns where the step records the backends it tries, when
// the access log's format shows them; else nil.
func (o *streamObs) streamLog() *http.StreamLog { return o.e.Upstream }

// record records the exchange of c in the metrics and the access log,
// once the step is done with it. A client that went away before any
// response is logged 499, as nginx does.
func (o *streamObs) record(c *conn) {
	s := c.s
	status := o.status
	if status == 0 {
		status = 499
	}
	if o.m != nil {
		o.m.Response(status, o.body, o.handler, s.loop.NowNano()-o.start)
	}
	if o.alog != nil {
		e := &o.e
		// $bytes_sent: what the step gave the connection (its HTTP/1.1
		// head included), on either protocol.
		e.Addr, e.Time, e.Status, e.BodyBytes = c.peerAddr(), s.loop.Now(), status, o.body
		e.BytesSent, e.DurationNs = o.sent, s.loop.NowNano()-o.start
		s.logWrite(o.alog, o.f, e)
	}
}

// logWrite writes one access log line, reporting a failed flush to the
// error log.
func (s *Server) logWrite(al *accesslog.Log, f *accesslog.Format, e *accesslog.Entry) {
	if err := al.Write(f, e); err != nil {
		s.log.Errorf("%s: %v", al.Path(), err)
	}
}
