//go:build linux

package proxy

import (
	"bytes"
	"strconv"
	"strings"

	"github.com/nproxy/nproxy/config"
	"github.com/nproxy/nproxy/http"
	"github.com/nproxy/nproxy/vars"
)

// hostName is the Host field's name, for setIndex.
var hostName = []byte("host")

// hopByHop are the connection-specific header fields of RFC 9110 §7.6.1
// that a proxy must not forward, plus the de-facto Proxy-Connection and
// Keep-Alive. Transfer-Encoding and Upgrade are re-added by the proxy when
// it forwards a chunked body or an upgrade. Trailer is not among them: a
// chunked body is forwarded with its framing, trailer section included,
// so its announcement goes along (and is dropped where the proxy
// de-chunks, since the trailer fields are then dropped too).
var hopByHop = []string{
	"connection", "keep-alive", "proxy-connection", "te",
	"transfer-encoding", "upgrade", "proxy-authenticate", "proxy-authorization",
}

func isHopByHop(name []byte) bool {
	for _, h := range hopByHop {
		if http.EqualFold(name, h) {
			return true
		}
	}
	return false
}

// listedIn reports whether name is one of the comma-separated tokens of a
// Connection header value (such fields are hop-by-hop too).
func listedIn(conn, name []byte) bool {
	for len(conn) > 0 {
		i := bytes.IndexByte(conn, ',')
		tok := conn
		if i >= 0 {
			tok, conn = conn[:i], conn[i+1:]
		} else {
			conn = nil
		}
		if http.EqualFoldBytes(bytes.TrimSpace(tok), name) {
			return true
		}
	}
	return false
}

// fieldAction is what appendRequestHead does with a client's header.
type fieldAction uint8

const (
	fieldForward   fieldAction = iota // copied, unless a Connection option names it
	fieldDrop                         // never copied: hop-by-hop, or nproxy writes its own
	fieldTrailer                      // copied with a chunked body, whatever Connection says
	fieldXFF                          // merged into nproxy's X-Forwarded-For
	fieldVia                          // merged into nproxy's Via
	fieldForwarded                    // merged into nproxy's Forwarded (proxy_forwarded = on), else copied
)

// requestFields are the client headers appendRequestHead treats specially
// beyond hopByHop. Host, Content-Length and Transfer-Encoding (in
// hopByHop) are never copied: the head sent upstream carries the Host and
// the framing nproxy computed and will enforce on the body (RFC 9112
// §6.3, §3.2.2), so no client header or Connection option can make the
// upstream frame the message differently from nproxy (request smuggling)
// or see a Host nproxy did not route by.
var requestFields = [...]struct {
	name   string
	action fieldAction
}{
	{"host", fieldDrop},
	{"content-length", fieldDrop},
	{"x-forwarded-proto", fieldDrop}, // set by us: a client must not choose them
	{"x-forwarded-host", fieldDrop},
	{"trailer", fieldTrailer},
	{"x-forwarded-for", fieldXFF},
	{"via", fieldVia},
	{"forwarded", fieldForwarded},
}

// requestField returns what to do with the client header called name.
func requestField(name []byte) fieldAction {
	if isHopByHop(name) {
		return fieldDrop
	}
	for i := range requestFields {
		if http.EqualFold(name, requestFields[i].name) {
			return requestFields[i].action
		}
	}
	return fieldForward
}

// connOptions answers whether a request's Connection header lines name a
// field. Request.Connection is the last line's value; the others are
// looked up only in the rare request that has more than one.
type connOptions struct {
	req   *http.Request
	buf   []byte
	lines int // Connection header lines of req
}

func newConnOptions(req *http.Request, buf []byte) connOptions {
	c := connOptions{req: req, buf: buf}
	for i := 0; i < req.NumHeaders; i++ {
		if http.EqualFold(req.Headers[i].Name.Bytes(buf), "connection") {
			c.lines++
		}
	}
	return c
}

// names reports whether name is an option of any Connection line.
func (c *connOptions) names(name []byte) bool {
	switch c.lines {
	case 0:
		return false
	case 1:
		return listedIn(c.req.Connection.Bytes(c.buf), name)
	}
	for i := 0; i < c.req.NumHeaders; i++ {
		h := &c.req.Headers[i]
		if http.EqualFold(h.Name.Bytes(c.buf), "connection") && listedIn(h.Value.Bytes(c.buf), name) {
			return true
		}
	}
	return false
}

// appendRequestHead appends the request head sent upstream:
//
//   - the request line as HTTP/1.1, with the client's target in
//     origin-form (an absolute-form target is sent as its path and query,
//     RFC 9112 §3.2.2; a rewritten path is re-escaped);
//   - Host: the request's (the authority of an absolute-form target, else
//     the client's Host header), or backendAddr when it has none;
//   - the client's headers, without the hop-by-hop ones, those a
//     Connection option names, its Host, Content-Length and
//     Transfer-Encoding, and names with '_' unless underscores is set
//     (nginx's underscores_in_headers; a backend may take X_Forwarded_For
//     for the X-Forwarded-For nproxy vouches for);
//   - X-Forwarded-For (the client's chain, then peer), X-Forwarded-Proto,
//     X-Forwarded-Host and Via; with forwarded (proxy_forwarded = on),
//     Forwarded (RFC 7239: the client's elements, then peer's, see
//     appendForwarded), else the client's Forwarded as it came;
//   - the framing nproxy parsed and enforces on the body: Content-Length
//     whenever the request had one (0 included), or Transfer-Encoding:
//     chunked;
//   - Connection: upgrade and Upgrade for an upgrade request.
//
// A Connection option naming a framing field, Host, Trailer or
// Connection changes nothing: those the proxy writes itself are never
// copied from the client, and Trailer goes with a chunked body.
//
// A proxy_set_header (set) replaces the client's header of its name and
// nproxy's own Host, X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-Host
// or Via (and Forwarded); its value is expanded with x.Vars, and one that
// expands to nothing (set to "") removes the header.
//
// uri, when not nil or empty, is proxy_pass's URI part in a regex
// [location] (config.Server.ProxyURI): the request target, expanded
// with x.Vars (captures and $uri path-escaped), in place of the
// client's path and query.
func appendRequestHead(dst []byte, x *http.Exchange, peer []byte, backendAddr string, underscores, forwarded bool, set []config.SetHeader, uri *vars.Template) []byte {
	vals := x.Vars
	if vals == nil {
		vals = &noVars
	}
	req, buf := x.Req, x.Buf
	dst = append(dst, req.MethodSpan.Bytes(buf)...)
	dst = append(dst, ' ')
	switch {
	case uri != nil && !uri.Empty():
		dst = uri.AppendPath(dst, vals, http.AppendEscapedPath)
	case x.Rewritten:
		dst = http.AppendEscapedPath(dst, x.Path)
		if !req.Query.Empty() {
			dst = append(dst, '?')
			dst = append(dst, req.Query.Bytes(buf)...)
		}
	case req.Absolute:
		dst = appendOriginForm(dst, req, buf)
	default:
		dst = append(dst, req.URI.Bytes(buf)...)
	}
	dst = append(dst, " HTTP/1.1\r\nHost: "...)
	hostSet := -1
	if len(set) > 0 {
		hostSet = setIndex(set, hostName)
	}
	switch {
	case hostSet >= 0:
		dst = set[hostSet].Value.Append(dst, vals)
	case req.Host.Empty():
		dst = append(dst, backendAddr...)
	default:
		dst = append(dst, req.Host.Bytes(buf)...)
	}
	dst = append(dst, "\r\n"...)
	conn := newConnOptions(req, buf)
	dropUnderscores := req.HasUnderscoreHeader && !underscores
	var xff, via, fwd []byte
	for i := 0; i < req.NumHeaders; i++ {
		h := &req.Headers[i]
		name := h.Name.Bytes(buf)
		if len(set) > 0 && setIndex(set, name) >= 0 {
			continue
		}
		switch requestField(name) {
		case fieldDrop:
			continue
		case fieldTrailer:
			if !req.Chunked {
				continue
			}
		case fieldXFF:
			if !conn.names(name) {
				xff = h.Value.Bytes(buf)
			}
			continue
		case fieldVia:
			if !conn.names(name) {
				via = h.Value.Bytes(buf)
			}
			continue
		case fieldForwarded:
			if conn.names(name) {
				continue
			}
			if forwarded {
				fwd = h.Value.Bytes(buf)
				continue
			}
		default:
			if dropUnderscores && bytes.IndexByte(name, '_') >= 0 || conn.names(name) {
				continue
			}
		}
		dst = append(dst, name...)
		dst = append(dst, ": "...)
		dst = append(dst, h.Value.Bytes(buf)...)
		dst = append(dst, "\r\n"...)
	}
	if len(set) == 0 || !setsField(set, "x-forwarded-for") {
		dst = append(dst, "X-Forwarded-For: "...)
		if len(xff) > 0 {
			dst = append(dst, xff...)
			dst = append(dst, ", "...)
		}
		dst = append(dst, peer...)
		dst = append(dst, "\r\n"...)
	}
	if len(set) == 0 || !setsField(set, "x-forwarded-proto") {
		if x.TLS {
			dst = append(dst, "X-Forwarded-Proto: https\r\n"...)
		} else {
			dst = append(dst, "X-Forwarded-Proto: http\r\n"...)
		}
	}
	if !req.Host.Empty() && (len(set) == 0 || !setsField(set, "x-forwarded-host")) {
		dst = append(dst, "X-Forwarded-Host: "...)
		dst = append(dst, req.Host.Bytes(buf)...)
		dst = append(dst, "\r\n"...)
	}
	if len(set) == 0 || !setsField(set, "via") {
		dst = append(dst, "Via: "...)
		if len(via) > 0 {
			dst = append(dst, via...)
			dst = append(dst, ", "...)
		}
		dst = append(dst, "1.1 nproxy\r\n"...)
	}
	if forwarded && (len(set) == 0 || !setsField(set, "forwarded")) {
		dst = appendForwarded(dst, fwd, peer, req.Host.Bytes(buf), x.TLS)
	}
	dst = appendSetHeaders(dst, set, vals)
	switch {
	case req.Chunked:
		dst = append(dst, "Transfer-Encoding: chunked\r\n"...)
	case req.ContentLength >= 0:
		dst = append(dst, "Content-Length: "...)
		dst = strconv.AppendInt(dst, req.ContentLength, 10)
		dst = append(dst, "\r\n"...)
	}
	if tunnels(req, buf) {
		dst = append(dst, "Connection: upgrade\r\nUpgrade: "...)
		dst = append(dst, req.UpgradeProto.Bytes(buf)...)
		dst = append(dst, "\r\n"...)
	}
	return append(dst, "\r\n"...)
}

// tunnels reports whether req asks for a protocol switch the proxy
// forwards as a tunnel after a 101. `Upgrade: h2c` is not one: HTTP/2 is
// nproxy's to speak with the client (RFC 9113 removed the h2c upgrade),
// never a tunnel to a backend; such a request is served as HTTP/1.1.
func tunnels(req *http.Request, buf []byte) bool {
	return req.Upgrade && !http.EqualFold(bytes.TrimSpace(req.UpgradeProto.Bytes(buf)), "h2c")
}

// appendOriginForm appends the origin-form of an absolute-form target:
// its path and query as sent ("/" when the path is empty), or "*" for an
// OPTIONS request without either (RFC 9112 §3.2.4).
func appendOriginForm(dst []byte, req *http.Request, buf []byte) []byte {
	rest := buf[req.Path.Off : req.URI.Off+req.URI.Len] // path, then ?query
	if len(rest) == 0 && req.Method == http.MethodOptions {
		return append(dst, '*')
	}
	if len(rest) == 0 || rest[0] != '/' {
		dst = append(dst, '/')
	}
	return append(dst, rest...)
}

// appendForwarded appends the Forwarded field (RFC 7239) of a request
// from peer: the client's elements (prior, as X-Forwarded-For keeps the
// client's chain), then this hop's: for= the client's address (an IPv6
// one quoted in brackets, §6), host= the request's Host (quoted when it
// is not a token, as "example.com:8080" is not) and proto=.
func appendForwarded(dst, prior, peer, host []byte, tls bool) []byte {
	dst = append(dst, "Forwarded: "...)
	if len(prior) > 0 {
		dst = append(dst, prior...)
		dst = append(dst, ", "...)
	}
	dst = append(dst, "for="...)
	switch {
	case len(peer) == 0:
		dst = append(dst, "unknown"...)
	case bytes.IndexByte(peer, ':') >= 0:
		dst = append(dst, `"[`...)
		dst = append(dst, peer...)
		dst = append(dst, `]"`...)
	default:
		dst = append(dst, peer...)
	}
	if len(host) > 0 {
		dst = append(dst, ";host="...)
		dst = appendForwardedValue(dst, host)
	}
	if tls {
		dst = append(dst, ";proto=https\r\n"...)
	} else {
		dst = append(dst, ";proto=http\r\n"...)
	}
	return dst
}

// appendForwardedValue appends v as a token when it is one, else as a
// quoted-string, with '"' and '\\' escaped (RFC 9110 §5.6.4).
func appendForwardedValue(dst, v []byte) []byte {
	token := true
	for _, c := range v {
		if !isTokenChar(c) {
			token = false
			break
		}
	}
	if token {
		return append(dst, v...)
	}
	dst = append(dst, '"')
	for _, c := range v {
		if c == '"' || c == '\\' {
			dst = append(dst, '\\')
		}
		dst = append(dst, c)
	}
	return append(dst, '"')
}

// isTokenChar reports whether c may be in an RFC 9110 token.
func isTokenChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}
