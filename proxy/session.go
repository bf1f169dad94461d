//go:build linux

package proxy

import (
	"errors"

	"github.com/nproxy/nproxy/http"
	"github.com/nproxy/nproxy/reactor"
)

// Errors of the proxy.
var (
	// errBadResponse is a malformed upstream response head (502).
	errBadResponse = errors.New("proxy: malformed upstream response")
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

// session is one proxied exchange: a client request streamed to a backend
// and its response streamed back, or a tunnel after 101. Two buffers per
// direction at most (one filling, one in flight), so a slow peer on either
// side stops the other side's reading instead of growing memory.
type session struct {
	h  *Handler
	cl http.Client
	up *upConn
	b  *backend

	tried uint64
	tries int

	// request: client → upstream
	idempotent bool
	hasBody    bool
	reqBuf     []byte // head + body bytes for upstream (pooled)
	replayable bool   // reqBuf holds the request from its first byte
	reqLeft    int64  // Content-Length bytes still to take
	reqChunked bool
	reqChunk   *http.ChunkedDecoder
	reqDone    bool // the whole request body is taken from the client
	upSending  bool
	clientEOF  bool

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
}

var _ http.Stream = (*session)(nil)

func (s *session) loop() *reactor.Loop { return s.h.loop }

// start prepares the exchange from the request head (valid only during
// this call) and hijacks the client connection. It returns false after
// answering with an error response instead.
func (s *session) start(x *http.Exchange) bool {
	req := x.Req
	m := req.Method
	s.idempotent = m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions ||
		m == http.MethodPut || m == http.MethodDelete || m == http.MethodTrace
	s.hasBody = req.HasBody()
	s.headReq = m == http.MethodHead
	s.client10 = req.Minor == 0
	s.keepClient = req.KeepAlive
	s.upgradeReq = req.Upgrade
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
	need := len(x.Buf) + 512
	s.reqBuf = s.loop().GetBuf(need)
	if cap(s.reqBuf) < need {
		s.reqBuf = make([]byte, 0, need)
	}
	var peer [64]byte
	s.reqBuf = appendRequestHead(s.reqBuf, x, s.cl.PeerAddr(peer[:0]), "")
	s.replayable = true
	s.connect()
	return true
}

// connect picks a backend and gets a connection to it.
func (s *session) connect() {
	now := s.loop().NowNano()
	for s.tries < maxTries {
		b := s.h.pick(s.tried, now)
		if b == nil {
			break
		}
		s.tries++
		s.tried |= 1 << uint(b.index)
		u, reused, err := s.h.getConn(b, s)
		if err != nil {
			b.failed(now)
			s.h.log.Errorf("proxy: connect to %s: %v", b.addr, err)
			continue
		}
		s.b, s.up = b, u
		b.active++
		if reused {
			s.upConnected(nil)
		}
		return
	}
	s.fail(502)
}

// upConnected continues once the connection to the backend is up.
func (s *session) upConnected(err error) {
	if err != nil {
		s.h.log.Errorf("proxy: connect to %s: %v", s.b.addr, err)
		s.retry(502, true)
		return
	}
	s.up.rc.StartRecv()
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
	pos := 0
	for pos < len(b) {
		n, _, done, err := s.reqChunk.Next(b[pos:])
		pos += n
		if err != nil {
			s.abort()
			return 0
		}
		if max := s.h.cfg.MaxBodySize; max > 0 && s.reqChunk.Payload() > max {
			s.abort()
			return 0
		}
		if done {
			s.reqDone = true
			break
		}
		if n == 0 {
			break
		}
	}
	s.reqBuf = append(s.reqBuf, b[:pos]...)
	return pos
}

// ClientData takes request body bytes (or tunnel bytes) from the client.
func (s *session) ClientData(b []byte) int {
	if s.mode == modeTunnel {
		return s.tunnelIn(b)
	}
	n := s.takeBody(b)
	if s.cl == nil {
		return n
	}
	if n < len(b) && !s.reqDone {
		s.cl.PauseRecv()
	}
	if s.up != nil && s.up.rc != nil && !s.upSending && s.up.rc.Open() && len(s.reqBuf) > 0 && !s.connecting() {
		s.sendUp()
	}
	return n
}

func (s *session) connecting() bool { return s.up == nil || s.up.rc == nil }

// sendUp sends reqBuf to the backend, then refills it from the client
// until the request is complete or a send has to wait.
func (s *session) sendUp() {
	for !s.upSending && s.up != nil && len(s.reqBuf) > 0 {
		done, err := s.up.rc.Send(s.reqBuf)
		if err != nil {
			s.upFailed(err)
			return
		}
		if !done {
			s.upSending = true
			return
		}
		if !s.afterUpSend() {
			return
		}
	}
}

// afterUpSend handles a finished send to the backend; it reports whether
// there is more to send now.
func (s *session) afterUpSend() bool {
	if s.reqDone && s.mode != modeTunnel {
		// The whole request is out; keep reqBuf for a retry until the
		// response starts, but send nothing more.
		if s.replayable {
			s.reqBuf = s.reqBuf[:len(s.reqBuf):len(s.reqBuf)]
			return false
		}
		s.reqBuf = s.reqBuf[:0]
		return false
	}
	s.replayable = false
	s.reqBuf = s.reqBuf[:0]
	if s.cl == nil {
		return false
	}
	if s.mode == modeTunnel {
		if buf := s.cl.Buffered(); len(buf) > 0 {
			s.cl.Consume(s.takeTunnel(buf))
		}
	} else if buf := s.cl.Buffered(); len(buf) > 0 {
		s.cl.Consume(s.takeBody(buf))
	}
	if s.cl != nil && !s.reqDone || s.mode == modeTunnel {
		s.cl.ResumeRecv()
	}
	return len(s.reqBuf) > 0
}

// upSent continues after a send to the backend that had to wait.
func (s *session) upSent(err error) {
	s.upSending = false
	if err != nil {
		s.upFailed(err)
		return
	}
	if s.afterUpSend() {
		s.sendUp()
	}
}

// upRecv takes bytes from the backend.
func (s *session) upRecv(data []byte) {
	s.gotBytes = true
	s.rbuf = appendBuf(s.loop(), s.rbuf, data)
	if len(s.rbuf) >= pauseAt {
		s.up.rc.StopRecv()
	}
	s.up.rc.SetTimeout(s.h.cfg.ProxyTimeout)
	s.pump()
}

// pump forwards what the backend sent to the client: the head (once),
// then body bytes, as the framing allows.
func (s *session) pump() {
	for s.cl != nil {
		if !s.headDone {
			if !s.readHead() {
				return
			}
			continue
		}
		if s.clientSending {
			return
		}
		if len(s.rbuf) > 0 && !s.respDone {
			s.moveBody()
		}
		if len(s.cbuf) > 0 {
			done, err := s.cl.Send(s.cbuf)
			if err != nil {
				s.abort()
				return
			}
			if !done {
				s.clientSending = true
				s.cl.SetTimeout(s.h.cfg.SendTimeout)
				return
			}
			s.cbuf = s.cbuf[:0]
			continue
		}
		if s.respDone {
			s.finish()
			return
		}
		if s.upEOF {
			if s.mode == modeTunnel {
				s.endTunnel()
			} else {
				s.upClosedMidResponse()
			}
			return
		}
		if s.up != nil && s.up.rc != nil {
			s.up.rc.StartRecv()
		}
		return
	}
}

// readHead parses the upstream response head in rbuf and queues the
// client's head in cbuf. It reports whether it made progress.
func (s *session) readHead() bool {
	if s.clientSending {
		return false
	}
	h, ok, err := parseRespHead(s.rbuf)
	if err != nil {
		s.h.log.Errorf("proxy: %s: %v", s.b.addr, err)
		s.b.failed(s.loop().NowNano())
		s.keepUp = false
		s.respondError(502)
		return false
	}
	if !ok {
		return false
	}
	if s.cbuf == nil {
		s.cbuf = s.loop().GetBuf(h.headLen + 256)
	}
	if h.status >= 100 && h.status < 200 && h.status != 101 {
		// Interim response (100 Continue, 103): forward, then wait for
		// the final one.
		s.cbuf = append(s.cbuf, s.rbuf[:h.headLen]...)
		s.consumeR(h.headLen)
		return true
	}
	s.headDone = true
	s.b.succeeded()
	upgrade := h.status == 101 && s.upgradeReq
	switch {
	case upgrade:
		s.mode = modeTunnel
	case s.headReq || h.status == 204 || h.status == 304 || h.status < 200:
		s.mode = modeNone
	case h.chunked:
		s.mode = modeChunked
		if s.respChunk == nil {
			s.respChunk = new(http.ChunkedDecoder)
		}
		s.respChunk.Reset()
		s.dechunk = s.client10
	case h.contentLength >= 0:
		s.mode, s.respLeft = modeLength, h.contentLength
	default:
		s.mode = modeClose
	}
	s.keepUp = !h.close && s.mode != modeClose && s.mode != modeTunnel
	if s.mode == modeClose || s.dechunk || h.status == 101 && !upgrade {
		s.keepClient = false
	}
	if !s.reqDone && s.mode != modeTunnel {
		// The backend answered before taking the whole body: the rest
		// of the body is never read, so neither connection is reusable.
		s.keepClient, s.keepUp = false, false
	}
	closeClient := !s.keepClient && !upgrade
	s.cbuf = appendClientHead(s.cbuf, s.rbuf, &h, s.cl.Date(), closeClient, s.client10 && s.keepClient, upgrade, s.dechunk)
	s.consumeR(h.headLen)
	s.respDone = s.mode == modeNone || s.mode == modeLength && s.respLeft == 0
	// The response has started: the request can no longer be retried.
	if s.replayable && s.reqDone {
		s.replayable = false
		s.reqBuf = s.reqBuf[:0]
	}
	if upgrade {
		s.startTunnel()
	}
	return true
}

// moveBody moves body bytes from rbuf to cbuf within the framing.
func (s *session) moveBody() {
	room := cap(s.cbuf) - len(s.cbuf)
	if s.cbuf == nil || room < 1024 {
		if s.cbuf == nil {
			s.cbuf = s.loop().GetBuf(reactor.SmallBuf)
			room = cap(s.cbuf)
		} else if len(s.cbuf) > 0 {
			return // send what is there first
		}
	}
	b := s.rbuf
	if len(b) > room {
		b = b[:room]
	}
	switch s.mode {
	case modeTunnel, modeClose:
		s.cbuf = append(s.cbuf, b...)
		s.consumeR(len(b))
	case modeLength:
		n := int64(len(b))
		if n > s.respLeft {
			n = s.respLeft
		}
		s.cbuf = append(s.cbuf, b[:n]...)
		s.respLeft -= n
		s.consumeR(int(n))
		if s.respLeft == 0 {
			s.respDone = true
		}
	case modeChunked:
		pos := 0
		for pos < len(b) {
			n, data, done, err := s.respChunk.Next(b[pos:])
			if err != nil {
				s.h.log.Errorf("proxy: %s: bad chunked response: %v", s.b.addr, err)
				s.keepUp = false
				s.abort()
				return
			}
			if s.dechunk {
				s.cbuf = append(s.cbuf, data...)
			} else {
				s.cbuf = append(s.cbuf, b[pos:pos+n]...)
			}
			pos += n
			if done {
				s.respDone = true
				break
			}
			if n == 0 {
				break
			}
		}
		s.consumeR(pos)
	}
	if s.respDone && len(s.rbuf) > 0 {
		s.keepUp = false // bytes after the response: not reusable
		s.rbuf = s.rbuf[:0]
	}
}

// consumeR drops n bytes from the front of rbuf.
func (s *session) consumeR(n int) {
	k := copy(s.rbuf, s.rbuf[n:])
	s.rbuf = s.rbuf[:k]
}

// ClientSent continues after a send to the client that had to wait.
func (s *session) ClientSent(err error) {
	s.clientSending = false
	if err != nil {
		s.abort()
		return
	}
	s.cl.SetTimeout(0)
	s.cbuf = s.cbuf[:0]
	if s.up != nil && s.up.rc != nil && len(s.rbuf) < pauseAt && !s.upEOF {
		s.up.rc.StartRecv()
	}
	s.pump()
}

// finish ends a complete exchange: the backend connection goes back to the
// pool when reusable, the client connection back to the server.
func (s *session) finish() {
	if u := s.up; u != nil {
		s.b.active--
		s.up = nil
		if s.keepUp && s.reqDone && !s.upEOF && !s.upSending {
			s.h.putIdle(u)
		} else {
			u.close()
		}
	}
	s.release(s.keepClient && s.reqDone && !s.clientEOF)
}

// release gives buffers back, hands the client connection back to the
// server and recycles the session. s must not be used afterwards.
func (s *session) release(keepClient bool) {
	l := s.loop()
	for _, b := range [][]byte{s.reqBuf, s.rbuf, s.cbuf} {
		if b != nil {
			l.PutBuf(b[:0:cap(b)])
		}
	}
	s.reqBuf, s.rbuf, s.cbuf = nil, nil, nil
	cl := s.cl
	s.cl = nil
	h := s.h
	h.putSession(s)
	if cl != nil {
		cl.Release(keepClient)
	}
}

// upFailed handles a broken backend connection.
func (s *session) upFailed(err error) {
	if !s.gotBytes {
		s.retry(502, !s.up.reused)
		return
	}
	s.h.log.Errorf("proxy: %s: %v", s.b.addr, err)
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
		// Closed before any response byte: a stale keep-alive connection
		// (retry without blaming the backend) or a failure.
		s.retry(502, err != nil || !s.up.reused)
		return
	}
	if s.headDone && s.mode == modeClose {
		s.respDone = true
	}
	s.pump()
}

// upClosedMidResponse ends a response the backend cut short: the client
// cannot be told in-band, so its connection is closed.
func (s *session) upClosedMidResponse() {
	if !s.headDone {
		s.respondError(502)
		return
	}
	s.h.log.Errorf("proxy: %s closed the connection mid-response", s.b.addr)
	s.abort()
}

// upTimeout handles proxy_connect_timeout and proxy_timeout.
func (s *session) upTimeout() {
	if s.mode == modeTunnel {
		s.endTunnel()
		return
	}
	s.h.log.Errorf("proxy: %s: upstream timed out", s.b.addr)
	if s.connecting() || s.up.rc.Open() && !s.gotBytes && s.isConnecting() {
		s.retry(504, true)
		return
	}
	if s.headDone {
		s.abort()
		return
	}
	s.b.failed(s.loop().NowNano())
	s.closeUp()
	s.respondError(504)
}

func (s *session) isConnecting() bool {
	return !s.upSending && len(s.reqBuf) > 0 && s.replayable && !s.up.reused
}

// retry tries the next backend when the request can be replayed (nothing
// of the response seen, the request still whole in reqBuf, and idempotent
// or sent on a reused connection that may have been stale); otherwise it
// answers status.
func (s *session) retry(status int, blame bool) {
	now := s.loop().NowNano()
	reused := s.up != nil && s.up.reused
	if blame {
		s.b.failed(now)
	}
	s.closeUp()
	s.upSending = false
	if s.replayable && !s.gotBytes && (s.idempotent || reused || !s.hasBody) {
		if !blame && reused {
			s.tries-- // a stale pooled connection is not a try
			s.tried &^= 1 << uint(s.b.index)
		}
		s.connect()
		return
	}
	s.respondError(status)
}

func (s *session) closeUp() {
	if s.up != nil {
		s.b.active--
		s.up.close()
		s.up = nil
	}
}

// fail answers status when no backend could be reached.
func (s *session) fail(status int) { s.respondError(status) }

// respondError sends an error response to the client (if nothing of the
// response was sent yet) and releases everything.
func (s *session) respondError(status int) {
	s.closeUp()
	if s.cl == nil {
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
	r := http.Response{Status: status, ContentLength: -1}
	r.SetBody(status, "text/html", http.ErrorBody(status))
	s.cbuf = http.AppendHead(s.cbuf, &r, s.cl.Date(), !keep, s.client10 && keep)
	if !s.headReq {
		s.cbuf = append(s.cbuf, r.Body...)
	}
	s.keepClient = keep
	s.pump()
}

// abort closes both connections at once.
func (s *session) abort() {
	s.closeUp()
	cl := s.cl
	s.cl = nil
	s.release(false)
	if cl != nil {
		cl.Abort()
	}
}

// ClientClosed handles the client's EOF or error.
func (s *session) ClientClosed(err error) {
	s.clientEOF = true
	if s.mode == modeTunnel {
		if err == nil && s.up != nil && s.up.rc != nil {
			s.up.rc.ShutdownWrite()
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

// ClientTimeout handles send_timeout towards the client.
func (s *session) ClientTimeout() { s.abort() }

// appendBuf appends data to a pooled buffer, growing it (pool classes,
// then the heap for a burst that arrived after reading stopped).
func appendBuf(l *reactor.Loop, b, data []byte) []byte {
	if len(b)+len(data) <= cap(b) {
		return append(b, data...)
	}
	need := len(b) + len(data)
	var nb []byte
	if need <= reactor.LargeBuf {
		nb = l.GetBuf(need)
	} else {
		nb = make([]byte, 0, need)
	}
	nb = append(nb, b...)
	nb = append(nb, data...)
	if b != nil {
		l.PutBuf(b[:0:cap(b)])
	}
	return nb
}
