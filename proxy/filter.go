//go:build linux

package proxy

import (
	"errors"

	"github.com/nproxy/nproxy/http"
	"github.com/nproxy/nproxy/reactor"
	"github.com/nproxy/nproxy/vars"
)

// The server's filter of a proxied response's head (http.HeadFilter: the
// modules' response hooks). The client's head is built as
// appendClientHead builds it, but the fields between Date and
// Content-Length (the upstream's end-to-end fields and add_header's) and
// the status go through the filter first; so does the head of an error
// the proxy answers after Serve (respondError). Without a filter (no
// module with a response hook on the route) nothing of this runs.

// maxFilteredFields bounds the fields of a filtered head: a module that
// adds more makes the exchange fail (500) rather than the head outgrow
// the client buffer (reactor.LargeBuf, with the upstream's head and any
// interim heads before it).
const maxFilteredFields = 32 << 10

// errFilteredHead is logged when a filter made a head too large.
var errFilteredHead = errors.New("proxy: the response head's fields grew past 32 KiB in the modules' response hooks")

// headFilter returns the client's head filter, once per exchange: nil
// when there is none or it ran already.
func (s *session) headFilter() http.HeadFilter {
	if s.filtered || s.cl == nil {
		return nil
	}
	f := s.cl.HeadFilter()
	if f != nil {
		s.filtered = true
	}
	return f
}

// appendFilteredHead appends the client's head for h to cbuf, as
// appendClientHead does, with the status and the fields given to f
// first. It returns the status sent, or an error when f failed or made
// the head too large: nothing is appended then, and the exchange is
// answered 500.
func (s *session) appendFilteredHead(f http.HeadFilter, h *respHead, closeClient, upgrade bool) (int, error) {
	l := s.loop()
	scratch := l.GetBuf(reactor.SmallBuf)
	defer l.PutBuf(scratch)
	var vals vars.Values
	if s.h.respHeaders.HasVars() {
		s.responseVars(&vals, h.status)
	}
	r := http.Response{Status: h.status, ContentLength: -1,
		Header: appendFields(scratch, s.rbuf, h, upgrade, s.dechunk, s.respExtra(h.chunked), &s.addVars, &vals, s.respHide())}
	if err := f.FilterHead(&r); err != nil {
		return 0, err
	}
	if len(r.Header) > maxFilteredFields {
		s.h.log.Errorf("%v", errFilteredHead)
		return 0, errFilteredHead
	}
	s.growCbuf(len(r.Header) + h.headLen + 256)
	if r.Status == h.status {
		s.cbuf = appendStatusLine(s.cbuf, r.Status, h.head.Reason.Bytes(s.rbuf))
	} else {
		s.cbuf = http.AppendStatusLine(s.cbuf, r.Status) // the new status's own reason
	}
	s.cbuf = appendServerDate(s.cbuf, s.cl.Date(), !s.h.cfg.ServerTokens)
	s.cbuf = append(s.cbuf, r.Header...)
	s.cbuf = appendHeadEnd(s.cbuf, h.contentLength, closeClient, s.client10 && s.keepClient, upgrade)
	return r.Status, nil
}

// filterError gives the head of an error the proxy answers (r, whose
// Header is not r's own: add_header's or the page's lines) to the
// filter, on a copy of its fields in scratch. When the filter fails, r
// becomes the built-in 500 page.
func (s *session) filterError(f http.HeadFilter, r *http.Response, scratch []byte) {
	r.Header = append(scratch, r.Header...)
	if f.FilterHead(r) == nil && len(r.Header) <= maxFilteredFields {
		return
	}
	if r.Release != nil {
		r.Release.Release()
	}
	*r = http.Response{Status: 500, ContentLength: -1, Header: s.errorHeaders(500), NoServer: r.NoServer}
	r.SetBody(500, "text/html", http.ErrorBody(500))
}

// growCbuf makes room for n more bytes in cbuf, in a pooled buffer.
func (s *session) growCbuf(n int) {
	if cap(s.cbuf)-len(s.cbuf) >= n {
		return
	}
	l := s.loop()
	nb := append(l.GetBuf(len(s.cbuf)+n), s.cbuf...)
	l.PutBuf(s.cbuf[:0:cap(s.cbuf)])
	s.cbuf = nb
}
