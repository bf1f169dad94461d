//go:build linux

package server

import (
	"bytes"
	"errors"
	"strconv"
	"time"

	"github.com/nproxy/nproxy/http"
	"github.com/nproxy/nproxy/http2"
	"github.com/nproxy/nproxy/reactor"
)

// A step that takes its exchange over (the reverse proxy, a streamed
// directory listing) gets, on an HTTP/2 stream, an h2proxy: the same
// http.Client it gets on an HTTP/1.1 connection, mapped onto one stream,
// so that the step runs unchanged.
//
//   - Request body: the stream's DATA goes to Stream.ClientData, in the
//     framing the request head announces (Content-Length as sent; a body
//     without content-length is presented chunked, and the head says so
//     with Request.Chunked, so the step forwards it with
//     Transfer-Encoding: chunked). Flow-control credit goes back with
//     Conn.Consume only as the step takes bytes: a step that is full
//     (takes fewer) stops the client's upload at the stream window.
//     The request's trailer fields end the body and are dropped, as the
//     proxy drops a chunked HTTP/1.1 body's (RFC 9110 §6.5.1 lets an
//     intermediary discard them).
//   - Response: what the step Sends is an HTTP/1.1 response. Its heads
//     are parsed with http.ResponseParser (1xx heads, such as the 100
//     Continue a backend sends to a request that came with expect:
//     100-continue, then the final one) and answered with Respond
//     (Respond drops the connection-specific fields); the body goes to
//     WriteData as the windows allow, through an http.ChunkedDecoder when
//     the head says chunked. A chunked body's trailer fields are kept
//     (trail) and become the stream's trailing HEADERS, which carries
//     END_STREAM (RFC 9113 §8.1). A Send is done once every byte is
//     framed; until then the rest of the step's buffer waits (the step
//     leaves it untouched) and OnWritable continues it.
//   - Release ends the stream (END_STREAM after the body, or with the
//     trailers; keep-alive means nothing per stream), Abort resets it
//     with INTERNAL_ERROR. There is
//     no splice (DATA frames are built in user space) and nothing
//     tunnels: a request cannot ask for an upgrade over HTTP/2 (RFC 9113
//     §8.2.2), so a 101 never reaches a stream.
//
// Control runs one way, as on HTTP/1.1 (http.Stream): Release, Abort,
// ResumeRecv and SetTimeout only record what the step wants; the conn
// applies it (settleProxies, from h2Flush) once the Stream call, or the
// step's own event, has returned. When the step acted on an upstream
// event, the conn is posted to the loop's deferred run (conn.post), so
// the output of a whole event batch leaves in one send.

// h2proxy is the http.Client of one taken-over HTTP/2 stream.
//
// States: taking (inside Serve) -> running (in h2conn.proxies) -> ended.
// A recorded Release or Abort (want) or a reset by the client stops every
// Stream call at once (st is nil); ended is set when the conn has applied
// it. An ended h2proxy is recycled (Server.h2pFree, with its log record's
// buffer), but only from the top of a conn method (putProxies, from
// settleProxies and releaseH2): until then it waits in h2conn.retired, so
// a pointer kept across a Handler call or in the settling list still
// sees it ended. The step that held it was told (Release, Abort or
// ClientClosed) and never calls it again.
type h2proxy struct {
	h  *h2conn
	id uint32
	st http.Stream
	vh *vhost // the stream's block (access log)

	want    streamWant
	ended   bool
	queued  bool // in h2conn.settling
	started bool // a final head was sent (Respond with status >= 200)
	outEnd  bool // ShutdownWrite: END_STREAM once what was sent is out

	// Request body: in holds what the client sent and the step did not
	// take yet (pooled), in the framing the step expects; held counts the
	// DATA bytes among them whose credit has not gone back.
	in      []byte
	held    int
	chunked bool // the body is presented chunked (no content-length)
	bodyEnd bool // END_STREAM (or trailers) received
	feed    bool // the step wants ClientData

	// Response: the Send in progress. sendBuf is the step's buffer (kept
	// only to give it back if the step aborts with it in flight), pend the
	// body bytes WriteData has not taken, rest the bytes after them still
	// to look at.
	sending bool
	sendBuf []byte
	pend    []byte
	rest    []byte
	head    []byte // a response head split across Sends, so far (pooled)
	dechunk bool
	chunk   http.ChunkedDecoder
	bodyOK  bool   // the chunked body ended: bytes after it are dropped
	trail   []byte // the chunked body's trailer section so far (pooled; see http.ChunkedDecoder.TrailerLen)
	// data counts the body bytes framed as DATA: what the client gets,
	// without the HTTP/1.1 chunk framing the step sends them in
	// ($body_bytes_sent).
	data int64

	due int64 // the step's timer (SetTimeout), loop nanoseconds; 0: none

	mods *moduleHold // the modules of the exchange (modulelog.go)

	// The exchange's metrics and access log line, as on HTTP/1.1.
	streamObs
}

var _ http.Client = (*h2proxy)(nil)

// errH2StreamReset is what a step hears (Stream.ClientClosed) when its
// stream is reset: by the client, or because the connection ended.
var errH2StreamReset = errors.New("server: HTTP/2 stream reset")

// errH2Splice is SpliceFrom's answer on a stream: DATA frames are built
// in user space (CanSplice is false).
var errH2Splice = errors.New("server: splice into an HTTP/2 stream")

// hijack is conn.Hijack on an HTTP/2 connection: the stream OnRequest is
// serving (h.serving) is taken over by st.
func (h *h2conn) hijack(st http.Stream) http.Client {
	c := h.c
	s := c.s
	x := &s.x
	var p *h2proxy
	if n := len(s.h2pFree); n > 0 {
		p, s.h2pFree = s.h2pFree[n-1], s.h2pFree[:n-1]
		*p = h2proxy{streamObs: streamObs{rec: p.rec[:0]}}
	} else {
		p = new(h2proxy)
	}
	p.h, p.id, p.st, p.vh, p.feed = h, h.serving, st, c.vh, true
	p.chunked = x.Req.Chunked
	req, buf := x.Req, x.Buf
	var line []byte
	if c.vh.alog != nil {
		line = append(h.line[:0], req.MethodSpan.Bytes(buf)...)
		line = append(line, ' ')
		line = append(line, req.URI.Bytes(buf)...)
		line = append(line, " HTTP/2.0"...)
		h.line = line
	}
	p.begin(c, req, buf, line, "HTTP/2.0", x.Now.UnixNano())
	h.taking = p
	return p
}

// Send frames b, an HTTP/1.1 response (or the next part of it), on the
// stream.
func (p *h2proxy) Send(b []byte) (bool, error) {
	if p.st == nil || p.ended {
		return false, reactor.ErrClosed
	}
	if p.sending {
		return false, errStreamBusy
	}
	p.pend, p.rest = nil, b
	p.sent += int64(len(b))
	done, err := p.pump()
	if err != nil {
		p.pend, p.rest = nil, nil
		return false, err
	}
	if !done {
		p.sending, p.sendBuf = true, b
	}
	p.h.kick(p)
	return done, nil
}

// pump frames what is left of the current Send and reports whether all
// of it is framed.
func (p *h2proxy) pump() (bool, error) {
	hc := p.h.hc
	for {
		if len(p.pend) > 0 {
			n, err := hc.WriteData(p.id, p.pend, false)
			if err != nil {
				return false, err
			}
			p.data += int64(n)
			p.pend = p.pend[n:]
			if len(p.pend) > 0 {
				return false, nil // full: OnWritable continues
			}
		}
		if len(p.rest) == 0 {
			return true, nil
		}
		switch {
		case !p.started:
			if err := p.readHead(); err != nil {
				return false, err
			}
		case p.bodyOK:
			p.rest = nil // nothing follows a chunked body's end on a stream
		case p.dechunk:
			t0 := p.chunk.TrailerLen()
			n, data, done, err := p.chunk.Next(p.rest)
			if err != nil {
				return false, err
			}
			if k := p.chunk.TrailerLen() - t0; k > 0 || done {
				if done {
					k++
				}
				p.trail = p.h.c.s.loop.AppendBuf(p.trail, p.rest[n-k:n])
			}
			p.rest, p.pend = p.rest[n:], data
			p.bodyOK = done
			if n == 0 && len(data) == 0 && !done {
				p.rest = nil // a partial chunk line: the decoder keeps it
			}
		default:
			p.pend, p.rest = p.rest, nil
		}
	}
}

// readHead parses the response head at the front of rest (completing a
// head an earlier Send split) and answers it with Respond.
func (p *h2proxy) readHead() error {
	h := p.h
	buf := p.rest
	if len(p.head) > 0 {
		p.head = h.c.s.loop.AppendBuf(p.head, p.rest)
		buf = p.head
	}
	var rp http.ResponseParser
	rh := h.respHead()
	done, err := rp.Parse(buf, rh)
	if err != nil {
		return err
	}
	if !done {
		if len(p.head) == 0 {
			p.head = h.c.s.loop.AppendBuf(nil, p.rest)
		}
		p.rest = nil
		return nil
	}
	// The rest of this Send after the head: the head may have started in
	// an earlier Send (p.head holds both then).
	after := p.rest[len(p.rest)-(len(buf)-rh.HeadLen):]
	line := bytes.IndexByte(buf, '\n') + 1
	lines := buf[line : rh.HeadLen-2]
	if err := h.hc.Respond(p.id, rh.Status, lines, false); err != nil {
		return err
	}
	if rh.Status >= 200 {
		p.started = true
		p.dechunk = rh.Chunked
		p.chunk.Reset()
	}
	if p.head != nil {
		h.c.s.loop.PutBuf(p.head)
		p.head = nil
	}
	p.rest = after
	return nil
}

// onWritable continues a Send that waited for the windows.
func (p *h2proxy) onWritable() {
	if !p.sending || p.st == nil {
		return
	}
	done, err := p.pump()
	if !done && err == nil {
		return
	}
	p.sending, p.sendBuf, p.pend, p.rest = false, nil, nil, nil
	p.st.ClientSent(err)
	p.h.kick(p)
}

// SpliceFrom is refused: see CanSplice.
func (p *h2proxy) SpliceFrom(*reactor.Conn, int64) (bool, error) { return false, errH2Splice }

// CanSplice reports false: DATA frames are built in user space.
func (p *h2proxy) CanSplice() bool { return false }

// PauseRecv stops ClientData calls; the client is held back by the
// stream's window, whose credit goes back only as the step takes bytes.
func (p *h2proxy) PauseRecv() { p.feed = false }

// ResumeRecv asks for ClientData again: what the stream holds is offered
// once the caller has returned.
func (p *h2proxy) ResumeRecv() {
	if p.st == nil || p.feed {
		return
	}
	p.feed = true
	p.h.kick(p)
}

// SetTimeout arms the stream's timer (ClientTimeout); the conn's timer
// is set to the earliest of its own and its streams' (h2Flush).
func (p *h2proxy) SetTimeout(d time.Duration) {
	if p.st == nil {
		return
	}
	p.due = 0
	if d > 0 {
		p.due = p.h.c.s.loop.NowNano() + int64(d)
	}
	p.h.kick(p)
}

// StreamLog returns where the step records the backends it tries, when
// the access log's format shows them.
func (p *h2proxy) StreamLog() *http.StreamLog { return p.streamLog() }

// SetResult records the stream's status and body bytes for the access
// log and the metrics. The body bytes are the DATA the client got, not
// the step's count (which includes chunk framing the stream drops).
func (p *h2proxy) SetResult(status int, _ int64) {
	p.result(status, p.data)
	if p.mods != nil {
		p.mods.SetResult(status, p.data)
	}
}

// HeadFilter returns the modules' filter of the stream's response head,
// or nil.
func (p *h2proxy) HeadFilter() http.HeadFilter {
	if p.mods == nil || p.ended {
		return nil
	}
	return p.mods
}

// Release records that the step is done: the stream ends after its body.
func (p *h2proxy) Release(bool) {
	if p.st == nil {
		return
	}
	p.want, p.st = wantClose, nil
	p.h.kick(p)
}

// Abort records that the stream is to be reset. A Send still waiting for
// the windows leaves its buffer to the conn, which gives it back.
func (p *h2proxy) Abort() {
	if p.st == nil {
		return
	}
	p.want, p.st = wantAbort, nil
	p.h.kick(p)
}

// ShutdownWrite ends the stream's response once what was sent is framed
// (a stream has no half-close of its own; nothing tunnels over HTTP/2).
func (p *h2proxy) ShutdownWrite() {
	if p.st == nil {
		return
	}
	p.outEnd = true
	p.h.kick(p)
}

// PeerAddr appends the client's address.
func (p *h2proxy) PeerAddr(b []byte) []byte { return p.h.c.PeerAddr(b) }

// Date returns the current Date header value.
func (p *h2proxy) Date() []byte { return p.h.c.Date() }

// onData takes request body bytes for the step, in the framing it
// expects, and offers them.
func (p *h2proxy) onData(b []byte, end bool) {
	l := p.h.c.s.loop
	if p.st == nil || p.ended || p.bodyEnd {
		p.h.hc.Consume(p.id, len(b))
		return
	}
	if p.chunked {
		if len(b) > 0 {
			var size [16]byte
			p.in = l.AppendBuf(p.in, strconv.AppendInt(size[:0], int64(len(b)), 16))
			p.in = l.AppendBuf(p.in, crlf)
			p.in = l.AppendBuf(p.in, b)
			p.in = l.AppendBuf(p.in, crlf)
		}
		if end {
			p.in = l.AppendBuf(p.in, lastChunk)
		}
	} else if len(b) > 0 {
		p.in = l.AppendBuf(p.in, b)
	}
	p.held += len(b)
	p.bodyEnd = end
	p.offer()
}

var (
	crlf      = []byte("\r\n")
	lastChunk = []byte("0\r\n\r\n")
)

// onTrailers ends the request body (trailer fields are dropped, as the
// proxy drops them over HTTP/1.1).
func (p *h2proxy) onTrailers() {
	if p.st == nil || p.ended || p.bodyEnd {
		return
	}
	p.bodyEnd = true
	if p.chunked {
		p.in = p.h.c.s.loop.AppendBuf(p.in, lastChunk)
	}
	p.offer()
}

// offer gives the step what the stream holds, while it takes it all, and
// returns the credit of what it took. Not from inside a Stream call.
func (p *h2proxy) offer() {
	for p.st != nil && p.feed && len(p.in) > 0 {
		k := len(p.in)
		n := p.st.ClientData(p.in)
		p.dropIn(n)
		if n < k {
			p.feed = false // full: wait for ResumeRecv
			break
		}
	}
}

// dropIn drops the first n bytes of in and gives back the credit of the
// DATA bytes certainly gone: what is left may all be data, so held never
// exceeds it, and a drained buffer has given back all of its credit.
func (p *h2proxy) dropIn(n int) {
	if n <= 0 {
		return
	}
	k := copy(p.in, p.in[n:])
	p.in = p.in[:k]
	if k == 0 {
		p.h.c.s.loop.PutBuf(p.in)
		p.in = nil
	}
	if p.held > k {
		p.h.hc.Consume(p.id, p.held-k)
		p.held = k
	}
}

// kick makes sure what p recorded is applied: at once by the h2Flush of
// the conn method on the stack, else from the loop's deferred run.
func (h *h2conn) kick(p *h2proxy) {
	if !p.queued {
		p.queued = true
		h.settling = append(h.settling, p)
	}
	h.c.post()
}

// settleProxies applies what the proxies recorded; it reports whether
// there was anything. A conn method, from h2Flush.
func (h *h2conn) settleProxies() bool {
	any := len(h.settling) > 0
	for i := 0; i < len(h.settling); i++ { // kicks while settling append
		p := h.settling[i]
		h.settling[i] = nil
		p.queued = false
		if p.ended {
			continue
		}
		switch {
		case p.want == wantAbort:
			h.hc.Reset(p.id, http2.ErrCodeInternal)
			h.endProxy(p)
		case p.want != wantNothing:
			if p.started && !p.sending && len(p.pend) == 0 {
				p.endStream()
			} else {
				h.hc.Reset(p.id, http2.ErrCodeInternal) // released without a whole response
			}
			h.endProxy(p)
		default:
			if p.outEnd && !p.sending && p.started {
				p.outEnd = false
				p.endStream()
			}
			p.offer()
		}
	}
	h.settling = h.settling[:0]
	h.putProxies()
	return any
}

// endStream ends the response: with the chunked body's trailer fields as
// trailing HEADERS when it had any, else with an empty DATA frame.
func (p *h2proxy) endStream() {
	hc := p.h.hc
	if t := p.trail; p.bodyOK && len(t) > len("\n\r\n") {
		hc.WriteTrailers(p.id, t[1:len(t)-2])
		return
	}
	hc.WriteData(p.id, nil, true)
}

// maxFreeProxies bounds the recycled h2proxy values a worker keeps.
const maxFreeProxies = 1024

// retire queues an ended p for recycling by putProxies.
func (h *h2conn) retire(p *h2proxy) {
	h.retired = append(h.retired, p)
}

// putProxies recycles the retired proxies. Only from the top of a conn
// method, when no Handler call or step up the stack can hold one.
func (h *h2conn) putProxies() {
	s := h.c.s
	for i, p := range h.retired {
		h.retired[i] = nil
		if len(s.h2pFree) < maxFreeProxies {
			s.h2pFree = append(s.h2pFree, p)
		}
	}
	h.retired = h.retired[:0]
}

// proxyReset tells the step of stream id that the stream is gone.
func (h *h2conn) proxyReset(p *h2proxy) {
	if st := p.st; st != nil {
		p.st = nil
		st.ClientClosed(errH2StreamReset)
	}
	h.endProxy(p)
}

// endProxy forgets p, gives its buffers back and logs the exchange.
func (h *h2conn) endProxy(p *h2proxy) {
	if p.ended {
		return
	}
	p.ended, p.st = true, nil
	delete(h.proxies, p.id)
	l := h.c.s.loop
	if p.in != nil {
		l.PutBuf(p.in)
		p.in = nil
	}
	if p.head != nil {
		l.PutBuf(p.head)
		p.head = nil
	}
	if p.trail != nil {
		l.PutBuf(p.trail)
		p.trail = nil
	}
	if p.sending && p.want == wantAbort && p.sendBuf != nil {
		// The step's buffer in flight at Abort is ours (http.Client).
		l.PutBuf(p.sendBuf[:0:cap(p.sendBuf)])
	}
	p.sending, p.sendBuf, p.pend, p.rest = false, nil, nil, nil
	p.record(h.c)
	h.c.s.logHeld(&p.mods)
	h.retire(p)
}

// proxyTimers gives ClientTimeout to the streams whose timer expired.
func (h *h2conn) proxyTimers(now int64) {
	for _, p := range h.proxies {
		if p.due != 0 && now >= p.due && p.st != nil {
			p.due = 0
			p.st.ClientTimeout()
		}
	}
}

// nextDue returns the earliest due time of the conn's own timer, its
// streams' and a drain's final GOAWAY (http2.Conn.ShutdownDue; 0: none).
func (h *h2conn) nextDue() int64 {
	due := h.ownDue
	if sd := h.hc.ShutdownDue(); !sd.IsZero() && (due == 0 || sd.UnixNano() < due) {
		due = sd.UnixNano()
	}
	for _, p := range h.proxies {
		if p.due != 0 && p.st != nil && (due == 0 || p.due < due) {
			due = p.due
		}
	}
	return due
}

// respHead returns the conn's scratch response head (Send parses one
// head at a time, within the call).
func (h *h2conn) respHead() *http.ResponseHead {
	if h.rh == nil {
		h.rh = new(http.ResponseHead)
	}
	return h.rh
}
