//go:build linux

package http

// Error is a request the server refuses, or a response head a client
// refuses. Status is the response code to send before closing the
// connection (for a response, the 502 a proxy answers with).
type Error struct {
	Status int
	Reason string
}

func (e *Error) Error() string { return "http: " + e.Reason }

// Parse errors. Each is returned by Parser.Parse or ChunkedDecoder.Next and
// carries the status the server answers with. They are sentinels: compare
// with == or errors.Is. After one of them the connection cannot be reused,
// because where the next request would start is unknown.
var (
	// ErrBadRequest (400) is returned for a malformed request that no more
	// specific error describes, such as a byte that cannot start a request.
	ErrBadRequest = &Error{400, "malformed request"}

	// ErrBadLineEnding (400) is returned for a bare CR, or for a bare LF
	// used as a line terminator: request and header lines must end in CRLF.
	ErrBadLineEnding = &Error{400, "line not terminated by CRLF"}

	// ErrBadMethod (400) is returned when the method is not a token, is
	// longer than 32 bytes, is not followed by exactly one space, or is PRI
	// (the HTTP/2 connection preface, RFC 9113 §3.4).
	ErrBadMethod = &Error{400, "malformed method"}

	// ErrBadURI (400) is returned when the request-target is empty, holds a
	// byte outside visible ASCII (controls, DEL and bytes >= 0x80
	// included), or is in no form its method may use: origin-form
	// ("/path"), absolute-form with scheme http or https and a valid
	// authority, "*" for OPTIONS, "host:port" for CONNECT (RFC 9112 §3.2).
	// "@evil/x" and "evil:80/x" are refused here.
	ErrBadURI = &Error{400, "malformed request-target"}

	// ErrURITooLong (414) is returned when the request-target is longer than
	// MaxURILen.
	ErrURITooLong = &Error{414, "request-target too long"}

	// ErrBadVersion (400) is returned when the protocol version is not of the
	// form HTTP/DIGIT.DIGIT followed by CRLF.
	ErrBadVersion = &Error{400, "malformed protocol version"}

	// ErrUnsupportedVersion (505) is returned for a well-formed version
	// other than HTTP/1.0 and HTTP/1.1.
	ErrUnsupportedVersion = &Error{505, "unsupported protocol version"}

	// ErrBadHeader (400) is returned when a header name is not a token,
	// whitespace stands between the name and the colon, the colon is
	// missing, or the value holds a control character other than HTAB.
	ErrBadHeader = &Error{400, "malformed header field"}

	// ErrObsFold (400) is returned for a header line that starts with SP or
	// HTAB: obsolete line folding (RFC 9112 §5.2) is refused, and so is
	// whitespace between the request line and the first header.
	ErrObsFold = &Error{400, "obsolete line folding"}

	// ErrHeaderTooLarge (431) is returned when one header line is longer
	// than MaxHeaderLen or the whole head longer than MaxHeadLen; the
	// ChunkedDecoder returns it for a trailer section over MaxHeaderLen.
	ErrHeaderTooLarge = &Error{431, "request header too large"}

	// ErrTooManyHeaders (431) is returned for more than MaxHeaders header
	// fields (or trailer fields).
	ErrTooManyHeaders = &Error{431, "too many header fields"}

	// ErrMissingHost (400) is returned for an HTTP/1.1 request without a
	// Host header (RFC 9112 §3.2).
	ErrMissingHost = &Error{400, "missing Host header"}

	// ErrBadHost (400) is returned for a Host header that is neither empty
	// nor host [":" port] of RFC 3986: a reg-name, IPv4 address or
	// bracketed IPv6 literal, then optionally a port of digits up to 65535.
	// Userinfo ("user@host"), '/', spaces and other bytes that could change
	// what a backend takes the host to be are refused.
	ErrBadHost = &Error{400, "invalid Host header"}

	// ErrDuplicateHost (400) is returned for a request with more than one
	// Host header (RFC 9112 §3.2).
	ErrDuplicateHost = &Error{400, "more than one Host header"}

	// ErrBadContentLength (400) is returned when Content-Length is empty,
	// holds anything but digits (as a comma list of equal values), or
	// overflows int64.
	ErrBadContentLength = &Error{400, "invalid Content-Length"}

	// ErrConflictingLength (400) is returned for Content-Length values that
	// differ, or for Content-Length together with Transfer-Encoding (RFC 9112
	// §6.3: a request smuggling vector).
	ErrConflictingLength = &Error{400, "conflicting message length"}

	// ErrBadTransferEncoding (400) is returned when chunked appears twice,
	// when Transfer-Encoding is empty or malformed (parameters, quotes),
	// and for Transfer-Encoding in an HTTP/1.0 request, whose sender
	// cannot know chunked framing (a request smuggling defence).
	ErrBadTransferEncoding = &Error{400, "invalid Transfer-Encoding"}

	// ErrNotImplemented (501) is returned for any transfer coding but
	// chunked, known ones such as gzip included (RFC 9112 §6.1, as nginx):
	// the body is re-framed on its way upstream, and a coding the proxy
	// does not apply itself would be lost.
	ErrNotImplemented = &Error{501, "unsupported transfer coding"}

	// ErrMethodNotAllowed (405) is returned once the head of a CONNECT
	// request is complete: nproxy opens no tunnels, and answers as nginx
	// does. (A CONNECT target that is not "host:port" is ErrBadURI.)
	ErrMethodNotAllowed = &Error{405, "CONNECT not allowed"}

	// ErrBadChunk (400) is returned by ChunkedDecoder.Next for malformed
	// chunked framing: a bad or overflowing chunk size, a malformed or
	// oversized chunk extension, chunk data not followed by CRLF, or a
	// malformed trailer field.
	ErrBadChunk = &Error{400, "malformed chunked encoding"}

	// ErrBodyTooLarge (413) is returned by the server when a request body
	// exceeds its configured maximum size; the parser never returns it.
	ErrBodyTooLarge = &Error{413, "request body too large"}
)

// Response parse errors. Each is returned by ResponseParser.Parse for an
// upstream (or server under test) response head that must not be relayed
// or trusted; Status is 502, what a proxy answers its client instead. They
// are sentinels, and after one of them the connection cannot be reused.
var (
	// ErrBadStatusLine (502) is returned when the status line is not
	// HTTP/1.0 or HTTP/1.1, one SP, three digits from 100 to 599, and
	// either CRLF or SP and a reason phrase free of control characters
	// other than HTAB.
	ErrBadStatusLine = &Error{502, "malformed response status line"}

	// ErrBadResponseLineEnding (502) is returned for a bare CR or a bare
	// LF anywhere in a response head: its lines must end in CRLF, and a
	// bare one inside a value would split the header for a lenient client.
	ErrBadResponseLineEnding = &Error{502, "response line not terminated by CRLF"}

	// ErrBadResponseHeader (502) is returned when a response header name is
	// not a token, whitespace stands between the name and the colon, the
	// colon is missing, or the value holds NUL, DEL or a control character
	// other than HTAB.
	ErrBadResponseHeader = &Error{502, "malformed response header field"}

	// ErrResponseObsFold (502) is returned for a response header line that
	// starts with SP or HTAB (obsolete line folding, RFC 9112 §5.2).
	ErrResponseObsFold = &Error{502, "obsolete line folding in response"}

	// ErrBadResponseLength (502) is returned when a response's
	// Content-Length is empty, holds anything but digits (a comma list of
	// equal values at most: no sign, no inner space), overflows int64, or
	// differs from another Content-Length of the head.
	ErrBadResponseLength = &Error{502, "invalid response Content-Length"}

	// ErrBadResponseTransferEncoding (502) is returned when a response's
	// Transfer-Encoding is empty, is not a comma list of tokens, lists
	// chunked twice, or comes with HTTP/1.0.
	ErrBadResponseTransferEncoding = &Error{502, "invalid response Transfer-Encoding"}

	// ErrResponseHeadTooLarge (502) is returned when the response head has
	// not ended within MaxHeadLen bytes.
	ErrResponseHeadTooLarge = &Error{502, "response head too large"}

	// ErrResponseTooManyHeaders (502) is returned for a response head with
	// more than MaxHeaders header fields.
	ErrResponseTooManyHeaders = &Error{502, "too many response header fields"}
)
