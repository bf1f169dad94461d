//go:build linux

package proxy

import "github.com/nproxy/nproxy/http"

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
	return true
}
