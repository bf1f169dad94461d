//go:build linux

package http

import (
	"strconv"
	"time"
)

// statusText holds the reason phrases the server sends.
var statusText = map[int]string{
	100: "Continue", 101: "Switching Protocols",
	200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 206: "Partial Content",
	301: "Moved Permanently", 302: "Found", 303: "See Other", 304: "Not Modified",
	307: "Temporary Redirect", 308: "Permanent Redirect",
	400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
	405: "Method Not Allowed", 408: "Request Timeout", 411: "Length Required",
	412: "Precondition Failed", 413: "Content Too Large", 414: "URI Too Long",
	416: "Range Not Satisfiable", 417: "Expectation Failed", 429: "Too Many Requests",
	431: "Request Header Fields Too Large",
	500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway",
	503: "Service Unavailable", 504: "Gateway Timeout", 505: "HTTP Version Not Supported",
}

// StatusText returns the reason phrase of code ("" if unknown).
func StatusText(code int) string { return statusText[code] }

// statusLines and errorBodies are built once so that writing a status line
// or an error page copies bytes and allocates nothing.
var (
	statusLines [600][]byte
	errorBodies [600][]byte
)

func init() {
	for code := 100; code < 600; code++ {
		text := statusText[code]
		if text == "" {
			text = "Status " + strconv.Itoa(code)
		}
		statusLines[code] = []byte("HTTP/1.1 " + strconv.Itoa(code) + " " + text + "\r\n")
		if code >= 400 {
			s := strconv.Itoa(code) + " " + text
			errorBodies[code] = []byte("<html>\r\n<head><title>" + s + "</title></head>\r\n<body>\r\n<center><h1>" +
				s + "</h1></center>\r\n<hr><center>nproxy</center>\r\n</body>\r\n</html>\r\n")
		}
	}
}

// ErrorBody is the HTML page sent with an error status.
func ErrorBody(code int) []byte {
	if code < 400 || code >= 600 {
		return nil
	}
	return errorBodies[code]
}

// AppendStatusLine appends "HTTP/1.1 CODE REASON\r\n".
func AppendStatusLine(b []byte, code int) []byte {
	if code < 100 || code >= 600 {
		code = 500
	}
	return append(b, statusLines[code]...)
}

// AppendHead appends the head of r: status line, Server (unless
// r.NoServer), Date, the step's
// headers, Content-Length (unless r.ContentLength < 0), Connection when the
// connection closes after it (or keepAlive10 asks for HTTP/1.0 keep-alive),
// and the blank line.
func AppendHead(b []byte, r *Response, date []byte, closeConn, keepAlive10 bool) []byte {
	b = AppendStatusLine(b, r.Status)
	if !r.NoServer {
		b = append(b, "Server: nproxy\r\n"...)
	}
	b = append(b, "Date: "...)
	b = append(b, date...)
	b = append(b, "\r\n"...)
	b = append(b, r.Header...)
	if r.ContentLength >= 0 {
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, r.ContentLength, 10)
		b = append(b, "\r\n"...)
	}
	if closeConn {
		b = append(b, "Connection: close\r\n"...)
	} else if keepAlive10 {
		b = append(b, "Connection: keep-alive\r\n"...)
	}
	return append(b, "\r\n"...)
}

// DateCache keeps the Date header value, refreshed at most once a second:
// formatting a date per response would cost more than the rest of a small
// response's head. One per loop; not safe for concurrent use.
type DateCache struct {
	sec int64
	buf [29]byte
}

// Get returns the IMF-fixdate for now, formatting only when the second
// changed. The slice is valid until the next call with another second.
func (d *DateCache) Get(now time.Time) []byte {
	if s := now.Unix(); s != d.sec {
		d.sec = s
		now.UTC().AppendFormat(d.buf[:0], TimeFormat)
	}
	return d.buf[:]
}

// TimeFormat is the HTTP date format (IMF-fixdate, RFC 9110 §5.6.7).
const TimeFormat = "Mon, 02 Jan 2006 15:04:05 GMT"
