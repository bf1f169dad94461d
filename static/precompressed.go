//go:build linux

package static

import (
	"bytes"

	"github.com/nproxy/nproxy/http"
)

// ServeVariant answers x with the regular file at variant (orig plus
// ".gz" or ".br", gzip_static), typed as orig, and reports whether it
// did; it answers nothing when variant is not a regular file, so the
// caller serves orig as usual. The method must be GET or HEAD and the
// paths safe (the caller's router normalized them). The caller adds
// Content-Encoding and Vary.
func (h *Handler) ServeVariant(x *http.Exchange, variant, orig []byte) bool {
	if h.root < 0 || !safePath(variant) {
		return false
	}
	e := h.lookup(variant, x.Now.UnixNano())
	if e == nil || e.kind != kindFile {
		return false
	}
	start := len(x.Resp.Header)
	h.serveFile(x, e)
	retype(&x.Resp, start, contentType(orig))
	return true
}

// contentTypeLine starts the Content-Type line of an entry's header.
var contentTypeLine = []byte("Content-Type: ")

// retype replaces the value of the Content-Type line at or after start
// in r's header with ctype.
func retype(r *http.Response, start int, ctype string) {
	i := bytes.Index(r.Header[start:], contentTypeLine)
	if i < 0 {
		return
	}
	a := start + i + len(contentTypeLine) // the value
	e := bytes.IndexByte(r.Header[a:], '\r')
	if e < 0 {
		return
	}
	b := a + e // its end
	n := len(r.Header)
	d := len(ctype) - (b - a)
	if d > 0 {
		r.Header = append(r.Header, make([]byte, d)...)
	}
	copy(r.Header[a+len(ctype):], r.Header[b:n])
	r.Header = r.Header[:n+d]
	copy(r.Header[a:], ctype)
}
