//go:build linux

package server

import (
	"github.com/nproxy/nproxy/config"
	"github.com/nproxy/nproxy/http"
)

// error_page: an error a route answers is replaced by a page, served as
// if the client had asked for it (nginx's internal redirect, one level:
// an error of the page itself is answered with the built-in page), or by
// a redirect to a URL.

// errorPages are a route's pages by status.
type errorPages struct {
	byCode map[int]*errorPage
}

type errorPage struct {
	path     []byte // the page's path, when not a redirect
	target   []byte // the URL of a redirect
	override int    // =CODE, or 0
}

// newErrorPages indexes cfg's error_page lines; nil without any.
func newErrorPages(pages []config.ErrorPage) *errorPages {
	if len(pages) == 0 {
		return nil
	}
	e := &errorPages{byCode: map[int]*errorPage{}}
	for _, p := range pages {
		ep := &errorPage{override: p.Override}
		if p.Redirect {
			ep.target = []byte(p.Target)
		} else {
			ep.path = []byte(p.Target)
		}
		for _, c := range p.Codes {
			if e.byCode[c] == nil { // the first line naming a code wins
				e.byCode[c] = ep
			}
		}
	}
	return e
}

// serveErrorPage replaces x's error response by route r's page for its
// status, if it has one.
func (rt *router) serveErrorPage(x *http.Exchange, r *route) {
	status := x.Resp.Status
	if status < 300 {
		return
	}
	p := r.errors.byCode[status]
	if p == nil {
		return
	}
	resp := &x.Resp
	if resp.Release != nil {
		resp.Release.Release()
	}
	noServer := resp.NoServer
	// The headers that belong to the error itself are kept for the
	// page: a 401's challenge, a 405's Allow, a 429's Retry-After.
	rt.errHdr = keptLines(rt.errHdr[:0], resp.Header)
	resp.Reset(resp.Header)
	resp.NoServer = noServer
	defer func() {
		if !streaming(x) {
			resp.Header = append(resp.Header, rt.errHdr...)
		}
	}()
	if p.target != nil {
		resp.SetBody(302, "text/html", redirectBodies[302])
		resp.AddHeader("Location", p.target)
		return
	}
	// The page is asked for with GET (as nginx does for a POST), and
	// without the client's validators and range: they were about the
	// resource that failed, not the page.
	req := x.Req
	method, inm, ims, rng := req.Method, req.IfNoneMatch, req.IfModifiedSince, req.Range
	if method != http.MethodHead {
		req.Method = http.MethodGet
	}
	req.IfNoneMatch, req.IfModifiedSince, req.Range = http.Span{}, http.Span{}, http.Span{}
	x.Path, x.Rewritten, x.Prefix = p.path, true, nil
	target := rt.root
	if rt.table != nil {
		var m []int
		target, _, m = rt.table.matchCaptures(p.path)
		rt.s.setCaptures(p.path, m)
	}
	rt.serveRouteInternal(x, target, true)
	req.Method, req.IfNoneMatch, req.IfModifiedSince, req.Range = method, inm, ims, rng
	if streaming(x) {
		return // a proxied page: the backend's answer goes out as it is
	}
	if resp.Status != 200 {
		// The page itself failed: the built-in page of the first error.
		if resp.Release != nil {
			resp.Release.Release()
		}
		resp.Reset(resp.Header)
		resp.NoServer = noServer
		resp.Error(status)
		return
	}
	resp.Status = status
	if p.override != 0 {
		resp.Status = p.override
	}
	resp.Header = dropPageValidators(resp.Header, resp.Status)
}

// proxyErrorPage returns http.Exchange.ErrorPage for route r, or nil
// when r has no error_page or no reverse proxy. The proxy calls it for
// an error of its own that comes after Serve returned (a backend refusing
// or timing out): the page is made as serveErrorPage makes it, by the
// route its path matches, asked for with a bare GET. A page that route
// would proxy is not given, nor one that fails: the proxy then sends its
// built-in page. It runs on the loop thread, never inside Serve (the
// proxy calls it from its own events), so the router's scratch is free.
func (rt *router) proxyErrorPage(r *route) func(status int, resp *http.Response) bool {
	if r.errors == nil || r.proxy == nil {
		return nil
	}
	return func(status int, resp *http.Response) bool {
		p := r.errors.byCode[status]
		if p == nil {
			return false
		}
		resp.Reset(rt.pageHdr)
		if p.target != nil {
			resp.SetBody(302, "text/html", redirectBodies[302])
			resp.AddHeader("Location", p.target)
			rt.pageHdr = resp.Header[:0]
			return true
		}
		target := rt.root
		rt.s.setCaptures(nil, nil)
		if rt.table != nil {
			var m []int
			target, _, m = rt.table.matchCaptures(p.path)
			rt.s.setCaptures(p.path, m)
		}
		req := &rt.pageReq
		req.Reset()
		req.Method, req.Major, req.Minor = http.MethodGet, 1, 1
		x := &rt.page
		*x = http.Exchange{Req: req, Path: p.path, Rewritten: true, Now: rt.s.loop.Now()}
		x.Date = rt.s.date.Get(x.Now)
		x.Resp.Reset(rt.pageHdr)
		rt.serveRouteInternal(x, target, true) // no Takeover: a proxy there declines
		*resp = x.Resp
		rt.pageHdr = resp.Header[:0]
		x.Resp = http.Response{}
		if resp.Status != 200 {
			if resp.Release != nil {
				resp.Release.Release()
			}
			return false
		}
		resp.Status = status
		if p.override != 0 {
			resp.Status = p.override
		}
		resp.Header = dropPageValidators(resp.Header, resp.Status)
		return true
	}
}

// pageValidators are the header names of a page's own response that its
// error response does not carry: validators and ranges describe the page
// as a resource, not the error (nginx's header filter drops
// Last-Modified on a status other than 200, 206 and 304, and its range
// filter offers ranges on 200 only).
var pageValidators = []string{"last-modified", "etag", "accept-ranges"}

// dropPageValidators removes the pageValidators lines from hdr in place
// when the page goes out with a status other than 200 (error_page
// =200 keeps them).
func dropPageValidators(hdr []byte, status int) []byte {
	if status == 200 {
		return hdr
	}
	return appendLines(hdr[:0], hdr, pageValidators, false) // never ahead of what it copies
}

// appendLines appends to dst the lines of hdr ("Name: value\r\n" each)
// whose name is one of names (named) or none of them (!named). dst may
// be hdr[:0]: a line is never written ahead of where it is read.
func appendLines(dst, hdr []byte, names []string, named bool) []byte {
	for len(hdr) > 0 {
		end := 0
		for end < len(hdr) && hdr[end] != '\n' {
			end++
		}
		if end < len(hdr) {
			end++
		}
		line := hdr[:end]
		hdr = hdr[end:]
		if namedIn(line, names) == named {
			dst = append(dst, line...)
		}
	}
	return dst
}

// namedIn reports whether the header line's name is one of names.
func namedIn(line []byte, names []string) bool {
	colon := 0
	for colon < len(line) && line[colon] != ':' {
		colon++
	}
	for _, k := range names {
		if http.EqualFold(line[:colon], k) {
			return true
		}
	}
	return false
}

// keptHeaders are the header names of an error response that its error
// page keeps.
var keptHeaders = []string{"www-authenticate", "allow", "retry-after"}

// keptLines appends to dst the lines of hdr whose name is one of
// keptHeaders.
func keptLines(dst, hdr []byte) []byte { return appendLines(dst, hdr, keptHeaders, true) }
