//go:build linux

package proxy

import (
	"fmt"
	"strconv"

	"github.com/nproxy/nproxy/http"
	"github.com/nproxy/nproxy/vars"
)

// The upstream response head: parsed by http.ResponseParser (strict: a
// head it refuses is answered 502), checked for what the proxy cannot relay,
// and rebuilt for the client from the parsed spans only, so that no byte
// the parser did not validate reaches the client.

// respHead is an upstream response head: the parsed head, and the facts
// readHead decides the response's framing and the connections' fate on.
type respHead struct {
	status        int
	headLen       int
	contentLength int64 // -1 if absent or overridden by Transfer-Encoding
	chunked       bool
	close         bool // the upstream closes after this response

	head http.ResponseHead
}

// parseRespHead parses the response head at the start of b. ok is false
// while the head is incomplete; err reports a head that must not be
// relayed (the client gets 502).
//
// It parses from the first byte on every call, with a parser on the stack:
// it is called each time more of the head arrives, and the session keeps no
// parser state between calls. A head fits in rbuf, so that costs little and
// allocates nothing.
func parseRespHead(b []byte) (h respHead, ok bool, err error) {
	var p http.ResponseParser
	done, err := p.Parse(b, &h.head)
	if err != nil {
		return h, false, fmt.Errorf("%w: %w", errBadResponse, err)
	}
	if !done {
		return h, false, nil
	}
	r := &h.head
	if r.TE && !r.Chunked {
		// The body would run to the close in a coding the proxy does
		// not know the end of ("xchunked") or would have to drop from
		// the head ("gzip" alone): refused, as nginx does ("upstream
		// sent unknown Transfer-Encoding").
		return h, false, fmt.Errorf("%w: Transfer-Encoding does not end in chunked", errBadResponse)
	}
	h.status, h.headLen = r.Status, r.HeadLen
	h.contentLength, h.chunked, h.close = r.ContentLength, r.Chunked, r.Close
	return h, true, nil
}

// appendClientHead appends the response head sent to the client, rebuilt
// from h's spans of upHead: the upstream's status line as HTTP/1.1, its
// headers without hop-by-hop ones (and without Date and Server, which
// nproxy sets, as nginx does), one Content-Length with the parsed value
// (however the upstream spelled it: "5, 5" or twice), then Connection as
// the client connection needs it.
//
// The configuration's add_header lines (extra; those with variables
// from prep, with the response's variables from vals) follow the
// upstream's headers, the hide_header names (hide) are left out of
// them, and server_tokens = off (noServer) leaves Server out.
func appendClientHead(dst, upHead []byte, h *respHead, date []byte, closeClient, keepAlive10, upgrade, dechunk bool, extra *http.ExtraHeaders, prep *vars.Prepared, vals *vars.Values, hide []string, noServer bool) []byte {
	r := &h.head
	dst = appendStatusLine(dst, r.Status, r.Reason.Bytes(upHead))
	dst = appendServerDate(dst, date, noServer)
	dst = appendFields(dst, upHead, h, upgrade, dechunk, extra, prep, vals, hide)
	return appendHeadEnd(dst, r.ContentLength, closeClient, keepAlive10, upgrade)
}

// appendStatusLine appends the upstream's status line as HTTP/1.1.
func appendStatusLine(dst []byte, status int, reason []byte) []byte {
	dst = append(dst, "HTTP/1.1 "...)
	dst = strconv.AppendInt(dst, int64(status), 10)
	dst = append(dst, ' ')
	dst = append(dst, reason...)
	return append(dst, "\r\n"...)
}

// appendServerDate appends Server (unless noServer) and Date.
func appendServerDate(dst, date []byte, noServer bool) []byte {
	if !noServer {
		dst = append(dst, "Server: nproxy\r\n"...)
	}
	dst = append(dst, "Date: "...)
	dst = append(dst, date...)
	return append(dst, "\r\n"...)
}

// appendFields appends the upstream's fields the client gets (see
// appendClientHead) and the add_header lines.
func appendFields(dst, upHead []byte, h *respHead, upgrade, dechunk bool, extra *http.ExtraHeaders, prep *vars.Prepared, vals *vars.Values, hide []string) []byte {
	r := &h.head
	for i := 0; i < r.NumHeaders; i++ {
		f := &r.Headers[i]
		name := f.Name.Bytes(upHead)
		switch {
		case http.EqualFold(name, "content-length"):
			continue // written once below
		case http.EqualFold(name, "transfer-encoding"), http.EqualFold(name, "trailer"):
			if !r.Chunked || dechunk {
				continue
			}
		case http.EqualFold(name, "upgrade"):
			if !upgrade {
				continue
			}
		case isHopByHop(name), listedInConnection(upHead, r, name),
			http.EqualFold(name, "date"), http.EqualFold(name, "server"):
			continue
		case len(hide) > 0 && hidden(hide, name):
			continue
		}
		dst = append(dst, name...)
		dst = append(dst, ": "...)
		dst = append(dst, f.Value.Bytes(upHead)...)
		dst = append(dst, "\r\n"...)
	}
	dst = extra.Append(dst, r.Status)
	return extra.AppendPrepared(dst, r.Status, prep, vals)
}

// appendHeadEnd appends Content-Length (when contentLength >= 0),
// Connection as the client connection needs it, and the blank line.
func appendHeadEnd(dst []byte, contentLength int64, closeClient, keepAlive10, upgrade bool) []byte {
	if contentLength >= 0 { // never beside Transfer-Encoding (RFC 9112 §6.1)
		dst = append(dst, "Content-Length: "...)
		dst = strconv.AppendInt(dst, contentLength, 10)
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

// hidden reports whether name is one of the hide_header names.
func hidden(hide []string, name []byte) bool {
	for _, n := range hide {
		if http.EqualFold(name, n) {
			return true
		}
	}
	return false
}

// listedInConnection reports whether name is an option of any Connection
// field of r: the list may be split over several fields (RFC 9110 §5.3),
// and every field it names is hop-by-hop.
func listedInConnection(buf []byte, r *http.ResponseHead, name []byte) bool {
	for i := 0; i < r.NumHeaders; i++ {
		f := &r.Headers[i]
		if http.EqualFold(f.Name.Bytes(buf), "connection") && listedIn(f.Value.Bytes(buf), name) {
			return true
		}
	}
	return false
}
