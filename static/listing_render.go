//go:build linux

package static

import (
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/nproxy/nproxy/http"
)

// listForm is the representation of a directory listing.
type listForm uint8

const (
	formHTML listForm = iota // a page for people (text/html)
	formJSON                 // nginx's autoindex_format json, for scripts
)

// contentType is the form's Content-Type.
func (f listForm) contentType() string {
	if f == formJSON {
		return "application/json"
	}
	return "text/html; charset=utf-8"
}

// listFormOf picks the form a request asks for: ?format=json or
// ?format=html wins, then an Accept header naming application/json.
func listFormOf(x *http.Exchange) listForm {
	if q := x.Req.Query; !q.Empty() {
		for rest := q.Bytes(x.Buf); len(rest) > 0; {
			param := rest
			for i, c := range rest {
				if c == '&' || c == ';' {
					param, rest = rest[:i], rest[i+1:]
					break
				}
			}
			if len(param) == len(rest) {
				rest = nil
			}
			switch string(param) {
			case "format=json":
				return formJSON
			case "format=html":
				return formHTML
			}
		}
	}
	if v, ok := x.Req.Header(x.Buf, "Accept"); ok && containsFold(v, "application/json") {
		return formJSON
	}
	return formHTML
}

// containsFold reports whether s contains the lower-case ASCII sub,
// ignoring ASCII case.
func containsFold(s []byte, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		j := 0
		for j < len(sub) && s[i+j]|0x20 == sub[j] {
			j++
		}
		if j == len(sub) {
			return true
		}
	}
	return false
}

// listCSP keeps a listing page from running anything, should a name ever
// get past the escaping: no script, no frame, no form, only its own
// inline style.
const listCSP = "Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'\r\n"

// appendListHeaders appends the header lines of a listing, validators
// first: ETag (weak: the page is made anew for each request, equal in
// meaning for equal entries), Last-Modified, then Content-Type, Vary
// (the form follows Accept) and the hardening lines. For a 304 only the
// validators and Vary are wanted (full false).
func appendListHeaders(b []byte, form listForm, etag []byte, lastMod int64, full bool) []byte {
	b = append(b, "ETag: W/"...)
	b = append(b, etag...)
	b = append(b, "\r\nLast-Modified: "...)
	b = time.Unix(lastMod, 0).UTC().AppendFormat(b, http.TimeFormat)
	b = append(b, "\r\nVary: Accept\r\n"...)
	if !full {
		return b
	}
	b = append(b, "Content-Type: "...)
	b = append(b, form.contentType()...)
	b = append(b, "\r\nX-Content-Type-Options: nosniff\r\n"...)
	if form == formHTML {
		b = append(b, listCSP...)
	}
	return b
}

// appendPageStart appends what precedes the entries: the HTML page's head,
// title and "../" row (unless dir is the root), or JSON's '['.
func appendPageStart(b []byte, form listForm, dir []byte) []byte {
	if form == formJSON {
		return append(b, '[')
	}
	b = append(b, "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n"+
		"<meta name=\"viewport\" content=\"width=device-width\">\n<title>Index of "...)
	b = appendHTML(b, string(dir))
	b = append(b, "</title>\n<style>body{font-family:sans-serif}th,td{padding:0 1.5em 0 0;text-align:left}"+
		"td.s{text-align:right}</style>\n</head>\n<body>\n<h1>Index of "...)
	b = appendHTML(b, string(dir))
	b = append(b, "</h1>\n<table>\n<tr><th>Name</th><th>Modified (UTC)</th><th>Size</th></tr>\n"...)
	if len(dir) > 1 {
		b = append(b, "<tr><td><a href=\"../\">../</a></td><td></td><td></td></tr>\n"...)
	}
	return b
}

// appendPageEnd appends what follows the entries.
func appendPageEnd(b []byte, form listForm) []byte {
	if form == formJSON {
		return append(b, "\n]\n"...)
	}
	return append(b, "</table>\n</body>\n</html>\n"...)
}

// appendEntry appends one entry; first says whether it is the first of the
// page (JSON separates entries with commas).
func appendEntry(b []byte, form listForm, e *listEntry, first bool) []byte {
	if form == formJSON {
		if !first {
			b = append(b, ',')
		}
		b = append(b, "\n{\"name\":"...)
		b = appendJSONString(b, e.name)
		if e.dir {
			b = append(b, ",\"type\":\"directory\",\"mtime\":\""...)
		} else {
			b = append(b, ",\"type\":\"file\",\"mtime\":\""...)
		}
		b = time.Unix(0, e.mtime).UTC().AppendFormat(b, http.TimeFormat)
		b = append(b, '"')
		if !e.dir {
			b = append(b, ",\"size\":"...)
			b = strconv.AppendInt(b, e.size, 10)
		}
		return append(b, '}')
	}
	b = append(b, "<tr><td><a href=\""...)
	b = appendHref(b, e.name)
	if e.dir {
		b = append(b, '/')
	}
	b = append(b, "\">"...)
	b = appendHTML(b, e.name)
	if e.dir {
		b = append(b, '/')
	}
	b = append(b, "</a></td><td>"...)
	b = time.Unix(0, e.mtime).UTC().AppendFormat(b, "2006-01-02 15:04")
	if e.dir {
		return append(b, "</td><td class=\"s\">-</td></tr>\n"...)
	}
	b = append(b, "</td><td class=\"s\" title=\""...)
	b = strconv.AppendInt(b, e.size, 10)
	b = append(b, " bytes\">"...)
	b = appendSize(b, e.size)
	return append(b, "</td></tr>\n"...)
}

// appendSize appends n bytes in human units, as ls -h counts them (powers
// of 1024) with IEC names: "0 B", "999 B", "1.5 KiB", "12 KiB", "1.0 MiB".
// One decimal below 10 units, none from there; rounded to nearest, and a
// value that would round to 1024 units is given in the next unit.
func appendSize(b []byte, n int64) []byte {
	if n < 1024 {
		b = strconv.AppendInt(b, n, 10)
		return append(b, " B"...)
	}
	const units = "KMGTPE"
	v, u := float64(n)/1024, 0
	for v >= 1023.5 && u < len(units)-1 {
		v, u = v/1024, u+1
	}
	prec := 0
	if v < 9.95 {
		prec = 1
	}
	b = strconv.AppendFloat(b, v, 'f', prec, 64)
	return append(b, ' ', units[u], 'i', 'B')
}

// appendHTML appends s as HTML text: the five markup characters as
// entities, invalid UTF-8 and control characters as U+FFFD (a name is any
// bytes but '/' and NUL; the page is UTF-8).
func appendHTML(b []byte, s string) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			i++
			switch {
			case c == '&':
				b = append(b, "&amp;"...)
			case c == '<':
				b = append(b, "&lt;"...)
			case c == '>':
				b = append(b, "&gt;"...)
			case c == '"':
				b = append(b, "&#34;"...)
			case c == '\'':
				b = append(b, "&#39;"...)
			case c < 0x20 || c == 0x7f:
				b = append(b, "\uFFFD"...)
			default:
				b = append(b, c)
			}
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 || r < 0xa0 {
			b = append(b, "\uFFFD"...) // invalid, or a C1 control
		} else {
			b = append(b, s[i:i+n]...)
		}
		i += n
	}
	return b
}

// appendHref appends name as a relative URL path segment: every byte but
// the unreserved ones (RFC 3986 §2.3) percent-encoded. So a ':' cannot
// make a name a URL scheme ("javascript:..."), '?' and '#' stay in the
// path, and nothing in it needs escaping in an HTML attribute.
func appendHref(b []byte, name string) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' {
			b = append(b, c)
			continue
		}
		b = append(b, '%', hex[c>>4], hex[c&15])
	}
	return b
}

// appendJSONString appends s as a JSON string: invalid UTF-8 as U+FFFD
// (JSON text is UTF-8), control characters, '<', '>', '&', U+2028 and
// U+2029 escaped, as encoding/json does.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			i++
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, `\n`...)
			case c == '\t':
				b = append(b, `\t`...)
			case c < 0x20 || c == '<' || c == '>' || c == '&' || c == 0x7f:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
			default:
				b = append(b, c)
			}
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, `\u202`...)
			b = append(b, hex[r&15])
		default:
			b = append(b, s[i:i+n]...)
		}
		i += n
	}
	return append(b, '"')
}
