//go:build linux

package proxy

import (
	"github.com/nproxy/nproxy/http"
	"github.com/nproxy/nproxy/reactor"
)

// error_page for the proxy's own errors: a 502 or 504 the proxy decides
// after Serve returned (a backend refused, timed out or broke before
// answering) is answered with the route's error_page, which the server
// makes (http.Exchange.ErrorPage), when nothing of the response went out
// yet. A failure inside Serve is answered in the Exchange, and the
// server's error_page step sees it there.

// maxPageBody bounds a page sent for the proxy's errors: it goes out from
// the session's client buffer (reactor.SmallBuf) with its head, so it
// must come in memory (the static step keeps files up to 16 KiB there)
// and leave room for the head; a larger page is not sent, the built-in
// one is.
const maxPageBody = 12 << 10

// errorPage fills r with the route's page for status, the route's
// add_header lines appended. It reports false when there is none or it
// cannot be sent; r's Release, when set, is the caller's to call once
// the body is copied.
func (s *session) errorPage(status int, r *http.Response) bool {
	if s.pages == nil || !s.pages(status, r) {
		return false
	}
	if r.Kind == http.BodyFile || len(r.Body) > maxPageBody {
		if r.Release != nil {
			r.Release.Release()
		}
		return false
	}
	r.Header = append(r.Header, s.h.respHeaders.Lines(r.Status)...)
	r.Header = s.appendVarHeaders(r.Header, &s.h.respHeaders, r.Status)
	return true
}

// maxDiscard bounds the body of an intercepted backend error that is
// read and dropped to keep the upstream connection: a longer one (or
// one whose end only the backend's close tells) costs more to read than
// a new connection costs, and the connection is closed instead.
const maxDiscard = 64 << 10

// intercept replaces the backend's error response h with the route's
// error_page for its status (proxy_intercept_errors = on, as nginx's):
// the page's head and body go to the client in place of the backend's,
// whose body is dropped. It reports false, and the response goes
// through, when the route has no page for the status or the page cannot
// be sent from memory. The upstream connection is kept when the body's
// framing tells where it ends and it is at most maxDiscard long (it is
// then read to its end); otherwise it is closed.
func (s *session) intercept(h *respHead) bool {
	var r http.Response
	if !s.errorPage(h.status, &r) {
		return false
	}
	switch {
	case s.mode == modeClose, s.mode == modeLength && s.respLeft > maxDiscard:
		s.mode, s.keepUp = modeNone, false
	case s.mode == modeChunked, s.mode == modeLength:
		s.discard, s.discarded = true, 0
	}
	s.dechunk, s.spliceBody = false, false
	r.NoServer = !s.h.cfg.ServerTokens
	if cap(s.cbuf) < reactor.SmallBuf {
		// The buffer readHead sized for the backend's head: the page
		// goes out from one of respondError's size.
		s.loop().PutBuf(s.cbuf[:0:cap(s.cbuf)])
		s.cbuf = s.loop().GetBuf(reactor.SmallBuf)
	}
	if f := s.headFilter(); f != nil {
		// The modules' response hooks see the page (filter.go).
		scratch := s.loop().GetBuf(reactor.SmallBuf)
		defer s.loop().PutBuf(scratch)
		s.filterError(f, &r, scratch)
		s.growCbuf(len(r.Header) + len(r.Body) + 512)
	}
	s.cbuf = http.AppendHead(s.cbuf, &r, s.cl.Date(), !s.keepClient, s.client10 && s.keepClient)
	s.respStatus = r.Status
	if !s.headReq {
		s.cbuf = s.loop().AppendBuf(s.cbuf, r.Body)
		s.bodyOut = int64(len(r.Body))
	}
	if r.Release != nil {
		r.Release.Release() // the page's bytes are copied
	}
	s.consumeR(h.headLen)
	s.respDone = s.mode == modeNone || s.mode == modeLength && s.respLeft == 0
	if s.respDone && len(s.rbuf) > 0 {
		s.keepUp = false // bytes after the response: not reusable
		s.rbuf = s.rbuf[:0]
	}
	s.responseStarted()
	return true
}

// discardBody drops the body bytes of an intercepted error from rbuf
// within the framing, up to maxDiscard in all; past that the upstream
// connection is given up.
func (s *session) discardBody() {
	n := 0
	switch s.mode {
	case modeLength:
		n = int(min(int64(len(s.rbuf)), s.respLeft))
		s.respLeft -= int64(n)
		s.respDone = s.respLeft == 0
	case modeChunked:
		for n < len(s.rbuf) {
			k, _, done, err := s.respChunk.Next(s.rbuf[n:])
			n += k
			if err != nil {
				s.keepUp, s.respDone = false, true
				break
			}
			if done {
				s.respDone = true
				break
			}
			if k == 0 {
				break
			}
		}
	}
	s.consumeR(n)
	s.discarded += int64(n)
	if !s.respDone && s.discarded > maxDiscard {
		s.keepUp, s.respDone = false, true
	}
	if s.respDone && len(s.rbuf) > 0 {
		s.keepUp = false
		s.rbuf = s.rbuf[:0]
	}
}
