//go:build linux

package http

import (
	"slices"
	"strings"
	"testing"
)

// The parser's side of the findings of issue 9 (request smuggling and
// routing confusion), one table per finding. TestParseSplits and
// FuzzParser take these cases too (allParserCases), so each also holds
// however the head is split, and seeds the fuzzer.

// finding2Cases: a Connection option naming a framing header changes
// nothing the parser reports; the proxy ignores such options (its tests
// are in proxy/finding_request_test.go).
var finding2Cases = []parserCase{
	{name: "Connection: content-length keeps the length", in: "POST /a HTTP/1.1\r\nHost: a\r\nConnection: content-length\r\nContent-Length: 5\r\n\r\nhello", headLen: 76,
		method: MethodPost, minor: 1, host: "a", contentLength: 5, keepAlive: true},
	{name: "Connection: transfer-encoding keeps chunked", in: "POST /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: Transfer-Encoding, close\r\n\r\n",
		method: MethodPost, minor: 1, host: "a", contentLength: -1, chunked: true},
	{name: "Connection: host keeps the host", in: "GET / HTTP/1.1\r\nConnection: host\r\nHost: a\r\n\r\n",
		method: MethodGet, minor: 1, host: "a", contentLength: -1, keepAlive: true},
	{name: "explicit zero length is a length", in: "POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
		method: MethodPost, minor: 1, contentLength: 0, keepAlive: true},
}

// finding9Cases: the request-target is origin-form, absolute-form (whose
// authority becomes Host, and whose path is what is routed), "*" for
// OPTIONS or "host:port" for CONNECT, and nothing else.
var finding9Cases = []parserCase{
	{name: "absolute-form host wins over Host", in: "GET http://evil.example/x HTTP/1.1\r\nHost: good\r\n\r\n",
		method: MethodGet, uri: "http://evil.example/x", path: "/x", host: "evil.example", minor: 1, contentLength: -1, keepAlive: true, absolute: true},
	{name: "absolute-form Host after the target's", in: "GET http://evil.example:8080/x/y?q=1 HTTP/1.1\r\nHost: good:80\r\n\r\n",
		method: MethodGet, path: "/x/y", query: "q=1", host: "evil.example:8080", minor: 1, contentLength: -1, keepAlive: true, absolute: true},
	{name: "absolute-form https, scheme in any case", in: "GET hTTpS://a.example/ HTTP/1.1\r\nHost: a.example\r\n\r\n",
		method: MethodGet, path: "/", host: "a.example", minor: 1, contentLength: -1, keepAlive: true, absolute: true},
	{name: "absolute-form without path", in: "GET http://a.example HTTP/1.1\r\nHost: b\r\n\r\n",
		method: MethodGet, host: "a.example", minor: 1, contentLength: -1, keepAlive: true, absolute: true},
	{name: "absolute-form IPv6 literal", in: "GET http://[::1]:8080/x HTTP/1.0\r\n\r\n",
		method: MethodGet, path: "/x", host: "[::1]:8080", contentLength: -1, absolute: true},
	{name: "absolute-form in HTTP/1.0 needs no Host", in: "GET http://a.example/x HTTP/1.0\r\n\r\n",
		method: MethodGet, path: "/x", host: "a.example", contentLength: -1, absolute: true},
	{name: "absolute-form in HTTP/1.1 still needs Host", in: "GET http://a.example/x HTTP/1.1\r\n\r\n", err: ErrMissingHost},
	{name: "absolute-form Host header still checked", in: "GET http://a.example/x HTTP/1.1\r\nHost: user@b\r\n\r\n", err: ErrBadHost},
	{name: "absolute-form two Hosts", in: "GET http://a.example/x HTTP/1.1\r\nHost: a.example\r\nHost: b\r\n\r\n", err: ErrDuplicateHost},
	{name: "absolute-form with userinfo", in: "GET http://user:pw@a.example/x HTTP/1.1\r\nHost: a.example\r\n\r\n", err: ErrBadURI},
	{name: "absolute-form with empty host", in: "GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n", err: ErrBadURI},
	{name: "absolute-form with port over 65535", in: "GET http://a:65536/x HTTP/1.1\r\nHost: a\r\n\r\n", err: ErrBadURI},
	{name: "absolute-form with fragment in authority", in: "GET http://a#frag HTTP/1.1\r\nHost: a\r\n\r\n", err: ErrBadURI},
	{name: "absolute-form with backslash", in: "GET http://a\\@evil/ HTTP/1.1\r\nHost: a\r\n\r\n", err: ErrBadURI},
	{name: "other scheme", in: "GET ftp://a.example/x HTTP/1.1\r\nHost: a\r\n\r\n", err: ErrBadURI},
	{name: "scheme without slashes", in: "GET http:a.example/x HTTP/1.1\r\nHost: a\r\n\r\n", err: ErrBadURI},
	{name: "at sign target", in: "GET @evil.example/x HTTP/1.1\r\nHost: good\r\n\r\n", err: ErrBadURI},
	{name: "authority-form for GET", in: "GET evil.example:80/x HTTP/1.1\r\nHost: good\r\n\r\n", err: ErrBadURI},
	{name: "relative path", in: "GET x/y HTTP/1.1\r\nHost: a\r\n\r\n", err: ErrBadURI},
	{name: "query alone", in: "GET ?x HTTP/1.1\r\nHost: a\r\n\r\n", err: ErrBadURI},
	{name: "asterisk-form for OPTIONS", in: "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
		method: MethodOptions, uri: "*", path: "*", host: "a", minor: 1, contentLength: -1, keepAlive: true},
	{name: "asterisk-form for GET", in: "GET * HTTP/1.1\r\nHost: a\r\n\r\n", err: ErrBadURI},
	{name: "asterisk-form for M-SEARCH", in: "M-SEARCH * HTTP/1.1\r\nHost: a\r\n\r\n", err: ErrBadURI},
	{name: "asterisk and more", in: "OPTIONS *x HTTP/1.1\r\nHost: a\r\n\r\n", err: ErrBadURI},
	{name: "CONNECT is answered 405", in: "CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n", err: ErrMethodNotAllowed},
	{name: "CONNECT needs a port", in: "CONNECT a.example HTTP/1.1\r\nHost: a.example\r\n\r\n", err: ErrBadURI},
	{name: "CONNECT origin-form", in: "CONNECT /x HTTP/1.1\r\nHost: a\r\n\r\n", err: ErrBadURI},
	{name: "CONNECT with userinfo", in: "CONNECT u@a.example:443 HTTP/1.1\r\nHost: a\r\n\r\n", err: ErrBadURI},
	{name: "CONNECT head checked before 405", in: "CONNECT a.example:443 HTTP/1.1\r\n\r\n", err: ErrMissingHost},
}

// finding10Cases: the request says whether a header name holds '_', so
// that the proxy can drop such headers without scanning every name.
var finding10Cases = []parserCase{
	{name: "underscore in name", in: get11 + "X_Forwarded_For: 1.2.3.4\r\n\r\n",
		method: MethodGet, minor: 1, contentLength: -1, keepAlive: true, underscore: true},
	{name: "name starting with underscore", in: get11 + "_: x\r\n\r\n",
		method: MethodGet, minor: 1, contentLength: -1, keepAlive: true, underscore: true},
	{name: "underscore in value only", in: get11 + "X-Forwarded-For: a_b\r\n\r\n",
		method: MethodGet, minor: 1, contentLength: -1, keepAlive: true},
	{name: "underscore in a later name", in: get11 + "A: 1\r\nB: 2\r\nC_D: 3\r\n\r\n",
		method: MethodGet, minor: 1, contentLength: -1, keepAlive: true, underscore: true, numHeaders: 4},
	{name: "Content_Length is not a length", in: put11 + "Content_Length: 5\r\n\r\n",
		method: MethodPut, minor: 1, contentLength: -1, keepAlive: true, underscore: true},
}

// finding13Cases: the framing the proxy re-creates upstream is exactly
// the one it understood: a list of equal lengths is one length, and
// chunked is the only transfer coding.
var finding13Cases = []parserCase{
	// A list is refused even when its values agree, as nginx and Go do.
	{name: "length list of equal values", in: put11 + "Content-Length: 5, 5\r\n\r\n", err: ErrBadContentLength},
	{name: "length list of differing values", in: put11 + "Content-Length: 5, 6\r\n\r\n", err: ErrBadContentLength},
	{name: "gzip then chunked", in: put11 + "Transfer-Encoding: gzip, chunked\r\n\r\n", err: ErrNotImplemented},
	{name: "gzip then chunked over two headers", in: put11 + "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n", err: ErrNotImplemented},
	{name: "chunked then gzip", in: put11 + "Transfer-Encoding: chunked, gzip\r\n\r\n", err: ErrNotImplemented},
	{name: "deflate", in: put11 + "Transfer-Encoding: deflate\r\n\r\n", err: ErrNotImplemented},
	{name: "x-gzip then chunked", in: put11 + "Transfer-Encoding: x-gzip, chunked\r\n\r\n", err: ErrNotImplemented},
	{name: "identity then chunked", in: put11 + "Transfer-Encoding: identity, chunked\r\n\r\n", err: ErrNotImplemented},
	{name: "chunked alone", in: put11 + "Transfer-Encoding: Chunked\r\n\r\n",
		method: MethodPut, minor: 1, contentLength: -1, chunked: true, keepAlive: true},
	{name: "chunked twice", in: put11 + "Transfer-Encoding: chunked, chunked\r\n\r\n", err: ErrBadTransferEncoding},
	{name: "chunked with Content-Length", in: put11 + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", err: ErrConflictingLength},
	{name: "Content-Length with chunked", in: put11 + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", err: ErrConflictingLength},
	{name: "chunked in HTTP/1.0", in: "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", err: ErrBadTransferEncoding},
	{name: "gzip in HTTP/1.0", in: "POST / HTTP/1.0\r\nTransfer-Encoding: gzip\r\n\r\n", err: ErrBadTransferEncoding},
}

// finding17Cases: Host is host [":" port] of RFC 3986, or empty.
var finding17Cases = []parserCase{
	{name: "host name", in: "GET / HTTP/1.1\r\nHost: www.example.com\r\n\r\n", host: "www.example.com", method: MethodGet, minor: 1, contentLength: -1, keepAlive: true},
	{name: "host with port", in: "GET / HTTP/1.1\r\nHost: a.example:65535\r\n\r\n", host: "a.example:65535", method: MethodGet, minor: 1, contentLength: -1, keepAlive: true},
	{name: "IPv4 with port", in: "GET / HTTP/1.1\r\nHost: 10.0.0.1:8080\r\n\r\n", host: "10.0.0.1:8080", method: MethodGet, minor: 1, contentLength: -1, keepAlive: true},
	{name: "IPv6 literal", in: "GET / HTTP/1.1\r\nHost: [2001:db8::1]\r\n\r\n", host: "[2001:db8::1]", method: MethodGet, minor: 1, contentLength: -1, keepAlive: true},
	{name: "IPv6 literal with port", in: "GET / HTTP/1.1\r\nHost: [::ffff:10.0.0.1]:80\r\n\r\n", host: "[::ffff:10.0.0.1]:80", method: MethodGet, minor: 1, contentLength: -1, keepAlive: true},
	{name: "underscore and percent-encoding", in: "GET / HTTP/1.1\r\nHost: home_0.ex%41mple\r\n\r\n", host: "home_0.ex%41mple", method: MethodGet, minor: 1, contentLength: -1, keepAlive: true},
	{name: "empty Host allowed", in: "GET / HTTP/1.1\r\nHost: \r\n\r\n", method: MethodGet, minor: 1, contentLength: -1, keepAlive: true},
	{name: "slash", in: "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", err: ErrBadHost},
	{name: "space", in: "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", err: ErrBadHost},
	{name: "tab inside", in: "GET / HTTP/1.1\r\nHost: a\tb\r\n\r\n", err: ErrBadHost},
	{name: "userinfo", in: "GET / HTTP/1.1\r\nHost: user@host\r\n\r\n", err: ErrBadHost},
	{name: "userinfo with password", in: "GET / HTTP/1.1\r\nHost: u:p@host\r\n\r\n", err: ErrBadHost},
	{name: "backslash", in: "GET / HTTP/1.1\r\nHost: a\\b\r\n\r\n", err: ErrBadHost},
	{name: "question mark", in: "GET / HTTP/1.1\r\nHost: a?b\r\n\r\n", err: ErrBadHost},
	{name: "hash", in: "GET / HTTP/1.1\r\nHost: a#b\r\n\r\n", err: ErrBadHost},
	{name: "non-ASCII", in: "GET / HTTP/1.1\r\nHost: d\xc3\xbcsseldorf\r\n\r\n", err: ErrBadHost},
	{name: "port only", in: "GET / HTTP/1.1\r\nHost: :80\r\n\r\n", err: ErrBadHost},
	{name: "empty port", in: "GET / HTTP/1.1\r\nHost: a:\r\n\r\n", err: ErrBadHost},
	{name: "port over 65535", in: "GET / HTTP/1.1\r\nHost: a:65536\r\n\r\n", err: ErrBadHost},
	{name: "long port", in: "GET / HTTP/1.1\r\nHost: a:" + strings.Repeat("9", 30) + "\r\n\r\n", err: ErrBadHost},
	{name: "port with sign", in: "GET / HTTP/1.1\r\nHost: a:+80\r\n\r\n", err: ErrBadHost},
	{name: "two ports", in: "GET / HTTP/1.1\r\nHost: a:80:80\r\n\r\n", err: ErrBadHost},
	{name: "bad percent-encoding", in: "GET / HTTP/1.1\r\nHost: a%4\r\n\r\n", err: ErrBadHost},
	{name: "unclosed IPv6 literal", in: "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", err: ErrBadHost},
	{name: "empty IP literal", in: "GET / HTTP/1.1\r\nHost: []\r\n\r\n", err: ErrBadHost},
	{name: "IPvFuture", in: "GET / HTTP/1.1\r\nHost: [v1.x]\r\n\r\n", err: ErrBadHost},
	{name: "junk after IP literal", in: "GET / HTTP/1.1\r\nHost: [::1]x\r\n\r\n", err: ErrBadHost},
	{name: "bad Host in HTTP/1.0", in: "GET / HTTP/1.0\r\nHost: a/b\r\n\r\n", err: ErrBadHost},
}

// allParserCases returns the general table and every finding's.
func allParserCases() []parserCase {
	return slices.Concat(parserCases, finding2Cases, finding9Cases,
		finding10Cases, finding13Cases, finding17Cases)
}

func TestFinding2ConnectionOptionsKeepFraming(t *testing.T) { runParserCases(t, finding2Cases) }

func TestFinding9RequestTargetForms(t *testing.T) { runParserCases(t, finding9Cases) }

func TestFinding10UnderscoreHeaders(t *testing.T) { runParserCases(t, finding10Cases) }

func TestFinding13Framing(t *testing.T) { runParserCases(t, finding13Cases) }

func TestFinding17HostValidation(t *testing.T) { runParserCases(t, finding17Cases) }
