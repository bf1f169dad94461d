//go:build linux

package proxy

import (
	"fmt"
	"net/netip"
	"strconv"
	"unsafe"

	"github.com/nproxy/nproxy/http"
	"github.com/nproxy/nproxy/logging"
	"github.com/nproxy/nproxy/metrics"
	"github.com/nproxy/nproxy/reactor"
	"github.com/nproxy/nproxy/vars"
)

// respMode is how the end of the upstream response body is found.
type respMode uint8

const (
	modeNone    respMode = iota // no body (HEAD, 1xx, 204, 304)
	modeLength                  // Content-Length bytes
	modeChunked                 // until the last chunk and trailers
	modeClose                   // until the upstream closes
	modeTunnel                  // after 101: raw bytes both ways
)

// pauseAt is the amount of unforwarded data at which one side stops
// reading until the other has drained: memory per session stays bounded
// whatever the speeds of client and backend.
const pauseAt = reactor.SmallBuf

// spliceThreshold is the Content-Length from which a response body is
// moved upstream → client with splice(2) (reactor.Conn.Splice) instead of
// being copied through rbuf and cbuf. The bytes already received with the
// head (one read: up to 64 KiB) still go out by copy, right after it; the
// rest, at least 192 KiB, is spliced. The whole length decides, not the
// rest, so that a response is spliced or not whatever the size of the
// first read.
//
// Measured on this machine (BENCHMARKS.md, "Splice for proxied bodies"):
// socket → socket alone, below about 128 KiB a splice does not pay (two
// syscalls per chunk plus the pipe cost what the copy costs); at 256 KiB
// it saves 30–55% of the CPU, at 1 MiB 2.5–3.3x. Through this proxy
// (epoll, CPU per request against the copy): 64 KiB bodies gain nothing,
// 128 KiB 13% (noise level here), 256 KiB 24%, 1 MiB 30%; with io_uring
// 1 MiB bodies take half the CPU and go 1.9x faster.
//
// Chunked bodies, close-delimited bodies and tunnels stay on the copy path
// (their length is not known ahead), and so do request bodies: the client
// conn is the server's, whose input bookkeeping (buffered bytes, EOF,
// lingering close) a splice from it would bypass.
const spliceThreshold = 256 << 10

// splicePiece bounds one Splice: between two pieces the session re-arms
// proxy_timeout and send_timeout, which (as nginx's) run between two
// operations that made progress, and the loop serves other connections.
// One piece fills the 1 MiB splice pipe once.
const splicePiece = 1 << 20

// testHookSplice, when set (by tests, before the worker starts), is called
// when a response body starts being spliced.
var testHookSplice func()

// session is one proxied exchange: a client request streamed to a backend
// and its response streamed back, or a tunnel after 101. Two buffers per
// direction at most (one filling, one in flight), so a slow peer on either
// side stops the other side's reading instead of growing memory.
type session struct {
	h  *Handler
	cl http.Client
	up *upConn
	b  *backend
	x  *http.Exchange // set only while start runs (inside Serve)
	// pages is the route's error_page maker (http.Exchange.ErrorPage),
	// for the errors respondError sends after Serve; nil without.
	pages func(status int, resp *http.Response) bool

	peer [64]byte // scratch for the client's address text

	tried  uint64
	tries  int
	status int // the answer if no backend is left: 502, or 504 after a timeout

	// tryStart is when the current attempt picked its backend (loop
	// clock, Unix ns): the start of its connect and response times.
	tryStart int64
	// retryFrom is the backend whose failed attempt the next one
	// retries (counted when that attempt starts).
	retryFrom *backend
	// slog is where the client's access log wants the attempts
	// (Client.StreamLog); nil when it does not.
	slog *http.StreamLog

	// request: client → upstream
	idempotent bool
	hasBody    bool
	reqBuf     []byte // head + body bytes for upstream (pooled unless reqHeap)
	reqHeap    bool   // reqBuf is a heap slice (a head that outgrew the largest pooled buffer)
	sentAny    bool   // some of the request was handed to an upstream send
	replayable bool   // reqBuf holds the request from its first byte
	held       bool   // reqBuf is all sent, kept only to replay it on a retry
	sentOff    int    // bytes at the start of reqBuf already sent upstream
	connected  bool   // the upstream connection is up (bytes may have reached it)
	reqLeft    int64  // Content-Length bytes still to take
	reqChunked bool
	reqChunk   *http.ChunkedDecoder
	reqDone    bool // the whole request body is taken from the client
	upSending  bool
	clientEOF  bool
	inData     bool // inside ClientData

	// response: upstream → client
	rbuf          []byte // upstream bytes not yet forwarded (pooled)
	cbuf          []byte // bytes being sent to the client (pooled)
	clientSending bool
	headDone      bool
	gotBytes      bool
	mode          respMode
	respLeft      int64
	respChunk     *http.ChunkedDecoder
	respDone      bool
	keepClient    bool
	keepUp        bool
	headReq       bool
	client10      bool
	dechunk       bool
	upgradeReq    bool
	upEOF         bool
	spliceBody    bool  // the rest of the body goes by splice once rbuf is out
	splicing      int64 // bytes of the Splice in flight (clientSending is set)
	// gz is the response's compressor (gzip.go), nil when it goes as
	// the backend sent it; gzChunk: the compressed body goes chunked;
	// acceptGzip: the request's Accept-Encoding names gzip (read only
	// when the route compresses); gzHead: a HEAD whose GET would be
	// compressed gets gzip's head.
	// ppClient and ppLocal are the client's address and the address it
	// connected to, for the PROXY header of a new upstream connection
	// (sendproxy.go); zero unless the group sends one.
	ppClient, ppLocal netip.AddrPort

	gz         *compressor
	gzChunk    bool
	gzHead     bool
	acceptGzip bool
	// discard: the body is read and dropped (an intercepted error,
	// errorpage.go); discarded counts its bytes.
	discard   bool
	discarded int64

	// What the access log and metrics record (Client.SetResult).
	respStatus int   // status of the final response head sent to the client
	bodyOut    int64 // response body bytes handed to the client

	filtered bool // the client's head filter ran (filter.go)

	// The route's add_header lines with variables (headers.go): what
	// they need of the request, expanded in start (addVars); the
	// response's variables' texts (varText); the head of an error the
	// proxy answers (errHdr); the attempts, when the client's access
	// log does not keep them (ownLog).
	addVars vars.Prepared
	varText []byte
	errHdr  []byte
	ownLog  http.StreamLog
}

var _ http.Stream = (*session)(nil)

func (s *session) loop() *reactor.Loop { return s.h.loop }

// start prepares the exchange from the request head (valid only during
// this call), hijacks the client connection and starts connecting. The
// exchange may end within the call (no backend reachable: an error
// response); the server copes with a stream released inside Serve.
func (s *session) start(x *http.Exchange) {
	req := x.Req
	m := req.Method
	s.idempotent = m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions ||
		m == http.MethodPut || m == http.MethodDelete || m == http.MethodTrace
	s.hasBody = req.HasBody()
	s.headReq = m == http.MethodHead
	s.client10 = req.Major == 1 && req.Minor == 0 // HTTP/2 streams (2.0) take chunked bodies, trailers and all
	s.keepClient = req.KeepAlive
	s.upgradeReq = tunnels(req, x.Buf)
	s.pages = x.ErrorPage
	if s.h.g.sendProxy != 0 {
		s.ppClient, s.ppLocal = x.ClientAddr, x.LocalAddr
	}
	if s.h.gzip != nil {
		v, ok := req.Header(x.Buf, "Accept-Encoding")
		s.acceptGzip = ok && http.AcceptsCoding(v, "gzip")
	}
	s.reqChunked = req.Chunked
	s.reqLeft = 0
	if req.ContentLength > 0 {
		s.reqLeft = req.ContentLength
	}
	s.reqDone = !s.hasBody
	if s.reqChunked {
		if s.reqChunk == nil {
			s.reqChunk = new(http.ChunkedDecoder)
		}
		s.reqChunk.Reset()
	}
	s.cl = x.Takeover.Hijack(s)
	s.slog = s.cl.StreamLog()
	s.prepareHeaders(x)
	l := s.loop()
	// The head sent upstream is the client's plus Host again
	// (X-Forwarded-Host), the forwarding headers and the framing.
	buf := l.GetBuf(len(x.Buf) + int(x.Req.Host.Len) + 512)
	// The scratch lives in the (pooled) session: a local array would
	// escape through the interface call and cost an allocation.
	s.reqBuf = appendRequestHead(buf, x, s.cl.PeerAddr(s.peer[:0]), s.h.g.backends[0].addr, s.h.cfg.UnderscoresInHeaders, s.h.cfg.ProxyForwarded, s.h.cfg.ProxySetHeaders, &s.h.cfg.ProxyURI)
	if cap(s.reqBuf) != cap(buf) || unsafe.SliceData(s.reqBuf) != unsafe.SliceData(buf) {
		// The head outgrew the largest pooled buffer and append moved
		// it to the heap: the pooled one goes back now, the heap one
		// is never put.
		l.PutBuf(buf)
		s.reqHeap = true
	}
	s.replayable = true
	if !s.reqDone {
		// body_timeout runs while the client owes body bytes
		// (between two reads, as nginx's client_body_timeout).
		s.cl.SetTimeout(s.h.cfg.BodyTimeout)
	}
	s.x = x
	s.connect()
	s.x = nil
}

// connect picks a backend and gets a connection to it.
func (s *session) connect() {
	now := s.loop().NowNano()
	for s.tries < maxTries {
		b := s.h.g.pick(s.tried, now)
		if b == nil {
			break
		}
		s.tries++
		s.tried |= 1 << uint(b.index)
		s.tryStart = now
		s.slog.Start(b.peer)
		if b.m != nil {
			b.m.Attempt()
		}
		if r := s.retryFrom; r != nil {
			s.retryFrom = nil
			if r.m != nil {
				r.m.Retried()
			}
		}
		u, reused, err := s.h.g.getConn(b, s, s.h.cfg.ProxyConnectTimeout)
		if err != nil {
			b.count(metrics.ErrConnect)
			b.failed(now)
			s.status = 502
			s.tryFailed(502)
			s.upErrorf("proxy: connect to %s: %v", b.label, err)
			continue
		}
		s.b, s.up = b, u
		b.addActive(1)
		if reused {
			s.upConnected(nil)
		}
		return
	}
	if s.status == 0 {
		s.status = 502
	}
	s.respondError(s.status)
}

// upConnected continues once the connection to the backend is up.
func (s *session) upConnected(err error) {
	if err != nil {
		s.b.count(metrics.ErrConnect)
		s.upErrorf("proxy: connect to %s: %v", s.b.label, err)
		s.retry(502, true)
		return
	}
	if m := s.b.m; m != nil && !s.up.reused {
		m.Connected(s.loop().NowNano() - s.tryStart)
	}
	if t := s.slog.Try(); t != nil {
		t.ConnectNs = 0 // a pooled connection
		if !s.up.reused {
			t.ConnectNs = s.loop().NowNano() - s.tryStart
		}
	}
	s.connected = true
	s.up.startRecv()
	s.up.rc.SetTimeout(s.h.cfg.ProxyTimeout)
	s.sendUp()
}

// takeBody moves request body bytes from b into reqBuf, as far as the
// framing and the buffer allow, and returns how many it took.
func (s *session) takeBody(b []byte) int {
	if s.reqDone || s.upSending {
		return 0
	}
	room := cap(s.reqBuf) - len(s.reqBuf)
	if room > len(b) {
		room = len(b)
	}
	b = b[:room]
	if !s.reqChunked {
		n := int64(len(b))
		if n > s.reqLeft {
			n = s.reqLeft
		}
		s.reqBuf = append(s.reqBuf, b[:n]...)
		s.reqLeft -= n
		s.reqDone = s.reqLeft == 0
		return int(n)
	}
	// A chunked body is decoded and framed again by us: what reaches
	// the backend is exactly the chunks the client's bytes mean (chunk
	// extensions and trailer fields are dropped, as nginx drops them),
	// never bytes whose meaning the backend might read differently.
	pos := 0
	for pos < len(b) {
		room := cap(s.reqBuf) - len(s.reqBuf) - chunkOverhead
		if room <= 0 {
			break
		}
		in := b[pos:]
		if len(in) > room {
			in = in[:room]
		}
		n, data, done, err := s.reqChunk.Next(in)
		pos += n
		if err != nil {
			s.h.log.Infof("proxy: bad chunked request body from %s: %v", s.cl.PeerAddr(s.peer[:0]), err)
			s.clientError(400)
			return 0
		}
		if max := s.h.cfg.MaxBodySize; max > 0 && s.reqChunk.Payload() > max {
			s.clientError(413)
			return 0
		}
		if len(data) > 0 {
			s.reqBuf = strconv.AppendInt(s.reqBuf, int64(len(data)), 16)
			s.reqBuf = append(s.reqBuf, "\r\n"...)
			s.reqBuf = append(s.reqBuf, data...)
			s.reqBuf = append(s.reqBuf, "\r\n"...)
		}
		if done {
			s.reqBuf = append(s.reqBuf, "0\r\n\r\n"...)
			s.reqDone = true
			break
		}
		if n == 0 {
			break
		}
	}
	return pos
}

// chunkOverhead is the room kept in reqBuf for the framing of one
// re-encoded chunk (16 hex digits, two CRLFs) and the last chunk.
const chunkOverhead = 16 + 4 + 5

// clientError ends an exchange whose request body the client framed
// badly (400) or made too large (413): the backend is not to blame, and
// the client gets the status if no response has started, else a close.
func (s *session) clientError(status int) {
	s.keepClient, s.keepUp = false, false
	s.reqDone = true
	s.replayable = false
	s.respondError(status)
}

// ClientData takes request body bytes (or tunnel bytes) from the client.
// It refills reqBuf from b itself while sends finish at once: the bytes
// it leaves are appended to the server's buffer only after it returns, so
// afterUpSend must not look at Buffered (or resume reading) meanwhile.
func (s *session) ClientData(b []byte) int {
	s.inData = true
	n := s.take(b)
	for s.cl != nil && s.connected && !s.upSending && len(s.reqBuf) > s.sentOff && !s.held {
		s.sendUp()
		if s.cl == nil || n == len(b) {
			break
		}
		n += s.take(b[n:])
	}
	s.inData = false
	if s.cl != nil {
		switch {
		case s.mode == modeTunnel:
			s.cl.SetTimeout(s.h.cfg.ProxyTimeout)
		case s.reqDone:
			if !s.clientSending {
				s.cl.SetTimeout(0)
			}
		case n < len(b):
			// Full: the client waits for the backend, which
			// proxy_timeout watches; the client is not late.
			if !s.clientSending {
				s.cl.SetTimeout(0)
			}
		case n > 0:
			s.cl.SetTimeout(s.h.cfg.BodyTimeout)
		}
		// Taking fewer than len(b) (body bytes beyond the buffer, or
		// the next pipelined request) makes the server keep the rest
		// and stop reading until afterUpSend asks with ResumeRecv.
	}
	return n
}

// take moves client bytes into reqBuf as the mode allows.
func (s *session) take(b []byte) int {
	if s.mode == modeTunnel {
		if s.up != nil && s.up.rc != nil {
			s.up.rc.SetTimeout(s.h.cfg.ProxyTimeout)
		}
		return s.takeTunnel(b)
	}
	return s.takeBody(b)
}

// sendUp sends reqBuf to the backend, then refills it from the client
// until the request is complete or a send has to wait.
func (s *session) sendUp() {
	for !s.upSending && s.up != nil && len(s.reqBuf) > s.sentOff && !s.held {
		done, err := s.up.send(s.reqBuf[s.sentOff:])
		if err != nil {
			s.upFailed(err)
			return
		}
		s.sentAny = true
		if !done {
			s.upSending = true
			return
		}
		if s.mode != modeTunnel {
			// proxy_timeout runs between two successful operations, so a
			// long upload to a slow reader is not cut short.
			s.up.rc.SetTimeout(s.h.cfg.ProxyTimeout)
		}
		if !s.afterUpSend() {
			return
		}
	}
}

// afterUpSend handles a finished send to the backend; it reports whether
// there is more to send now.
func (s *session) afterUpSend() bool {
	s.sentOff = len(s.reqBuf)
	if s.reqDone && s.mode != modeTunnel {
		// The whole request is out; keep reqBuf for a retry until the
		// response starts, but send nothing more.
		if s.replayable {
			s.held = true
			return false
		}
		s.reqBuf, s.sentOff = s.reqBuf[:0], 0
		return false
	}
	// While the request so far still fits, the body is appended after
	// what was sent, so the whole request stays replayable: a head sent
	// at once on a pooled connection the backend had just closed is
	// retried with its body on a fresh one (the body usually arrives an
	// instant after the head). Only a body bigger than the buffer makes
	// the request one that cannot be replayed.
	if !s.replayable || s.mode == modeTunnel || cap(s.reqBuf)-len(s.reqBuf) < minReplayRoom {
		s.replayable = false
		s.reqBuf, s.sentOff = s.reqBuf[:0], 0
	}
	if s.cl == nil || s.inData {
		return false // ClientData refills from its own bytes
	}
	if !s.reqDone || s.mode == modeTunnel {
		// Ask for more: the server offers what it holds through
		// ClientData once this event's handlers have returned.
		if s.mode != modeTunnel && !s.clientSending {
			s.cl.SetTimeout(s.h.cfg.BodyTimeout)
		}
		s.cl.ResumeRecv()
	}
	return len(s.reqBuf) > s.sentOff
}

// minReplayRoom is the room reqBuf must have left for the body to be
// appended after the bytes already sent (else the buffer is reused from
// its start and the request is no longer replayable).
const minReplayRoom = 1024

// upSent continues after a send to the backend that had to wait.
func (s *session) upSent(err error) {
	s.upSending = false
	if err != nil {
		s.upFailed(err)
		return
	}
	if s.mode != modeTunnel {
		s.up.rc.SetTimeout(s.h.cfg.ProxyTimeout)
	}
	if s.afterUpSend() {
		s.sendUp()
	}
}

// finish ends a complete exchange: the backend connection goes back to the
// pool when reusable, the client connection back to the server.
func (s *session) finish() {
	if u := s.up; u != nil {
		s.b.addActive(-1)
		if m := s.b.m; m != nil && s.headDone && s.mode != modeTunnel {
			m.Responded(s.loop().NowNano() - s.tryStart)
		}
		if t := s.slog.Try(); t != nil {
			t.ResponseNs = s.loop().NowNano() - s.tryStart
		}
		s.up = nil
		if s.keepUp && s.reqDone && !s.upEOF && !s.upSending {
			s.h.g.putIdle(u)
		} else {
			u.close()
		}
	}
	s.release(s.keepClient && s.reqDone && !s.clientEOF)
}

// release gives buffers back, hands the client connection back to the
// server and recycles the session. s must not be used afterwards.
func (s *session) release(keepClient bool) {
	s.releaseAs(keepClient, false)
}

// releaseAs ends the session: buffers back, the result recorded, the
// client connection released (or aborted), s recycled. The server
// applies Release and Abort only after the current call returns, so a
// caller up the stack sees cl == nil and stops.
func (s *session) releaseAs(keepClient, abort bool) {
	l := s.loop()
	if s.reqBuf != nil && !s.reqHeap {
		l.PutBuf(s.reqBuf[:0:cap(s.reqBuf)])
	}
	if s.rbuf != nil {
		l.PutBuf(s.rbuf[:0:cap(s.rbuf)])
	}
	// On Abort with a send to the client in flight, cbuf is the
	// connection's from then on (http.Client.Abort): it goes back to the
	// pool once the send can no longer read it.
	if s.cbuf != nil && !(abort && s.clientSending && s.splicing == 0 && s.cl != nil) {
		l.PutBuf(s.cbuf[:0:cap(s.cbuf)])
	}
	s.reqBuf, s.rbuf, s.cbuf, s.reqHeap = nil, nil, nil, false
	s.endGzip()
	cl := s.cl
	s.cl = nil
	if cl != nil {
		cl.SetResult(s.respStatus, s.bodyOut)
		if abort {
			cl.Abort()
		} else {
			cl.Release(keepClient)
		}
	}
	s.h.putSession(s)
}

// upFailed handles a broken backend connection (a failed send).
func (s *session) upFailed(err error) {
	s.b.count(metrics.ErrReset)
	if !s.gotBytes {
		s.upErrorf("proxy: %s: %v", s.b.label, err)
		s.retry(502, !s.up.reused)
		return
	}
	s.upErrorf("proxy: %s: %v", s.b.label, err)
	s.abort()
}

// upClosed handles the backend's EOF (err nil) or read error.
func (s *session) upClosed(err error) {
	s.upEOF = true
	if s.mode == modeTunnel {
		if len(s.rbuf) == 0 && !s.clientSending {
			s.endTunnel()
		}
		return
	}
	if !s.gotBytes {
		// Closed before any response byte: on a pooled connection the
		// backend most likely closed it while idle, a race every
		// keep-alive client has (retry without blaming the backend);
		// on a fresh one it is a failure.
		if !s.up.reused {
			s.b.count(metrics.ErrReset)
			s.upErrorf("proxy: %s closed the connection before responding (%v)", s.b.label, err)
		}
		s.retry(502, !s.up.reused)
		return
	}
	if s.headDone && s.mode == modeClose {
		s.respDone = true
		if err != nil {
			// A read error, not the body's end: a compressed body,
			// chunked, would look whole, so the client's connection
			// closes as it would have for the backend's bytes.
			s.keepClient = false
		}
	}
	s.pump()
}

// upClosedMidResponse ends a response the backend cut short: the client
// cannot be told in-band once the head is out, so its connection is
// closed; before that it gets a 502.
func (s *session) upClosedMidResponse() {
	s.b.count(metrics.ErrReset)
	if !s.headDone {
		s.upErrorf("proxy: %s closed the connection in the response head", s.b.label)
		s.tryFailed(502)
		s.b.failed(s.loop().NowNano())
		s.respondError(502)
		return
	}
	s.upErrorf("proxy: %s closed the connection mid-response", s.b.label)
	s.abort()
}

// upTimeout handles proxy_connect_timeout and proxy_timeout. As in nginx,
// a timeout answers 504, and a request that can be replayed is first
// tried on the next backend (proxy_next_upstream error timeout).
func (s *session) upTimeout() {
	if s.mode == modeTunnel {
		s.endTunnel()
		return
	}
	if !s.connected {
		s.b.count(metrics.ErrTimeout)
		s.upErrorf("proxy: connect to %s timed out", s.b.label)
		s.retry(504, true)
		return
	}
	if !s.reqDone && !s.upSending && !s.gotBytes {
		// The backend waits for body bytes the client has not sent:
		// body_timeout on the client side decides, not this timer.
		s.up.rc.SetTimeout(s.h.cfg.ProxyTimeout)
		return
	}
	s.b.count(metrics.ErrTimeout)
	s.upErrorf("proxy: %s: upstream timed out", s.b.label)
	if s.headDone {
		s.abort()
		return
	}
	s.retry(504, true)
}

// retry tries the next backend when the request can be replayed: nothing
// of the response seen, the request still whole in reqBuf, and either
// nothing sent yet (a failed connect), an idempotent method, or a reused
// connection that was most likely stale. Otherwise it answers status.
func (s *session) retry(status int, blame bool) {
	now := s.loop().NowNano()
	reused := s.up != nil && s.up.reused
	sent := s.sentAny
	if blame {
		s.b.failed(now)
	}
	s.tryFailed(status)
	s.status = status
	s.closeUp()
	s.upSending, s.connected, s.held, s.sentOff, s.sentAny = false, false, false, 0, false
	// nginx's rule: a request whose method is not idempotent is never
	// sent twice, even when the backend closed without answering (it
	// may have acted on it).
	if s.replayable && !s.gotBytes && (!sent || s.idempotent) {
		if !blame && reused {
			s.tries-- // a stale pooled connection is not a try
			s.tried &^= 1 << uint(s.b.index)
		}
		s.retryFrom = s.b
		s.connect()
		return
	}
	s.respondError(status)
}

// tryFailed records, for the access log, that the current attempt ended
// without a response: status is what it would answer (502, 504).
func (s *session) tryFailed(status int) {
	if t := s.slog.Try(); t != nil && t.Status == 0 {
		t.Status = status
		t.ResponseNs = s.loop().NowNano() - s.tryStart
	}
}

func (s *session) closeUp() {
	if s.up != nil {
		s.b.addActive(-1)
		s.up.close()
		s.up = nil
	}
}

// respondError sends an error response to the client (if nothing of the
// response was sent yet) and releases everything.
func (s *session) respondError(status int) {
	s.closeUp()
	s.endGzip() // the error goes out as it is
	if s.cl == nil {
		return
	}
	if s.x != nil {
		// Still inside Serve (no backend could be dialed): answer the
		// ordinary way, so that the server discards the body and keeps
		// or closes the connection as for any other response.
		s.x.Resp.Error(status)
		s.release(true)
		return
	}
	if s.headDone || s.clientSending || len(s.cbuf) > 0 {
		s.abort()
		return
	}
	s.headDone, s.respDone, s.mode = true, true, modeNone
	keep := s.keepClient && s.reqDone
	if s.cbuf == nil {
		s.cbuf = s.loop().GetBuf(reactor.SmallBuf)
	}
	var r http.Response
	if !s.errorPage(status, &r) {
		r = http.Response{Status: status, ContentLength: -1, Header: s.errorHeaders(status)}
		r.SetBody(status, "text/html", http.ErrorBody(status))
	}
	r.NoServer = !s.h.cfg.ServerTokens
	if f := s.headFilter(); f != nil {
		scratch := s.loop().GetBuf(reactor.SmallBuf)
		defer s.loop().PutBuf(scratch)
		s.filterError(f, &r, scratch)
		s.growCbuf(len(r.Header) + len(r.Body) + 512)
	}
	s.cbuf = http.AppendHead(s.cbuf, &r, s.cl.Date(), !keep, s.client10 && keep)
	s.respStatus = r.Status
	if !s.headReq {
		s.cbuf = append(s.cbuf, r.Body...)
		s.bodyOut = int64(len(r.Body))
	}
	if r.Release != nil {
		r.Release.Release() // the page's bytes are copied
	}
	s.keepClient = keep
	s.pump()
}

// abort closes both connections at once.
func (s *session) abort() {
	s.closeUp()
	s.releaseAs(false, true)
}

// ClientClosed handles the client's EOF or error.
func (s *session) ClientClosed(err error) {
	s.clientEOF = true
	if s.mode == modeTunnel {
		if err == nil && s.up != nil && s.up.rc != nil {
			s.up.shutdownWrite()
			if s.upEOF {
				s.endTunnel()
			}
			return
		}
		s.endTunnel()
		return
	}
	if err != nil || !s.reqDone {
		s.abort()
	}
	// A client that half-closed after a complete request still gets the
	// response; the connection closes after it.
}

// ClientTimeout handles the client's timer: body_timeout while the
// client owes request body bytes and nothing of the response has gone
// out (408, and the backend is not blamed: nginx's client_body_timeout),
// else send_timeout.
func (s *session) ClientTimeout() {
	if !s.reqDone && !s.headDone && !s.clientSending && len(s.cbuf) == 0 && s.mode != modeTunnel {
		s.h.log.Infof("proxy: client %s timed out sending the request body", s.cl.PeerAddr(s.peer[:0]))
		s.clientError(408)
		return
	}
	s.abort()
}

// upErrorf logs an upstream failure at error level with the address of
// the client whose request it was, as nginx's ", client: ADDR", so that
// an operator can tell whose request failed and on which backend.
func (s *session) upErrorf(format string, args ...any) {
	if !s.h.log.Enabled(logging.Error) {
		return
	}
	msg := fmt.Sprintf(format, args...)
	if s.cl != nil {
		msg += ", client: " + string(s.cl.PeerAddr(s.peer[:0]))
	}
	s.h.log.Errorf("%s", msg)
}
