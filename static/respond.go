//go:build linux

package static

import (
	"strconv"

	"github.com/nproxy/nproxy/http"
)

// serveFile answers with regular file e: 304 when the request's
// validators match, 206 or 416 for a single byte range, else 200. The
// conditional order is RFC 9110 §13.2.2's for a GET: If-None-Match, or
// when absent If-Modified-Since; then Range, subject to If-Range.
func (h *Handler) serveFile(x *http.Exchange, e *entry) {
	r, req := &x.Resp, x.Req
	if v := req.IfNoneMatch; !v.Empty() {
		if etagMatch(v.Bytes(x.Buf), e.etag) {
			notModified(r, e)
			return
		}
	} else if v := req.IfModifiedSince; !v.Empty() {
		if notModifiedSince(v.Bytes(x.Buf), e) {
			notModified(r, e)
			return
		}
	}

	r.Header = append(r.Header, e.header...)
	off, n := int64(0), e.size
	r.Status = 200
	if v := req.Range; !v.Empty() && rangeApplies(x, e) {
		var res rangeResult
		switch off, n, res = parseRange(v.Bytes(x.Buf), e.size); res {
		case rangeSatisfiable:
			r.Status = 206
			r.Header = append(r.Header, "Content-Range: bytes "...)
			r.Header = strconv.AppendInt(r.Header, off, 10)
			r.Header = append(r.Header, '-')
			r.Header = strconv.AppendInt(r.Header, off+n-1, 10)
			r.Header = append(r.Header, '/')
			r.Header = strconv.AppendInt(r.Header, e.size, 10)
			r.Header = append(r.Header, "\r\n"...)
		case rangeUnsatisfiable:
			// The file's own headers stay out of an error page.
			r.Header = r.Header[:len(r.Header)-len(e.header)]
			r.Error(416)
			r.Header = append(r.Header, "Content-Range: bytes */"...)
			r.Header = strconv.AppendInt(r.Header, e.size, 10)
			r.Header = append(r.Header, "\r\n"...)
			return
		default:
			off, n = 0, e.size
		}
	}

	r.ContentLength = n
	if e.body != nil {
		r.Kind, r.Body = http.BodyBytes, e.body[off:off+n]
		return
	}
	e.refs.Add(1)
	r.Kind, r.File, r.FileOff, r.FileLen, r.Release = http.BodyFile, e.fd, off, n, e
}

// rangeApplies reports whether a Range header may be honoured: always,
// unless an If-Range names another version of the file. If-Range has no
// span of its own in Request, so it is looked up only when Range is set.
func rangeApplies(x *http.Exchange, e *entry) bool {
	v, ok := x.Req.Header(x.Buf, "If-Range")
	return !ok || ifRangeMatch(v, e)
}

// notModified answers 304 with the validators and no body.
func notModified(r *http.Response, e *entry) {
	r.Status = 304
	r.ContentLength = -1
	r.Kind = http.BodyNone
	r.Header = append(r.Header, e.header[:e.notModLen]...)
}
