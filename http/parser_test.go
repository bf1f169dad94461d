//go:build linux

package http

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
)

// parserCase is one request head and what parsing it must give. A case with
// a nil err and incomplete false must parse completely; the remaining
// fields are checked only then, and only where set (zero means "don't
// care" except for the booleans and ContentLength, which are always
// checked).
type parserCase struct {
	name       string
	in         string
	err        *Error // the refusal expected, nil if none
	incomplete bool   // valid so far, more bytes needed

	method        Method
	methodText    string
	uri           string
	path          string
	query         string
	minor         uint8
	host          string
	contentLength int64
	chunked       bool
	keepAlive     bool
	expect100     bool
	upgrade       bool
	absolute      bool // Request.Absolute
	underscore    bool // Request.HasUnderscoreHeader
	numHeaders    int
	headLen       int // 0: the whole input
}

// Heads used in many cases.
const (
	get11 = "GET / HTTP/1.1\r\nHost: a\r\n"
	put11 = "PUT /u HTTP/1.1\r\nHost: a\r\n"
)

// repeatHeaders returns n header lines "Xi: v\r\n".
func repeatHeaders(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "X%d: v\r\n", i)
	}
	return b.String()
}

// headOfLen returns an HTTP/1.0 head of exactly n bytes (n >= 100) whose
// lines all stay under MaxHeaderLen and whose fields are under MaxHeaders.
func headOfLen(n int) string {
	const line = "GET / HTTP/1.0\r\n"
	var b strings.Builder
	b.WriteString(line)
	left := n - len(line) - len("\r\n")
	for left > 0 {
		k := min(left, 8000)
		if left-k > 0 && left-k < len("X: \r\n") {
			k -= len("X: \r\n")
		}
		b.WriteString("X: " + strings.Repeat("v", k-len("X: \r\n")) + "\r\n")
		left -= k
	}
	b.WriteString("\r\n")
	return b.String()
}

var parserCases = []parserCase{
	// Request line.
	{name: "simple get", in: get11 + "\r\n", method: MethodGet, methodText: "GET", uri: "/", path: "/", minor: 1, host: "a", contentLength: -1, keepAlive: true, numHeaders: 1},
	{name: "leading empty lines skipped", in: "\r\n\r\n" + get11 + "\r\n", method: MethodGet, uri: "/", minor: 1, contentLength: -1, keepAlive: true},
	{name: "leading bare LF", in: "\n" + get11 + "\r\n", err: ErrBadLineEnding},
	{name: "leading bare CR", in: "\r" + get11 + "\r\n", err: ErrBadLineEnding},
	{name: "leading space", in: " " + get11 + "\r\n", err: ErrBadMethod},
	{name: "all methods known", in: "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", method: MethodOptions, uri: "*", path: "*", minor: 1, contentLength: -1, keepAlive: true},
	// llhttp refuses methods outside its list (MKCOLA, ANNOUNCE); a proxy
	// passes extension methods on (RFC 9110 §9.1), as nginx does.
	{name: "extension method", in: "MKCOLA / HTTP/1.1\r\nHost: a\r\n\r\n", method: MethodOther, methodText: "MKCOLA", minor: 1, contentLength: -1, keepAlive: true},
	{name: "method with dash", in: "M-SEARCH / HTTP/1.1\r\nHOST: a\r\n\r\n", method: MethodOther, methodText: "M-SEARCH", host: "a", minor: 1, contentLength: -1, keepAlive: true},
	{name: "methods are case-sensitive", in: "get / HTTP/1.1\r\nHost: a\r\n\r\n", method: MethodOther, methodText: "get", minor: 1, contentLength: -1, keepAlive: true},
	{name: "method of 32 bytes", in: strings.Repeat("M", 32) + " / HTTP/1.0\r\n\r\n", method: MethodOther, contentLength: -1},
	{name: "method of 33 bytes", in: strings.Repeat("M", 33) + " / HTTP/1.0\r\n\r\n", err: ErrBadMethod},
	{name: "method not a token", in: "GE(T / HTTP/1.1\r\n\r\n", err: ErrBadMethod},
	{name: "method then tab", in: "GET\t/ HTTP/1.1\r\n\r\n", err: ErrBadMethod},
	{name: "PRI is the HTTP/2 preface", in: "PRI * HTTP/1.1\r\nHost: a\r\n\r\nSM\r\n\r\n", err: ErrBadMethod},
	{name: "two spaces after method", in: "GET  / HTTP/1.1\r\n\r\n", err: ErrBadURI},
	{name: "empty target", in: "GET  HTTP/1.1\r\n\r\n", err: ErrBadURI},
	{name: "query", in: "GET /a/b?x=1&y=2 HTTP/1.1\r\nHost: a\r\n\r\n", uri: "/a/b?x=1&y=2", path: "/a/b", query: "x=1&y=2", method: MethodGet, minor: 1, contentLength: -1, keepAlive: true},
	{name: "second question mark is query", in: "GET /t.cgi?foo=bar?baz HTTP/1.1\r\nHost: a\r\n\r\n", path: "/t.cgi", query: "foo=bar?baz", method: MethodGet, minor: 1, contentLength: -1, keepAlive: true},
	{name: "absolute form", in: "GET http://h.org:1234?hail=all HTTP/1.1\r\nHost: h.org:1234\r\n\r\n", uri: "http://h.org:1234?hail=all", query: "hail=all", method: MethodGet, minor: 1, host: "h.org:1234", contentLength: -1, keepAlive: true, absolute: true},
	{name: "authority form", in: "CONNECT home_0.example.com:443 HTTP/1.0\r\n\r\n", err: ErrMethodNotAllowed},
	// RFC 3986 leaves these out, but clients send them; like nginx and
	// llhttp we take any visible ASCII.
	{name: "quotes, backslash, bar, fragment", in: "GET /with_\"q\"?a=\\\"b\\\"|#frag HTTP/1.1\r\nHost: a\r\n\r\n", method: MethodGet, path: "/with_\"q\"", minor: 1, contentLength: -1, keepAlive: true},
	{name: "utf-8 in target", in: "GET /\xce\xb4 HTTP/1.1\r\nHost: a\r\n\r\n", err: ErrBadURI},
	{name: "control in target", in: "GET /\x01 HTTP/1.1\r\nHost: a\r\n\r\n", err: ErrBadURI},
	{name: "DEL in target", in: "GET /\x7f HTTP/1.1\r\nHost: a\r\n\r\n", err: ErrBadURI},
	{name: "space in target", in: "GET /foo bar/ HTTP/1.1\r\nHost: a\r\n\r\n", err: ErrBadVersion},
	{name: "target of MaxURILen", in: "GET /" + strings.Repeat("a", MaxURILen-1) + " HTTP/1.1\r\nHost: a\r\n\r\n", method: MethodGet, minor: 1, contentLength: -1, keepAlive: true},
	{name: "target over MaxURILen", in: "GET /" + strings.Repeat("a", MaxURILen) + " HTTP/1.1\r\nHost: a\r\n\r\n", err: ErrURITooLong},
	{name: "HTTP/0.9 has no version", in: "GET /\r\n\r\n", err: ErrBadVersion},
	{name: "HTTP/1.0", in: "GET / HTTP/1.0\r\n\r\n", method: MethodGet, minor: 0, contentLength: -1},
	{name: "HTTP/1.2", in: "GET / HTTP/1.2\r\nHost: a\r\n\r\n", err: ErrUnsupportedVersion},
	{name: "HTTP/2.0", in: "PRX / HTTP/2.0\r\n\r\n", err: ErrUnsupportedVersion},
	{name: "HTTP/5.6 refused at its last digit", in: "GET / HTTP/5.6", err: ErrUnsupportedVersion},
	{name: "HTTP/0.9 spelled out", in: "GET / HTTP/0.9\r\n\r\n", err: ErrUnsupportedVersion},
	{name: "two-digit major", in: "GET / HTTP/11.1\r\n\r\n", err: ErrBadVersion},
	{name: "lowercase protocol", in: "GET / http/1.1\r\n\r\n", err: ErrBadVersion},
	{name: "protocol with prefix", in: "GET / IHTTP/1.0\r\n\r\n", err: ErrBadVersion},
	{name: "space after version", in: "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", err: ErrBadVersion},
	{name: "bare LF after version", in: "GET / HTTP/1.1\nHost: a\r\n\r\n", err: ErrBadLineEnding},
	{name: "bare CR after version", in: "GET / HTTP/1.1\rLine: 1\r\n", err: ErrBadLineEnding},

	// Header syntax.
	{name: "value whitespace trimmed", in: "GET / HTTP/1.1\r\nHost: \t a \t\r\n\r\n", host: "a", method: MethodGet, minor: 1, contentLength: -1, keepAlive: true},
	{name: "empty value", in: get11 + "X-Empty:\r\nY:   \r\n\r\n", numHeaders: 3, method: MethodGet, minor: 1, contentLength: -1, keepAlive: true},
	{name: "obs-text in value", in: get11 + "T: D\xc3\xbcsseldorf \xff\r\n\r\n", method: MethodGet, minor: 1, contentLength: -1, keepAlive: true},
	{name: "token punctuation in name", in: get11 + "aaaaaaaaaaaaa:++++++++++\r\n!#$%&'*+-.^_`|~:x\r\n\r\n", numHeaders: 3, method: MethodGet, minor: 1, contentLength: -1, keepAlive: true, underscore: true},
	{name: "space before colon", in: get11 + "Connection : close\r\n\r\n", err: ErrBadHeader},
	{name: "tab before colon", in: get11 + "X\t: y\r\n\r\n", err: ErrBadHeader},
	{name: "empty name", in: get11 + ": Bar\r\n\r\n", err: ErrBadHeader},
	{name: "at sign in name", in: get11 + "Fo@: x\r\n\r\n", err: ErrBadHeader},
	{name: "control in name", in: get11 + "Foo\x01\test: Bar\r\n\r\n", err: ErrBadHeader},
	{name: "no colon", in: get11 + "name\r\n : value\r\n\r\n", err: ErrBadHeader},
	{name: "CR in name", in: get11 + "Content\rLength: 3\r\n\r\n", err: ErrBadHeader},
	{name: "obs-fold", in: get11 + "X: a\r\n b\r\n\r\n", err: ErrObsFold},
	{name: "space before first header", in: "GET / HTTP/1.1\r\n Host: a\r\n\r\n", err: ErrObsFold},
	{name: "tab starts a line", in: get11 + "\tX: a\r\n\r\n", err: ErrObsFold},
	{name: "NUL in value", in: get11 + "X: a\x00b\r\n\r\n", err: ErrBadHeader},
	{name: "form feed in value", in: get11 + "X: hello\fworld\r\n\r\n", err: ErrBadHeader},
	{name: "DEL in value", in: get11 + "X: a\x7f\r\n\r\n", err: ErrBadHeader},
	{name: "bare CR in value", in: get11 + "Connection: keep\ralive\r\n\r\n", err: ErrBadLineEnding},
	{name: "headers separated by CR", in: get11 + "Foo: 1\rBar: 2\r\n\r\n", err: ErrBadLineEnding},
	{name: "headers separated by LF", in: get11 + "x:x\nTransfer-Encoding: chunked\r\n\r\n", err: ErrBadLineEnding},
	{name: "empty value then LF", in: get11 + "x:\nTransfer-Encoding: chunked\r\n\r\n", err: ErrBadLineEnding},
	{name: "empty value then CR", in: get11 + "x:\rTransfer-Encoding: chunked\r\n\r\n", err: ErrBadLineEnding},
	{name: "CR then junk ends head", in: get11 + "\rZGET /evil HTTP/1.1\r\n", err: ErrBadLineEnding},
	{name: "bare LF ends head", in: get11 + "\n", err: ErrBadLineEnding},
	{name: "only LFs", in: "POST / HTTP/1.1\nHost: a\n\n", err: ErrBadLineEnding},
	{name: "line of MaxHeaderLen", in: get11 + "X: " + strings.Repeat("v", MaxHeaderLen-3) + "\r\n\r\n", method: MethodGet, minor: 1, contentLength: -1, keepAlive: true},
	{name: "line over MaxHeaderLen", in: get11 + "X: " + strings.Repeat("v", MaxHeaderLen-2) + "\r\n\r\n", err: ErrHeaderTooLarge},
	{name: "name over MaxHeaderLen", in: get11 + strings.Repeat("n", MaxHeaderLen+1) + ": v\r\n\r\n", err: ErrHeaderTooLarge},
	{name: "MaxHeaders headers", in: "GET / HTTP/1.0\r\n" + repeatHeaders(MaxHeaders) + "\r\n", numHeaders: MaxHeaders, method: MethodGet, contentLength: -1},
	{name: "too many headers", in: "GET / HTTP/1.0\r\n" + repeatHeaders(MaxHeaders+1) + "\r\n", err: ErrTooManyHeaders},
	{name: "head over MaxHeadLen", in: "GET / HTTP/1.0\r\n" + strings.Repeat("X: "+strings.Repeat("v", 1000)+"\r\n", 63) + "Y: " + strings.Repeat("v", 4000) + "\r\n\r\n", err: ErrHeaderTooLarge},
	{name: "head of MaxHeadLen", in: headOfLen(MaxHeadLen), method: MethodGet, contentLength: -1},
	{name: "head of MaxHeadLen+1", in: headOfLen(MaxHeadLen + 1), err: ErrHeaderTooLarge},
	{name: "incomplete head", in: get11 + "Content-Leng", incomplete: true},
	{name: "incomplete final CRLF", in: get11 + "\r", incomplete: true},

	// Host.
	{name: "HTTP/1.1 without Host", in: "GET / HTTP/1.1\r\n\r\n", err: ErrMissingHost},
	{name: "HTTP/1.0 without Host", in: "GET / HTTP/1.0\r\nX: y\r\n\r\n", method: MethodGet, contentLength: -1, numHeaders: 1},
	{name: "empty Host", in: "GET / HTTP/1.1\r\nHost:\r\n\r\n", method: MethodGet, minor: 1, contentLength: -1, keepAlive: true},
	{name: "two Hosts", in: get11 + "host: a\r\n\r\n", err: ErrDuplicateHost},

	// Connection.
	{name: "1.1 close", in: get11 + "Connection: close\r\n\r\n", method: MethodGet, minor: 1, contentLength: -1},
	{name: "1.1 close then tab", in: get11 + "Connection: close\t\r\n\r\n", method: MethodGet, minor: 1, contentLength: -1},
	{name: "1.0 keep-alive", in: "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", method: MethodGet, contentLength: -1, keepAlive: true},
	{name: "1.0 default close", in: "GET / HTTP/1.0\r\n\r\n", method: MethodGet, contentLength: -1},
	{name: "close wins in a list", in: get11 + "Connection: keep-alive, CLOSE ,token\r\n\r\n", method: MethodGet, minor: 1, contentLength: -1},
	{name: "close as substring is not close", in: get11 + "Connection: closed, xclose\r\n\r\n", method: MethodGet, minor: 1, contentLength: -1, keepAlive: true},
	{name: "upgrade", in: get11 + "Connection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n", method: MethodGet, minor: 1, contentLength: -1, keepAlive: true, upgrade: true},
	{name: "Upgrade header alone", in: get11 + "Upgrade: websocket\r\n\r\n", method: MethodGet, minor: 1, contentLength: -1, keepAlive: true},
	{name: "Connection upgrade alone", in: get11 + "Connection: upgrade\r\n\r\n", method: MethodGet, minor: 1, contentLength: -1, keepAlive: true},
	{name: "expect 100-continue", in: put11 + "Expect: 100-Continue\r\nContent-Length: 1\r\n\r\n", method: MethodPut, minor: 1, contentLength: 1, keepAlive: true, expect100: true},

	// Content-Length.
	{name: "content-length", in: put11 + "Content-Length: 5\r\n\r\nhello", headLen: len(put11) + 21, method: MethodPut, minor: 1, contentLength: 5, keepAlive: true},
	{name: "content-length leading zeros", in: put11 + "content-LENGTH: 003\r\n\r\n", method: MethodPut, minor: 1, contentLength: 3, keepAlive: true},
	{name: "content-length zero", in: put11 + "Content-Length: 0\r\n\r\n", method: MethodPut, minor: 1, contentLength: 0, keepAlive: true},
	{name: "content-length whitespace", in: put11 + "Content-Length:\t 42 \t\r\n\r\n", method: MethodPut, minor: 1, contentLength: 42, keepAlive: true},
	{name: "content-length max int64", in: put11 + "Content-Length: 9223372036854775807\r\n\r\n", method: MethodPut, minor: 1, contentLength: 1<<63 - 1, keepAlive: true},
	{name: "content-length overflow", in: put11 + "Content-Length: 9223372036854775808\r\n\r\n", err: ErrBadContentLength},
	{name: "content-length huge", in: put11 + "Content-Length: 1000000000000000000000\r\n", err: ErrBadContentLength},
	{name: "content-length list of equal values", in: put11 + "Content-Length: 5, 5,5\r\n\r\n", err: ErrBadContentLength},
	{name: "content-length equal duplicates", in: put11 + "Content-Length: 5\r\nContent-Length: 05\r\n\r\n", err: ErrConflictingLength},
	{name: "content-length differing duplicates", in: put11 + "Content-Length: 1\r\nContent-Length: 2\r\n", err: ErrConflictingLength},
	{name: "content-length differing list", in: put11 + "Content-Length: 1, 2\r\n\r\n", err: ErrBadContentLength},
	{name: "content-length empty", in: put11 + "Content-Length:\r\n\r\n", err: ErrBadContentLength},
	{name: "content-length inner space", in: put11 + "Content-Length: 4 2\r\n\r\n", err: ErrBadContentLength},
	{name: "content-length sign", in: put11 + "Content-Length: +5\r\n\r\n", err: ErrBadContentLength},
	{name: "content-length negative", in: put11 + "Content-Length: -1\r\n\r\n", err: ErrBadContentLength},
	{name: "content-length hex", in: put11 + "Content-Length: 0x10\r\n\r\n", err: ErrBadContentLength},
	{name: "content-length empty list element", in: put11 + "Content-Length: 5,\r\n\r\n", err: ErrBadContentLength},
	{name: "content-length then transfer-encoding", in: put11 + "Content-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", err: ErrConflictingLength},
	{name: "transfer-encoding then content-length", in: put11 + "Transfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n", err: ErrConflictingLength},
	{name: "content-length and empty transfer-encoding", in: put11 + "Content-Length: 10\r\nTransfer-Encoding:\r\n\r\n", err: ErrConflictingLength},

	// Transfer-Encoding.
	{name: "chunked", in: put11 + "Transfer-Encoding: chunked\r\n\r\n", method: MethodPut, minor: 1, contentLength: -1, chunked: true, keepAlive: true},
	{name: "chunked any case", in: put11 + "transfer-encoding: CHUNKED\r\n\r\n", method: MethodPut, minor: 1, contentLength: -1, chunked: true, keepAlive: true},
	// Only chunked is accepted: see TestFinding13 for the other codings.
	{name: "empty list elements ignored", in: put11 + "Transfer-Encoding: , ,, chunked,\r\n\r\n", method: MethodPut, minor: 1, contentLength: -1, chunked: true, keepAlive: true},
	{name: "chunked not last", in: put11 + "Transfer-Encoding: chunked, deflate\r\n\r\n", err: ErrNotImplemented},
	{name: "chunked not last over two headers", in: put11 + "Transfer-Encoding: chunked\r\nTransfer-Encoding: deflate\r\n\r\n", err: ErrNotImplemented},
	{name: "chunked twice", in: put11 + "Transfer-Encoding: chunked, chunked\r\n\r\n", err: ErrBadTransferEncoding},
	{name: "chunked in two headers", in: put11 + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", err: ErrBadTransferEncoding},
	{name: "known coding without chunked", in: put11 + "Transfer-Encoding: gzip\r\n\r\n", err: ErrNotImplemented},
	{name: "unknown coding", in: put11 + "Transfer-Encoding: pigeons\r\n\r\n", err: ErrNotImplemented},
	{name: "chunkedchunked is unknown", in: put11 + "Transfer-Encoding: chunkedchunked\r\n\r\n", err: ErrNotImplemented},
	{name: "identity is unknown", in: put11 + "Transfer-Encoding: identity\r\n\r\n", err: ErrNotImplemented},
	{name: "empty transfer-encoding", in: put11 + "Transfer-Encoding:\r\n\r\n", err: ErrBadTransferEncoding},
	{name: "coding with parameter", in: put11 + "Transfer-Encoding: chunked;q=1\r\n\r\n", err: ErrBadTransferEncoding},
	{name: "obs-fold after chunked", in: put11 + "Transfer-Encoding: chunked\r\n  abc\r\n\r\n", err: ErrObsFold},
	{name: "transfer-encoding in HTTP/1.0", in: "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", err: ErrBadTransferEncoding},
}

// parseInSteps feeds in to a fresh Parser as growing prefixes ending at
// cuts (ascending, the last one len(in)), each copied to a new array so that
// a parser keeping slices across calls would be caught.
func parseInSteps(in []byte, cuts []int) (req Request, done bool, err error) {
	var p Parser
	req.Reset()
	for _, cut := range cuts {
		buf := in[:cut]
		if len(in) <= 4096 {
			buf = append([]byte(nil), buf...)
		}
		done, err = p.Parse(buf, &req)
		if done || err != nil {
			return req, done, err
		}
	}
	return req, done, err
}

// wholeCuts, byteCuts and randomCuts are the ways a test splits its input.
func wholeCuts(n int) []int { return []int{n} }

func byteCuts(n int) []int {
	cuts := make([]int, n)
	for i := range cuts {
		cuts[i] = i + 1
	}
	return cuts
}

func randomCuts(n int, r *rand.Rand) []int {
	if n == 0 {
		return []int{0}
	}
	k := 1 + r.IntN(8)
	cuts := []int{n}
	for i := 0; i < k; i++ {
		cuts = append(cuts, r.IntN(n+1))
	}
	sort.Ints(cuts)
	return cuts
}

func TestParse(t *testing.T) { runParserCases(t, parserCases) }

// runParserCases parses each case whole and checks the outcome.
func runParserCases(t *testing.T, cases []parserCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := []byte(tc.in)
			req, done, err := parseInSteps(in, wholeCuts(len(in)))
			if tc.err != nil {
				if err != tc.err {
					t.Fatalf("err = %v, want %v (status %d)", err, tc.err, tc.err.Status)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if done == tc.incomplete {
				t.Fatalf("done = %v, want %v", done, !tc.incomplete)
			}
			if !done {
				return
			}
			checkRequest(t, in, &req, &tc)
		})
	}
}

// checkRequest compares a parsed request with what tc expects.
func checkRequest(t *testing.T, in []byte, req *Request, tc *parserCase) {
	t.Helper()
	text := func(s Span) string { return string(s.Bytes(in)) }
	if req.Method != tc.method {
		t.Errorf("Method = %v, want %v", req.Method, tc.method)
	}
	if tc.methodText != "" && text(req.MethodSpan) != tc.methodText {
		t.Errorf("MethodSpan = %q, want %q", text(req.MethodSpan), tc.methodText)
	}
	if tc.uri != "" && text(req.URI) != tc.uri {
		t.Errorf("URI = %q, want %q", text(req.URI), tc.uri)
	}
	if tc.path != "" && text(req.Path) != tc.path {
		t.Errorf("Path = %q, want %q", text(req.Path), tc.path)
	}
	if text(req.Query) != tc.query && tc.query != "" {
		t.Errorf("Query = %q, want %q", text(req.Query), tc.query)
	}
	if req.Major != 1 || req.Minor != tc.minor {
		t.Errorf("version = %d.%d, want 1.%d", req.Major, req.Minor, tc.minor)
	}
	if tc.host != "" && text(req.Host) != tc.host {
		t.Errorf("Host = %q, want %q", text(req.Host), tc.host)
	}
	if req.ContentLength != tc.contentLength {
		t.Errorf("ContentLength = %d, want %d", req.ContentLength, tc.contentLength)
	}
	if req.Chunked != tc.chunked || req.KeepAlive != tc.keepAlive ||
		req.Expect100 != tc.expect100 || req.Upgrade != tc.upgrade {
		t.Errorf("Chunked/KeepAlive/Expect100/Upgrade = %v/%v/%v/%v, want %v/%v/%v/%v",
			req.Chunked, req.KeepAlive, req.Expect100, req.Upgrade,
			tc.chunked, tc.keepAlive, tc.expect100, tc.upgrade)
	}
	if req.Absolute != tc.absolute || req.HasUnderscoreHeader != tc.underscore {
		t.Errorf("Absolute/HasUnderscoreHeader = %v/%v, want %v/%v",
			req.Absolute, req.HasUnderscoreHeader, tc.absolute, tc.underscore)
	}
	if tc.numHeaders != 0 && req.NumHeaders != tc.numHeaders {
		t.Errorf("NumHeaders = %d, want %d", req.NumHeaders, tc.numHeaders)
	}
	headLen := tc.headLen
	if headLen == 0 {
		headLen = len(in)
	}
	if req.HeadLen != headLen {
		t.Errorf("HeadLen = %d, want %d", req.HeadLen, headLen)
	}
}

// TestParseSplits checks that every table case gives the same outcome, to
// the last field, whole, one byte at a time and split at random points.
func TestParseSplits(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, tc := range allParserCases() {
		in := []byte(tc.in)
		wantReq, wantDone, wantErr := parseInSteps(in, wholeCuts(len(in)))
		splits := [][]int{byteCuts(len(in))}
		for i := 0; i < 20; i++ {
			splits = append(splits, randomCuts(len(in), r))
		}
		for _, cuts := range splits {
			req, done, err := parseInSteps(in, cuts)
			if done != wantDone || err != wantErr || req != wantReq {
				t.Errorf("%s: split at %v: done=%v err=%v, whole: done=%v err=%v (requests equal: %v)",
					tc.name, cuts, done, err, wantDone, wantErr, req == wantReq)
				break
			}
		}
	}
}

func TestParsePipelined(t *testing.T) {
	stream := []byte("POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nAAA" +
		"\r\n" + // an empty line between requests is skipped (RFC 9112 §2.2)
		"PUT /b HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nBBBB\r\n0\r\n\r\n" +
		"GET /c HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n" +
		"GET /d HTTP/1.1\r\nHo")
	want := []struct {
		path      string
		body      string
		keepAlive bool
	}{
		{"/a", "AAA", true},
		{"/b", "BBBB", true},
		{"/c", "", false},
	}
	var p Parser
	var req Request
	var dec ChunkedDecoder
	off := 0
	for i, w := range want {
		p.Reset()
		req.Reset()
		buf := stream[off:]
		done, err := p.Parse(buf, &req)
		if !done || err != nil {
			t.Fatalf("request %d: done=%v err=%v", i, done, err)
		}
		if got := string(req.Path.Bytes(buf)); got != w.path || req.KeepAlive != w.keepAlive {
			t.Errorf("request %d: path %q keep-alive %v, want %q %v", i, got, req.KeepAlive, w.path, w.keepAlive)
		}
		body := buf[req.HeadLen:]
		var got []byte
		switch {
		case req.Chunked:
			dec.Reset()
			for {
				n, data, fin, err := dec.Next(body)
				if err != nil {
					t.Fatalf("request %d: chunked: %v", i, err)
				}
				got = append(got, data...)
				body = body[n:]
				if fin {
					break
				}
			}
		case req.ContentLength > 0:
			got, body = body[:req.ContentLength], body[req.ContentLength:]
		}
		if string(got) != w.body {
			t.Errorf("request %d: body %q, want %q", i, got, w.body)
		}
		off = len(stream) - len(body)
	}
	p.Reset()
	req.Reset()
	if done, err := p.Parse(stream[off:], &req); done || err != nil {
		t.Errorf("truncated last request: done=%v err=%v, want more input", done, err)
	}
}

// TestParseSticky checks that Parse repeats its outcome once it has one.
func TestParseSticky(t *testing.T) {
	var p Parser
	var req Request
	req.Reset()
	buf := []byte(get11 + "\r\nGARBAGE")
	for i := 0; i < 2; i++ {
		if done, err := p.Parse(buf, &req); !done || err != nil {
			t.Fatalf("call %d: done=%v err=%v", i, done, err)
		}
	}
	p.Reset()
	req.Reset()
	buf = []byte("GET / HTTP/9.9\r\n")
	for i := 0; i < 2; i++ {
		if _, err := p.Parse(buf, &req); err != ErrUnsupportedVersion {
			t.Fatalf("call %d: err=%v", i, err)
		}
	}
	var e *Error
	if !errors.As(error(ErrUnsupportedVersion), &e) || e.Status != 505 {
		t.Errorf("ErrUnsupportedVersion: %#v", e)
	}
}

func TestRequestHeader(t *testing.T) {
	buf := []byte(get11 + "If-None-Match: \"x\"\r\nIf-Modified-Since: Sat, 29 Oct 1994 19:43:31 GMT\r\n" +
		"Range: bytes=0-9\r\nUpgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\nX-Dup: 1\r\nx-dup: 2\r\n\r\n")
	var p Parser
	var req Request
	req.Reset()
	if done, err := p.Parse(buf, &req); !done || err != nil {
		t.Fatalf("done=%v err=%v", done, err)
	}
	spans := []struct {
		name string
		span Span
		want string
	}{
		{"IfNoneMatch", req.IfNoneMatch, `"x"`},
		{"IfModifiedSince", req.IfModifiedSince, "Sat, 29 Oct 1994 19:43:31 GMT"},
		{"Range", req.Range, "bytes=0-9"},
		{"UpgradeProto", req.UpgradeProto, "h2c"},
		{"Connection", req.Connection, "Upgrade, HTTP2-Settings"},
	}
	for _, s := range spans {
		if got := string(s.span.Bytes(buf)); got != s.want {
			t.Errorf("%s = %q, want %q", s.name, got, s.want)
		}
	}
	if !req.Upgrade {
		t.Error("Upgrade = false")
	}
	if v, ok := req.Header(buf, "X-DUP"); !ok || string(v) != "1" {
		t.Errorf("Header(X-DUP) = %q, %v; want first value", v, ok)
	}
	if _, ok := req.Header(buf, "X-Missing"); ok {
		t.Error("Header(X-Missing) found")
	}
}

// TestRun8MatchesTables checks the word-at-a-time tests against the byte
// tables: every byte value at every position of a word otherwise accepted.
// TestHeadOfLen checks the helper the MaxHeadLen cases rely on.
func TestHeadOfLen(t *testing.T) {
	for _, n := range []int{100, 8006, MaxHeadLen, MaxHeadLen + 1} {
		if got := len(headOfLen(n)); got != n {
			t.Errorf("len(headOfLen(%d)) = %d", n, got)
		}
	}
}

func TestRun8MatchesTables(t *testing.T) {
	for pos := 0; pos < 8; pos++ {
		for c := 0; c < 256; c++ {
			w := []byte("aaaaaaaa")
			w[pos] = byte(c)
			x := uint64(0)
			for i := 7; i >= 0; i-- {
				x = x<<8 | uint64(w[i])
			}
			if got, want := targetRun8(x), charClass[c]&isTarget != 0; got != want {
				t.Errorf("targetRun8 with %#x at %d = %v, want %v", c, pos, got, want)
			}
			if got, want := valueRun8(x), charClass[c]&isValueWS != 0 && c != '\t'; got != want {
				t.Errorf("valueRun8 with %#x at %d = %v, want %v", c, pos, got, want)
			}
		}
	}
}
