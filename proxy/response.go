//go:build linux

package proxy

import (
	"errors"

	"github.com/nproxy/nproxy/http"
	"github.com/nproxy/nproxy/metrics"
	"github.com/nproxy/nproxy/reactor"
	"github.com/nproxy/nproxy/vars"
)

// The response direction of a session: bytes from the backend, the
// response head rewritten for the client, the body forwarded by copy
// within its framing or spliced, and the client's send completions.

// upRecv takes bytes from the backend.
func (s *session) upRecv(data []byte) {
	s.gotBytes = true
	s.rbuf = s.loop().AppendBuf(s.rbuf, data)
	s.up.rc.SetTimeout(s.h.cfg.ProxyTimeout)
	if len(s.rbuf) >= s.readLimit() {
		s.up.stopRecv()
	}
	s.pump()
}

// readLimit is how much upstream data rbuf may hold before reading
// pauses: a whole response head (up to http.MaxHeadLen) until the head
// is parsed, then pauseAt.
func (s *session) readLimit() int {
	if s.headDone {
		return pauseAt
	}
	return http.MaxHeadLen
}

// recvUp resumes reading from the backend when there is room.
func (s *session) recvUp() {
	if s.up != nil && s.up.rc != nil && len(s.rbuf) < s.readLimit() && !s.upEOF {
		s.up.startRecv()
	}
}

// pump forwards what the backend sent to the client: interim heads, the
// final head (once), then body bytes, as the framing allows. A head and
// the body bytes after it leave in one send.
func (s *session) pump() {
	for s.cl != nil && !s.clientSending {
		if !s.headDone {
			progress := s.readHead()
			if s.cl == nil || s.clientSending {
				return // ended, or an error answer is on its way
			}
			if progress && s.headDone && s.mode != modeTunnel {
				continue // add the first body bytes to the head
			}
		} else if s.gz != nil {
			if len(s.rbuf) > 0 || s.gzipPending() {
				s.gzipMove()
				if s.cl == nil {
					return
				}
			}
		} else if len(s.rbuf) > 0 && !s.respDone {
			s.moveBody()
			if s.cl == nil {
				return
			}
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
		if !s.headDone {
			if s.upEOF {
				s.upClosedMidResponse()
				return
			}
			s.recvUp()
			return
		}
		if s.respDone && s.gz == nil {
			s.finish()
			return
		}
		if len(s.rbuf) > 0 || s.gzipPending() {
			continue // framing consumed without output (dechunking), or compressed bytes to frame
		}
		if s.upEOF {
			if s.mode == modeTunnel {
				s.endTunnel()
			} else {
				s.upClosedMidResponse()
			}
			return
		}
		if s.spliceBody {
			if testHookSplice != nil {
				testHookSplice()
			}
			s.splice()
			return
		}
		s.recvUp()
		return
	}
}

// splice sends the next piece of the body straight from the upstream
// socket to the client's (rbuf and cbuf are empty: what was buffered went
// first). spliced continues when it is done.
func (s *session) splice() {
	n := min(s.respLeft, splicePiece)
	s.up.rc.SetTimeout(s.h.cfg.ProxyTimeout)
	s.cl.SetTimeout(s.h.cfg.SendTimeout)
	done, err := s.cl.SpliceFrom(s.up.rc, n)
	if err != nil {
		s.upErrorf("proxy: %s: splice: %v", s.b.label, err)
		s.abort()
		return
	}
	if done { // only for n == 0, which respLeft > 0 rules out
		s.spliced(n, nil)
		return
	}
	s.clientSending, s.splicing = true, n
}

// spliced continues after a piece of the body was spliced to the client.
func (s *session) spliced(n int64, err error) {
	s.clientSending, s.splicing = false, 0
	if err != nil {
		if errors.Is(err, reactor.ErrShortSplice) {
			s.upErrorf("proxy: %s closed the connection mid-response", s.b.label)
		}
		// Otherwise the client went away, or the upstream broke: the
		// copy path does not log a failed send to the client either.
		s.abort()
		return
	}
	s.respLeft -= n
	s.bodyOut += n
	if s.respLeft > 0 {
		s.splice()
		return
	}
	s.respDone = true
	s.cl.SetTimeout(0)
	s.pump()
}

// readHead parses the upstream response head in rbuf and queues the
// client's head in cbuf. It reports whether it made progress.
func (s *session) readHead() bool {
	if s.clientSending {
		return false
	}
	h, ok, err := parseRespHead(s.rbuf)
	if err != nil {
		s.upErrorf("proxy: %s: %v", s.b.label, err)
		s.b.count(metrics.ErrInvalid)
		s.tryFailed(502)
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
	if h.status == 101 && !s.upgradeReq {
		// Switching protocols on a request that did not ask to: the
		// connection now speaks something else, and the next client's
		// request must never go down it.
		s.upErrorf("proxy: %s: 101 Switching Protocols to a request without Upgrade", s.b.label)
		s.b.count(metrics.ErrInvalid)
		s.keepUp = false
		s.respondError(502)
		return false
	}
	s.headDone = true
	s.respStatus = h.status
	if t := s.slog.Try(); t != nil {
		t.Status = h.status
	}
	s.b.succeeded()
	if h.status >= 500 {
		s.b.count(metrics.Err5xx)
	}
	upgrade := h.status == 101
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
		// Only once the request is all sent: the upstream conn then
		// has nothing else to do than feed the splice. Never from a
		// TLS backend: splice would move its records undecrypted.
		s.spliceBody = h.contentLength >= spliceThreshold && s.reqDone && !s.upSending && s.up.tls == nil && s.cl.CanSplice()
	default:
		s.mode = modeClose
	}
	s.keepUp = !h.close && s.mode != modeClose && s.mode != modeTunnel
	if !s.reqDone && s.mode != modeTunnel {
		// The backend answered before taking the whole body: the rest
		// of the body is never read, so neither connection is reusable.
		s.keepClient, s.keepUp = false, false
	}
	if s.h.cfg.ProxyInterceptErrors && s.pages != nil && h.status >= 300 && h.status != 304 && !upgrade && s.intercept(&h) {
		return true
	}
	if s.h.gzip != nil {
		s.startGzip(&h)
	}
	if s.mode == modeClose && !s.gzChunk || s.dechunk {
		// The body ends with the connection, unless it goes out
		// compressed and chunked: its last chunk ends it then, and the
		// client's connection goes on (as nginx's).
		s.keepClient = false
	}
	closeClient := !s.keepClient && !upgrade
	if f := s.headFilter(); f != nil {
		status, err := s.appendFilteredHead(f, &h, closeClient, upgrade)
		if err != nil {
			// A module failed on the head: 500 instead, and the
			// upstream's body is not read.
			s.headDone, s.keepUp, s.spliceBody = false, false, false
			s.respondError(500)
			return false
		}
		s.respStatus = status
	} else {
		var vals vars.Values
		if s.h.respHeaders.HasVars() {
			s.responseVars(&vals, h.status)
		}
		s.cbuf = appendClientHead(s.cbuf, s.rbuf, &h, s.cl.Date(), closeClient, s.client10 && s.keepClient, upgrade, s.dechunk, s.respExtra(h.chunked), &s.addVars, &vals, s.respHide(), !s.h.cfg.ServerTokens)
	}
	if s.gz != nil || s.gzHead {
		s.cbuf = appendWeakETag(s.cbuf, s.rbuf, &h)
	}
	s.consumeR(h.headLen)
	s.respDone = s.mode == modeNone || s.mode == modeLength && s.respLeft == 0
	s.responseStarted()
	if upgrade {
		s.startTunnel()
	}
	return true
}

// responseStarted forgets the request kept for a retry: the response
// has started, and the request can no longer be retried.
func (s *session) responseStarted() {
	if s.replayable && s.reqDone {
		s.replayable, s.held, s.sentOff = false, false, 0
		s.reqBuf = s.reqBuf[:0]
	}
}

// moveBody moves body bytes from rbuf to cbuf within the framing.
func (s *session) moveBody() {
	if s.discard {
		s.discardBody()
		return
	}
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
	before := len(s.cbuf)
	defer func() { s.bodyOut += int64(len(s.cbuf) - before) }()
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
		act := chunkCopy
		if s.dechunk {
			act = chunkDechunk
		}
		if !s.takeChunks(b, len(b), act) {
			return
		}
	}
	s.dropAfterResponse()
}

// chunkAction is what takeChunks does with each chunk of a chunked
// response body: the one difference between passing the body on and
// compressing it (a constant, not a func value, so that the body's
// path makes no closure).
type chunkAction uint8

const (
	chunkCopy    chunkAction = iota // the chunk as received, framing included, into cbuf
	chunkDechunk                    // the chunk's data into cbuf (a client that cannot take chunked)
	chunkGzip                       // the chunk's data into the compressor (gzip)
)

// takeChunks consumes the chunks at the front of b (rbuf or a prefix of
// it) while fewer than limit bytes are taken, doing act with each, and
// sets respDone at the body's end. A malformed body is logged, the
// session aborted, and takeChunks reports false.
func (s *session) takeChunks(b []byte, limit int, act chunkAction) bool {
	pos := 0
	for pos < len(b) && pos < limit {
		n, data, done, err := s.respChunk.Next(b[pos:])
		if err != nil {
			s.upErrorf("proxy: %s: bad chunked response: %v", s.b.label, err)
			s.keepUp = false
			s.abort()
			return false
		}
		switch act {
		case chunkCopy:
			s.cbuf = append(s.cbuf, b[pos:pos+n]...)
		case chunkDechunk:
			s.cbuf = append(s.cbuf, data...)
		case chunkGzip:
			if len(data) > 0 {
				s.gz.w.Write(data)
				s.gz.dirty = true
			}
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
	return true
}

// dropAfterResponse drops bytes the backend sent after the response's
// end: the connection is not reusable then.
func (s *session) dropAfterResponse() {
	if s.respDone && len(s.rbuf) > 0 {
		s.keepUp = false
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
	if s.splicing > 0 {
		s.spliced(s.splicing, err)
		return
	}
	s.clientSending = false
	if err != nil {
		s.abort()
		return
	}
	s.cl.SetTimeout(0)
	s.cbuf = s.cbuf[:0]
	s.recvUp()
	s.pump()
}
