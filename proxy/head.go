//go:build linux

package proxy

import (
	"bytes"

	"github.com/nproxy/nproxy/http"
)

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
		if http.EqualFold(bytes.TrimSpace(tok), string(name)) {
			return true
		}
	}
	return false
}

// appendRequestHead appends the request head sent upstream: the client's
// request line (as HTTP/1.1) and headers without the hop-by-hop ones, then
// X-Forwarded-For/-Proto/-Host and Via. The client's Host is kept (as
// HAProxy does; an HTTP/1.0 request without one gets the backend's
// address).
func appendRequestHead(dst []byte, x *http.Exchange, peer []byte, backendAddr string) []byte {
	req, buf := x.Req, x.Buf
	dst = append(dst, req.MethodSpan.Bytes(buf)...)
	dst = append(dst, ' ')
	if x.Rewritten {
		dst = http.AppendEscapedPath(dst, x.Path)
		if !req.Query.Empty() {
			dst = append(dst, '?')
			dst = append(dst, req.Query.Bytes(buf)...)
		}
	} else {
		dst = append(dst, req.URI.Bytes(buf)...)
	}
	dst = append(dst, " HTTP/1.1\r\n"...)
	connValue := req.Connection.Bytes(buf)
	var xff, via []byte
	for i := 0; i < req.NumHeaders; i++ {
		h := &req.Headers[i]
		name := h.Name.Bytes(buf)
		switch {
		case isHopByHop(name), listedIn(connValue, name):
			continue
		case http.EqualFold(name, "trailer") && !req.Chunked:
			continue
		case http.EqualFold(name, "x-forwarded-for"):
			xff = h.Value.Bytes(buf)
			continue
		case http.EqualFold(name, "via"):
			via = h.Value.Bytes(buf)
			continue
		case http.EqualFold(name, "x-forwarded-proto"), http.EqualFold(name, "x-forwarded-host"):
			continue // set by us: a client must not choose them
		}
		dst = append(dst, name...)
		dst = append(dst, ": "...)
		dst = append(dst, h.Value.Bytes(buf)...)
		dst = append(dst, "\r\n"...)
	}
	if req.Host.Empty() {
		dst = append(dst, "Host: "...)
		dst = append(dst, backendAddr...)
		dst = append(dst, "\r\n"...)
	}
	dst = append(dst, "X-Forwarded-For: "...)
	if len(xff) > 0 {
		dst = append(dst, xff...)
		dst = append(dst, ", "...)
	}
	dst = append(dst, peer...)
	dst = append(dst, "\r\nX-Forwarded-Proto: http\r\n"...)
	if !req.Host.Empty() {
		dst = append(dst, "X-Forwarded-Host: "...)
		dst = append(dst, req.Host.Bytes(buf)...)
		dst = append(dst, "\r\n"...)
	}
	dst = append(dst, "Via: "...)
	if len(via) > 0 {
		dst = append(dst, via...)
		dst = append(dst, ", "...)
	}
	dst = append(dst, "1.1 nproxy\r\n"...)
	if req.Chunked {
		dst = append(dst, "Transfer-Encoding: chunked\r\n"...)
	}
	if req.Upgrade {
		dst = append(dst, "Connection: upgrade\r\nUpgrade: "...)
		dst = append(dst, req.UpgradeProto.Bytes(buf)...)
		dst = append(dst, "\r\n"...)
	}
	return append(dst, "\r\n"...)
}
