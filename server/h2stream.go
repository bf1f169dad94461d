//go:build linux

package server

import (
	"io"
	"os"

	"github.com/nproxy/nproxy/accesslog"
	"github.com/nproxy/nproxy/http"
	"github.com/nproxy/nproxy/http2"
	"golang.org/x/sys/unix"
)

// The streams of an HTTP/2 connection (h2conn.go): each request goes
// through the block's routing chain as an HTTP/1.1 request does, and the
// step's http.Response maps onto the stream: the head as Respond (the
// same header lines AppendHead builds, minus the status line and the
// connection-specific fields, which http2.Conn drops), the body as DATA
// frames, as much as the flow-control windows take. The rest waits in an
// h2body (a copy of bytes, or a file offset read with pread, since
// sendfile cannot frame DATA) and continues on OnWritable.

var _ http2.Handler = (*h2conn)(nil)

// h2ChunkSize is what one pread of a file body reads: the http2.Conn
// frames at most its output bound (64 KiB) at a time.
const h2ChunkSize = 32 << 10

// h2body is a response body that did not go out at once.
type h2body struct {
	bytes []byte // the rest of a bytes body (pooled copy); nil for a file
	fd    int
	off   int64
	left  int64
	rel   http.Releaser
}

// OnRequest serves a new stream through the routing chain.
func (h *h2conn) OnRequest(id uint32, rh *http2.RequestHead, endStream bool) {
	c := h.c
	s := c.s
	h.started = true
	req, buf := &rh.Req, rh.Buf
	req.KeepAlive = true // connection management is HTTP/2's
	if !endStream && req.ContentLength < 0 {
		// A body of unknown length: a step that takes the stream over
		// reads it chunked (h2proxy.go) and forwards it so.
		req.Chunked = true
	}
	h.serving = id
	x, misdirected := c.exchangeFor(req, buf)
	if c.requests++; c.vh.cfg.KeepaliveRequests > 0 && c.requests >= uint32(c.vh.cfg.KeepaliveRequests) {
		h.spent = true // h2Recv sends GOAWAY once the input is read
	}
	c.route(x, misdirected)
	c.lingerAfter = false // a 413's "close unread": the stream's reset does it
	if p := h.taking; p != nil {
		// A step took the stream over (h2proxy.go).
		h.taking = nil
		if h.takeOver(id, p, endStream) {
			if x.Resp.Release != nil {
				x.Resp.Release.Release()
			}
			s.hdr = x.Resp.Header[:0]
			x.Resp.Body, x.Resp.Release = nil, nil
			return
		}
	}
	if x.Resp.Status == http.StatusNoResponse {
		// return = 444: no answer; the stream is reset, as nginx's
		// (RST_STREAM INTERNAL_ERROR), and the access log records 444.
		r := &x.Resp
		if r.Release != nil {
			r.Release.Release()
		}
		h.record(x.Req, x.Buf, r.Status, 0)
		c.logModules(r.Status, 0)
		h.hc.Reset(id, http2.ErrCodeInternal)
		s.hdr = r.Header[:0]
		r.Body, r.Release = nil, nil
		return
	}
	h.respond(id, x.Req, x.Buf, &x.Resp) // as the modules left it (conn.serve)
	s.hdr = x.Resp.Header[:0]
	x.Resp.Body, x.Resp.Release = nil, nil
}

// takeOver keeps p, the client of the step that took stream id over
// within Serve, as the stream's; it reports false when the step gave the
// stream back within Serve, having answered in x.Resp the ordinary way
// (no backend could be dialed): p is retired then.
func (h *h2conn) takeOver(id uint32, p *h2proxy, endStream bool) bool {
	if p.want != wantNothing && p.want != wantAbort && !p.started && !p.sending {
		p.ended, p.want = true, wantNothing
		h.retire(p)
		return false
	}
	h.proxies[id] = p
	if endStream {
		p.bodyEnd = true
	}
	h.kick(p) // settled by the h2Flush after Feed
	return true
}

// respond sends r on stream id: the head, then as much of the body as
// the windows take; the rest waits in an h2body.
func (h *h2conn) respond(id uint32, req *http.Request, buf []byte, r *http.Response) {
	c := h.c
	head := req.Method == http.MethodHead
	var size int64
	if !head && r.Status >= 200 && r.Status != 204 && r.Status != 304 {
		switch r.Kind {
		case http.BodyBytes:
			size = int64(len(r.Body))
		case http.BodyFile:
			size = r.FileLen
		}
	}
	h.record(req, buf, r.Status, size)
	c.logModules(r.Status, size)
	lines := http.AppendHead(h.lines[:0], r, c.s.x.Date, false, false)
	h.lines = lines[:0]
	if err := h.hc.Respond(id, r.Status, lines, size == 0); err != nil || size == 0 {
		if r.Release != nil {
			r.Release.Release()
		}
		return
	}
	if r.Kind == http.BodyBytes {
		n, _ := h.hc.WriteData(id, r.Body, true)
		if n < len(r.Body) {
			b := &h2body{bytes: c.s.loop.AppendBuf(nil, r.Body[n:]), rel: r.Release}
			h.bodies[id] = b
			return
		}
		if r.Release != nil {
			r.Release.Release()
		}
		return
	}
	b := &h2body{fd: r.File, off: r.FileOff, left: r.FileLen, rel: r.Release}
	h.bodies[id] = b
	h.pump(id, b)
}

// pump sends as much of b as the windows take.
func (h *h2conn) pump(id uint32, b *h2body) {
	l := h.c.s.loop
	if b.bytes != nil {
		n, err := h.hc.WriteData(id, b.bytes, true)
		if err != nil || n == len(b.bytes) {
			h.dropBody(id, b)
			return
		}
		b.bytes = b.bytes[:copy(b.bytes, b.bytes[n:])]
		return
	}
	chunk := l.GetBuf(h2ChunkSize)
	defer l.PutBuf(chunk)
	for b.left > 0 {
		k, err := unix.Pread(b.fd, chunk[:min(int64(cap(chunk)), b.left)], b.off)
		if err != nil || k == 0 {
			if err == nil {
				err = io.ErrUnexpectedEOF // the file shrank under us
			} else {
				err = os.NewSyscallError("pread", err)
			}
			h.c.s.log.Warnf("http2: stream %d: %v", id, err)
			h.hc.Reset(id, http2.ErrCodeInternal)
			h.dropBody(id, b)
			return
		}
		n, err := h.hc.WriteData(id, chunk[:k], int64(k) == b.left)
		if err != nil {
			h.dropBody(id, b)
			return
		}
		b.off += int64(n)
		b.left -= int64(n)
		if n < k {
			return // full: OnWritable continues
		}
	}
	h.dropBody(id, b)
}

// dropBody forgets stream id's body and gives its resources back.
func (h *h2conn) dropBody(id uint32, b *h2body) {
	delete(h.bodies, id)
	if b.bytes != nil {
		h.c.s.loop.PutBuf(b.bytes)
		b.bytes = nil
	}
	if b.rel != nil {
		b.rel.Release()
		b.rel = nil
	}
}

// OnData takes request body bytes: a taken-over stream's go to its step
// (h2proxy.go); every other step has answered its stream already (the
// http2.Conn refuses the rest of a body once the response ended), so
// they are only given back to the windows.
func (h *h2conn) OnData(id uint32, p []byte, endStream bool) {
	if px := h.proxies[id]; px != nil {
		px.onData(p, endStream)
		return
	}
	h.hc.Consume(id, len(p))
}

// OnTrailers ends a taken-over stream's request body; trailer fields are
// ignored, as for HTTP/1.1.
func (h *h2conn) OnTrailers(id uint32, rh *http2.RequestHead) {
	if px := h.proxies[id]; px != nil {
		px.onTrailers()
	}
}

// OnReset drops what stream id still had to send, or tells its step.
func (h *h2conn) OnReset(id uint32, code http2.ErrCode) {
	if b := h.bodies[id]; b != nil {
		h.dropBody(id, b)
	}
	if px := h.proxies[id]; px != nil {
		h.proxyReset(px)
	}
}

// OnWritable continues stream id's body.
func (h *h2conn) OnWritable(id uint32) {
	if b := h.bodies[id]; b != nil {
		h.pump(id, b)
		return
	}
	if px := h.proxies[id]; px != nil {
		px.onWritable()
	}
}

// record counts the response in the metrics and the access log, whose
// request line says HTTP/2.0.
func (h *h2conn) record(req *http.Request, buf []byte, status int, body int64) {
	c := h.c
	s := c.s
	if s.x.Cause != http.CauseNone {
		c.logRefused(req, buf, nil)
	}
	if s.counters == nil && c.vh.alog == nil {
		return
	}
	if s.counters != nil {
		s.routeMetrics(c.vh).Response(status, body, s.handler, 0) // recorded as it is routed
	}
	if al := c.vh.alog; al != nil {
		line := append(h.line[:0], req.MethodSpan.Bytes(buf)...)
		line = append(line, ' ')
		line = append(line, req.URI.Bytes(buf)...)
		line = append(line, " HTTP/2.0"...)
		h.line = line
		e := &s.entry
		// $bytes_sent counts the body: the head goes out HPACK-encoded.
		*e = accesslog.Entry{Addr: c.peerAddr(), Time: s.x.Now, Status: status, BodyBytes: body, BytesSent: body}
		c.fillRequest(e, c.vh.alogFmt, req, buf, line, "HTTP/2.0")
		s.logWrite(al, c.vh.alogFmt, e)
		*e = accesslog.Entry{}
	}
}
