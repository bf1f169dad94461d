//go:build linux

package server

import (
	"strconv"

	"github.com/nproxy/nproxy/config"
	"github.com/nproxy/nproxy/http"
	"github.com/nproxy/nproxy/vars"
)

// Fixed answers: return = CODE [URL or TEXT], and the rewrite rules with
// the redirect or permanent flag. Both expand variables ($scheme, $host,
// $request_uri, ...) from the request (package vars).

// redirectBodies are the HTML pages sent with a redirect, as nginx sends
// them (the client follows Location; the page is for a human).
var redirectBodies = func() map[int][]byte {
	m := map[int][]byte{}
	for _, code := range []int{301, 302, 303, 307, 308} {
		s := strconv.Itoa(code) + " " + http.StatusText(code)
		m[code] = []byte("<html>\r\n<head><title>" + s + "</title></head>\r\n<body>\r\n<center><h1>" +
			s + "</h1></center>\r\n<hr><center>nproxy</center>\r\n</body>\r\n</html>\r\n")
	}
	return m
}()

// maxScratchBody is the largest expanded return text answered from the
// server's scratch buffer. A larger one might not fit the connection's
// output buffer and would then be sent from the buffer itself after
// Serve returns, while another connection's request reuses it: it is
// copied to the heap instead (a return text of kilobytes built from
// variables is rare).
const maxScratchBody = 4 << 10

// requestValues fills the server's vars.Values for x (loop thread only;
// valid until the next request). The maps' results of the previous
// request are forgotten; a map is evaluated at its first use.
func (s *Server) requestValues(x *http.Exchange) *vars.Values {
	v := &s.vals
	req, buf := x.Req, x.Buf
	maps := v.Maps // the maps' results, kept with their buffer across requests
	if maps == nil {
		maps = new(vars.MapCache)
	}
	maps.Reset()
	*v = vars.Values{
		Scheme:     schemeHTTP,
		HTTPHost:   req.Host.Bytes(buf),
		RequestURI: req.URI.Bytes(buf),
		URI:        x.Path,
		Args:       req.Query.Bytes(buf),
		Maps:       maps,
		Headers:    (*exchangeHeaders)(x),
	}
	v.Subject, v.Match = s.capSubject, s.capMatch
	if xff, ok := req.Header(buf, "X-Forwarded-For"); ok {
		v.XFF = xff
	}
	c, _ := x.Takeover.(*conn)
	if c == nil {
		return v
	}
	if c.g.tls != nil {
		v.Scheme = schemeHTTPS
	}
	s.addrText = c.PeerAddr(s.addrText[:0])
	v.RemoteAddr = s.addrText
	s.portText = append(s.portText[:0], portOf(c.g.addr)...)
	v.ServerPort = s.portText
	v.Host = s.hostValue(c, v.HTTPHost)
	v.RequestID = s.requestID()
	return v
}

// exchangeHeaders are an exchange's request header fields, for
// $http_NAME (vars.HeaderSource).
type exchangeHeaders http.Exchange

// Header returns the value of the request's field name.
func (h *exchangeHeaders) Header(name string) ([]byte, bool) {
	return h.Req.Header(h.Buf, name)
}

// hostValue returns $host for a request of c with Host field host: the
// Host's name, lower case, without the port; without a Host, the
// block's first server_name, else the listen address. The text is in
// s.hostText until the next call.
func (s *Server) hostValue(c *conn, host []byte) []byte {
	h := host
	if i := lastColon(h); i >= 0 {
		h = h[:i]
	}
	s.hostText = s.hostText[:0]
	switch {
	case len(h) > 0:
		for _, b := range h {
			if 'A' <= b && b <= 'Z' {
				b += 'a' - 'A'
			}
			s.hostText = append(s.hostText, b)
		}
	case len(c.vh.cfg.ServerNames) > 0 && c.vh.cfg.ServerNames[0][0] != '*':
		s.hostText = append(s.hostText, c.vh.cfg.ServerNames[0]...)
	default:
		a := c.g.addr
		s.hostText = append(s.hostText, a[:len(a)-len(portOf(a))-1]...)
	}
	return s.hostText
}

var (
	schemeHTTP  = []byte("http")
	schemeHTTPS = []byte("https")
)

// portOf returns the port of a "host:port" listen address.
func portOf(addr string) string {
	for i := len(addr) - 1; i >= 0; i-- {
		if addr[i] == ':' {
			return addr[i+1:]
		}
	}
	return ""
}

// returnStep answers with a route's return.
type returnStep struct {
	s    *Server
	ret  *config.Return
	text []byte // the body when it has no variable
}

func newReturnStep(s *Server, ret *config.Return) *returnStep {
	st := &returnStep{s: s, ret: ret}
	if lit, ok := ret.Target.Literal(); ok && !ret.IsRedirect() {
		st.text = []byte(lit)
	}
	return st
}

// Serve answers x: a redirect with Location and nginx's page, or the
// text (none when empty) as text/plain.
func (st *returnStep) Serve(x *http.Exchange) bool {
	r := &x.Resp
	code := st.ret.Code
	if st.ret.IsRedirect() {
		r.SetBody(code, "text/html", redirectBodies[code])
		r.Header = append(r.Header, "Location: "...)
		r.Header = st.ret.Target.Append(r.Header, st.s.requestValues(x))
		r.Header = append(r.Header, "\r\n"...)
		return true
	}
	body := st.text
	if body == nil && !st.ret.Target.Empty() {
		s := st.s
		s.body = st.ret.Target.Append(s.body[:0], s.requestValues(x))
		body = s.body
		if len(body) > maxScratchBody {
			body = append([]byte(nil), body...)
		}
	}
	if len(body) == 0 {
		r.Status, r.ContentLength = code, 0
		if code == 204 {
			r.ContentLength = -1
		}
		return true
	}
	r.SetBody(code, "text/plain; charset=utf-8", body)
	return true
}

// redirect answers x with rule i of rules, a redirect rule that matched
// x.Path with captures m.
func (r *rewriteStep) redirect(x *http.Exchange, i int, m []int) {
	v := r.s.requestValues(x)
	v.Subject, v.Match = x.Path, m
	resp := &x.Resp
	resp.Header = append(resp.Header, "Location: "...)
	var code int
	resp.Header, code = r.rules.AppendLocation(resp.Header, i, v, x.Req.Query.Bytes(x.Buf))
	resp.Header = append(resp.Header, "\r\n"...)
	resp.SetBody(code, "text/html", redirectBodies[code])
}
