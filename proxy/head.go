//go:build linux

package proxy

import (
	"bytes"
	"strconv"

	"github.com/nproxy/nproxy/http"
)

// maxRespHead bounds an upstream response head (nginx's
// proxy_buffer_size is far smaller; 64 KiB is generous).
const maxRespHead = 64 << 10

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

// respHead is what the proxy needs from an upstream response head.
type respHead struct {
	status        int
	headLen       int
	contentLength int64 // -1 if absent
	chunked       bool
	te            bool // a Transfer-Encoding header (Content-Length is then ignored)
	close         bool // the upstream closes after this response
	minor         int
	conn          []byte // Connection value (for listed hop-by-hop names)
}

// parseRespHead parses the response head at the start of b. ok is false
// while the head is incomplete; err reports a malformed head.
func parseRespHead(b []byte) (h respHead, ok bool, err error) {
	end := bytes.Index(b, []byte("\r\n\r\n"))
	if end < 0 {
		if len(b) >= maxRespHead {
			return h, false, errBadResponse
		}
		return h, false, nil
	}
	h.headLen = end + 4
	h.contentLength = -1
	line, rest := cutLine(b[:end+2])
	// HTTP/1.x SSS reason
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return h, false, errBadResponse
	}
	h.minor = int(line[7] - '0')
	if h.minor != 0 && h.minor != 1 {
		return h, false, errBadResponse
	}
	code, err := strconv.Atoi(string(line[9:12]))
	if err != nil || code < 100 || code > 999 || (len(line) > 12 && line[12] != ' ') {
		return h, false, errBadResponse
	}
	h.status = code
	h.close = h.minor == 0
	seenCL := false
	for len(rest) > 0 {
		line, rest = cutLine(rest)
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return h, false, errBadResponse
		}
		name, value := line[:colon], bytes.TrimSpace(line[colon+1:])
		switch {
		case http.EqualFold(name, "content-length"):
			n, perr := strconv.ParseInt(string(value), 10, 64)
			if perr != nil || n < 0 || (seenCL && n != h.contentLength) {
				return h, false, errBadResponse
			}
			h.contentLength, seenCL = n, true
		case http.EqualFold(name, "transfer-encoding"):
			h.te = true
			h.chunked = len(value) >= 7 && http.EqualFold(value[len(value)-7:], "chunked")
			if !h.chunked {
				h.close = true // unknown coding: delimited by close
			}
		case http.EqualFold(name, "connection"):
			h.conn = value
			if listedIn(value, []byte("close")) {
				h.close = true
			} else if h.minor == 0 && listedIn(value, []byte("keep-alive")) {
				h.close = false
			}
		}
	}
	if h.te {
		h.contentLength = -1 // Transfer-Encoding wins (RFC 9112 §6.3)
	}
	return h, true, nil
}

// cutLine splits off the first CRLF-terminated line.
func cutLine(b []byte) (line, rest []byte) {
	i := bytes.Index(b, []byte("\r\n"))
	if i < 0 {
		return b, nil
	}
	return b[:i], b[i+2:]
}

// appendClientHead appends the response head sent to the client: the
// upstream's status line as HTTP/1.1 and its headers without hop-by-hop
// ones (and without Date and Server, which nproxy sets, as nginx does),
// then Connection as the client connection needs it.
func appendClientHead(dst, upHead []byte, h *respHead, date []byte, closeClient, keepAlive10, upgrade, dechunk bool) []byte {
	line, rest := cutLine(upHead[:h.headLen-2])
	dst = append(dst, "HTTP/1.1"...)
	dst = append(dst, line[8:]...)
	dst = append(dst, "\r\nServer: nproxy\r\nDate: "...)
	dst = append(dst, date...)
	dst = append(dst, "\r\n"...)
	for len(rest) > 0 {
		line, rest = cutLine(rest)
		colon := bytes.IndexByte(line, ':')
		name := line[:colon]
		switch {
		case http.EqualFold(name, "transfer-encoding"):
			if !h.chunked || dechunk {
				continue
			}
		case http.EqualFold(name, "content-length"):
			if h.te {
				continue // never both to the client (RFC 9112 §6.1)
			}
		case http.EqualFold(name, "trailer"):
			if !h.chunked || dechunk {
				continue
			}
		case http.EqualFold(name, "upgrade"):
			if !upgrade {
				continue
			}
		case isHopByHop(name), listedIn(h.conn, name), http.EqualFold(name, "date"), http.EqualFold(name, "server"):
			continue
		}
		dst = append(dst, line...)
		dst = append(dst, "\r\n"...)
	}
	switch {
	case upgrade:
		dst = append(dst, "Connection: upgrade\r\n"...)
	case closeClient:
		dst = append(dst, "Connection: close\r\n"...)
	case keepAlive10:
		dst = append(dst, "Connection: keep-alive\r\n"...)
	}
	return append(dst, "\r\n"...)
}
