//go:build linux

package http

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// responseCase is one response head and what parsing it must give. A case
// with a nil err and incomplete false must parse completely; then the
// framing fields (contentLength, chunked, te, close), status and minor are
// always checked, the others only where set.
type responseCase struct {
	name       string
	in         string
	err        *Error // the refusal expected, nil if none
	incomplete bool   // valid so far, more bytes needed

	status        int
	minor         uint8
	reason        string
	contentLength int64
	chunked       bool
	te            bool
	close         bool
	numHeaders    int
	connection    string // ConnectionValue
	upgrade       string // Upgrade
	header        string // "Name: value" that Header must find (value trimmed)
	headLen       int    // 0: the whole input
}

// Status lines used in many cases.
const (
	ok11 = "HTTP/1.1 200 OK\r\n"
	ok10 = "HTTP/1.0 200 OK\r\n"

	switching = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
)

// respHeadOfLen returns an HTTP/1.1 response head of exactly n bytes
// (n >= 100) with fewer than MaxHeaders fields.
func respHeadOfLen(n int) string {
	var b strings.Builder
	b.WriteString(ok11)
	left := n - len(ok11) - len("\r\n")
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

var responseCases = []responseCase{
	// Status line.
	{name: "200 with body after the head", in: ok11 + "Content-Length: 5\r\n\r\nhello", headLen: len(ok11) + 21, status: 200, minor: 1, reason: "OK", contentLength: 5, numHeaders: 1},
	{name: "HTTP/1.0 closes", in: ok10 + "\r\n", status: 200, contentLength: -1, close: true},
	{name: "HTTP/1.0 keep-alive", in: ok10 + "Connection: Keep-Alive\r\n\r\n", status: 200, contentLength: -1, connection: "Keep-Alive"},
	{name: "empty reason after SP", in: "HTTP/1.1 204 \r\n\r\n", status: 204, minor: 1, contentLength: -1},
	{name: "no SP and no reason, as nginx", in: "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", status: 200, minor: 1, contentLength: 0},
	{name: "reason with SP, HTAB and obs-text", in: "HTTP/1.1 404 Not \tFound \xff\r\n\r\n", status: 404, minor: 1, reason: "Not \tFound \xff", contentLength: -1},
	{name: "status 100", in: "HTTP/1.1 100 Continue\r\n\r\n", status: 100, minor: 1, contentLength: -1},
	{name: "status 599", in: "HTTP/1.1 599 x\r\n\r\n", status: 599, minor: 1, contentLength: -1},
	{name: "status 099", in: "HTTP/1.1 099 x\r\n\r\n", err: ErrBadStatusLine},
	{name: "status 600", in: "HTTP/1.1 600 x\r\n\r\n", err: ErrBadStatusLine},
	{name: "status 999", in: "HTTP/1.1 999 x\r\n\r\n", err: ErrBadStatusLine},
	{name: "four digits", in: "HTTP/1.1 2000 OK\r\n\r\n", err: ErrBadStatusLine},
	{name: "two digits", in: "HTTP/1.1 20 OK\r\n\r\n", err: ErrBadStatusLine},
	{name: "letter in status", in: "HTTP/1.1 2x0 OK\r\n\r\n", err: ErrBadStatusLine},
	{name: "signed status", in: "HTTP/1.1 +20 OK\r\n\r\n", err: ErrBadStatusLine},
	{name: "two SPs before status", in: "HTTP/1.1  200 OK\r\n\r\n", err: ErrBadStatusLine},
	{name: "HTAB before status", in: "HTTP/1.1\t200 OK\r\n\r\n", err: ErrBadStatusLine},
	{name: "HTTP/1.2", in: "HTTP/1.2 200 OK\r\n\r\n", err: ErrBadStatusLine},
	{name: "HTTP/2.0", in: "HTTP/2.0 200 OK\r\n\r\n", err: ErrBadStatusLine},
	{name: "HTTP/2", in: "HTTP/2 200 OK\r\n\r\n", err: ErrBadStatusLine},
	{name: "two-digit minor", in: "HTTP/1.11 200 OK\r\n\r\n", err: ErrBadStatusLine},
	{name: "lowercase protocol", in: "http/1.1 200 OK\r\n\r\n", err: ErrBadStatusLine},
	{name: "HTTP/0.9 body", in: "<html>hello</html>", err: ErrBadStatusLine},
	{name: "leading empty line", in: "\r\n" + ok11 + "\r\n", err: ErrBadStatusLine},
	{name: "NUL in reason", in: "HTTP/1.1 200 O\x00K\r\n\r\n", err: ErrBadStatusLine},
	{name: "DEL in reason", in: "HTTP/1.1 200 O\x7fK\r\n\r\n", err: ErrBadStatusLine},
	{name: "bare LF ends status line", in: "HTTP/1.1 200 OK\nX: y\r\n\r\n", err: ErrBadResponseLineEnding},
	{name: "bare LF after status", in: "HTTP/1.1 200\nX: y\r\n\r\n", err: ErrBadResponseLineEnding},
	{name: "bare CR in reason", in: "HTTP/1.1 200 O\rK\r\n\r\n", err: ErrBadResponseLineEnding},
	{name: "incomplete status line", in: "HTTP/1.1 20", incomplete: true},
	{name: "incomplete version", in: "HTT", incomplete: true},
	{name: "empty input", in: "", incomplete: true},

	// Header syntax.
	{name: "value whitespace trimmed", in: ok11 + "X-A: \t a b \t\r\n\r\n", status: 200, minor: 1, contentLength: -1, header: "X-A: a b"},
	{name: "empty values", in: ok11 + "X-Empty:\r\nY:   \r\n\r\n", status: 200, minor: 1, contentLength: -1, numHeaders: 2},
	{name: "obs-text in value", in: ok11 + "T: D\xc3\xbcsseldorf \xff\r\n\r\n", status: 200, minor: 1, contentLength: -1},
	{name: "token punctuation in name", in: ok11 + "!#$%&'*+-.^_`|~:x\r\n\r\n", status: 200, minor: 1, contentLength: -1, numHeaders: 1},
	{name: "bare LF inside a value", in: ok11 + "X: a\nSet-Cookie: evil=1\r\n\r\n", err: ErrBadResponseLineEnding},
	{name: "bare LF ends a header line", in: ok11 + "X: a\n\r\n", err: ErrBadResponseLineEnding},
	{name: "bare LF after an empty value", in: ok11 + "X:\nY: z\r\n\r\n", err: ErrBadResponseLineEnding},
	{name: "bare LF ends the head", in: ok11 + "X: a\r\n\n", err: ErrBadResponseLineEnding},
	{name: "only LFs", in: "HTTP/1.1 200 OK\nContent-Length: 1\n\nx", err: ErrBadResponseLineEnding},
	{name: "bare CR inside a value", in: ok11 + "X: a\rSet-Cookie: evil=1\r\n\r\n", err: ErrBadResponseLineEnding},
	{name: "bare CR after an empty value", in: ok11 + "X:\rY: z\r\n\r\n", err: ErrBadResponseLineEnding},
	{name: "CR then junk ends the head", in: ok11 + "\rHTTP/1.1 200 OK\r\n", err: ErrBadResponseLineEnding},
	{name: "NUL in value", in: ok11 + "X: a\x00b\r\n\r\n", err: ErrBadResponseHeader},
	{name: "DEL in value", in: ok11 + "X: a\x7f\r\n\r\n", err: ErrBadResponseHeader},
	{name: "form feed in value", in: ok11 + "X: a\fb\r\n\r\n", err: ErrBadResponseHeader},
	{name: "ESC in value", in: ok11 + "X: \x1b[31m\r\n\r\n", err: ErrBadResponseHeader},
	{name: "space before colon", in: ok11 + "Content-Length : 5\r\n\r\n", err: ErrBadResponseHeader},
	{name: "tab before colon", in: ok11 + "X\t: y\r\n\r\n", err: ErrBadResponseHeader},
	{name: "empty name", in: ok11 + ": y\r\n\r\n", err: ErrBadResponseHeader},
	{name: "no colon", in: ok11 + "name\r\n\r\n", err: ErrBadResponseHeader},
	{name: "non-token name", in: ok11 + "X(y): z\r\n\r\n", err: ErrBadResponseHeader},
	{name: "NUL in name", in: ok11 + "X\x00: z\r\n\r\n", err: ErrBadResponseHeader},
	{name: "obs-fold", in: ok11 + "X: a\r\n b\r\n\r\n", err: ErrResponseObsFold},
	{name: "tab starts a line", in: ok11 + "X: a\r\n\tb\r\n\r\n", err: ErrResponseObsFold},
	{name: "space before first header", in: ok11 + " X: a\r\n\r\n", err: ErrResponseObsFold},
	{name: "long line", in: ok11 + "Set-Cookie: " + strings.Repeat("c", 20000) + "\r\n\r\n", status: 200, minor: 1, contentLength: -1},
	{name: "MaxHeaders headers", in: ok11 + repeatHeaders(MaxHeaders) + "\r\n", status: 200, minor: 1, contentLength: -1, numHeaders: MaxHeaders},
	{name: "too many headers", in: ok11 + repeatHeaders(MaxHeaders+1) + "\r\n", err: ErrResponseTooManyHeaders},
	{name: "head of MaxHeadLen", in: respHeadOfLen(MaxHeadLen), status: 200, minor: 1, contentLength: -1},
	{name: "head of MaxHeadLen+1", in: respHeadOfLen(MaxHeadLen + 1), err: ErrResponseHeadTooLarge},
	{name: "endless header line", in: ok11 + "X: " + strings.Repeat("v", MaxHeadLen), err: ErrResponseHeadTooLarge},
	{name: "incomplete header", in: ok11 + "Content-Len", incomplete: true},
	{name: "incomplete final CRLF", in: ok11 + "X: y\r\n\r", incomplete: true},

	// Content-Length.
	{name: "content-length leading zeros", in: ok11 + "content-LENGTH: 003\r\n\r\n", status: 200, minor: 1, contentLength: 3},
	{name: "content-length whitespace", in: ok11 + "Content-Length:\t 42 \t\r\n\r\n", status: 200, minor: 1, contentLength: 42},
	{name: "content-length max int64", in: ok11 + "Content-Length: 9223372036854775807\r\n\r\n", status: 200, minor: 1, contentLength: 1<<63 - 1},
	{name: "content-length overflow", in: ok11 + "Content-Length: 9223372036854775808\r\n\r\n", err: ErrBadResponseLength},
	{name: "content-length plus sign", in: ok11 + "Content-Length: +2\r\n\r\nab", err: ErrBadResponseLength},
	{name: "content-length minus sign", in: ok11 + "Content-Length: -1\r\n\r\n", err: ErrBadResponseLength},
	{name: "content-length inner space", in: ok11 + "Content-Length: 4 2\r\n\r\n", err: ErrBadResponseLength},
	{name: "content-length hex", in: ok11 + "Content-Length: 0x10\r\n\r\n", err: ErrBadResponseLength},
	{name: "content-length empty", in: ok11 + "Content-Length:\r\n\r\n", err: ErrBadResponseLength},
	{name: "content-length empty list element", in: ok11 + "Content-Length: 5,\r\n\r\n", err: ErrBadResponseLength},
	{name: "content-length list of equal values", in: ok11 + "Content-Length: 5, 5,5\r\n\r\n", status: 200, minor: 1, contentLength: 5},
	{name: "content-length list of differing values", in: ok11 + "Content-Length: 5, 6\r\n\r\n", err: ErrBadResponseLength},
	{name: "content-length equal duplicates", in: ok11 + "Content-Length: 5\r\nContent-Length: 05\r\n\r\n", status: 200, minor: 1, contentLength: 5, numHeaders: 2},
	{name: "content-length differing duplicates", in: ok11 + "Content-Length: 5\r\nContent-Length: 6\r\n\r\n", err: ErrBadResponseLength},

	// Transfer-Encoding.
	{name: "chunked", in: ok11 + "Transfer-Encoding: chunked\r\n\r\n", status: 200, minor: 1, contentLength: -1, chunked: true, te: true},
	{name: "chunked any case", in: ok11 + "transfer-encoding: CHUNKED\r\n\r\n", status: 200, minor: 1, contentLength: -1, chunked: true, te: true},
	{name: "chunked last of a list", in: ok11 + "Transfer-Encoding: gzip, chunked\r\n\r\n", status: 200, minor: 1, contentLength: -1, chunked: true, te: true},
	{name: "chunked last over two fields", in: ok11 + "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n", status: 200, minor: 1, contentLength: -1, chunked: true, te: true},
	{name: "empty list elements ignored", in: ok11 + "Transfer-Encoding: , gzip,, chunked ,\r\n\r\n", status: 200, minor: 1, contentLength: -1, chunked: true, te: true},
	{name: "xchunked is not chunked", in: ok11 + "Transfer-Encoding: xchunked\r\n\r\n", status: 200, minor: 1, contentLength: -1, te: true},
	{name: "chunkedx is not chunked", in: ok11 + "Transfer-Encoding: chunkedx\r\n\r\n", status: 200, minor: 1, contentLength: -1, te: true},
	{name: "gzip alone is close-delimited", in: ok11 + "Transfer-Encoding: gzip\r\n\r\n", status: 200, minor: 1, contentLength: -1, te: true},
	{name: "chunked not last", in: ok11 + "Transfer-Encoding: chunked, gzip\r\n\r\n", status: 200, minor: 1, contentLength: -1, te: true},
	{name: "chunked not last over two fields", in: ok11 + "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n", status: 200, minor: 1, contentLength: -1, te: true},
	{name: "chunked twice", in: ok11 + "Transfer-Encoding: chunked, chunked\r\n\r\n", err: ErrBadResponseTransferEncoding},
	{name: "chunked in two fields", in: ok11 + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", err: ErrBadResponseTransferEncoding},
	{name: "empty transfer-encoding", in: ok11 + "Transfer-Encoding:\r\n\r\n", err: ErrBadResponseTransferEncoding},
	{name: "only commas", in: ok11 + "Transfer-Encoding: , ,\r\n\r\n", err: ErrBadResponseTransferEncoding},
	{name: "coding with parameter", in: ok11 + "Transfer-Encoding: chunked;q=1\r\n\r\n", err: ErrBadResponseTransferEncoding},
	{name: "quoted coding", in: ok11 + "Transfer-Encoding: \"chunked\"\r\n\r\n", err: ErrBadResponseTransferEncoding},
	{name: "codings without comma", in: ok11 + "Transfer-Encoding: gzip chunked\r\n\r\n", err: ErrBadResponseTransferEncoding},
	{name: "transfer-encoding in HTTP/1.0", in: ok10 + "Transfer-Encoding: chunked\r\n\r\n", err: ErrBadResponseTransferEncoding},
	{name: "transfer-encoding wins over content-length", in: ok11 + "Content-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n", status: 200, minor: 1, contentLength: -1, chunked: true, te: true},
	{name: "content-length after transfer-encoding ignored", in: ok11 + "Transfer-Encoding: chunked\r\nContent-Length: 100\r\n\r\n", status: 200, minor: 1, contentLength: -1, chunked: true, te: true},
	{name: "bad content-length beside transfer-encoding", in: ok11 + "Transfer-Encoding: chunked\r\nContent-Length: +1\r\n\r\n", err: ErrBadResponseLength},
	{name: "obs-fold after chunked", in: ok11 + "Transfer-Encoding: chunked\r\n , gzip\r\n\r\n", err: ErrResponseObsFold},

	// Connection and Upgrade.
	{name: "connection close", in: ok11 + "Connection: close\r\nContent-Length: 0\r\n\r\n", status: 200, minor: 1, contentLength: 0, close: true, connection: "close"},
	{name: "close wins in a list", in: ok11 + "Connection: keep-alive, CLOSE ,x\r\n\r\n", status: 200, minor: 1, contentLength: -1, close: true},
	{name: "close as substring is not close", in: ok11 + "Connection: closed, xclose\r\n\r\n", status: 200, minor: 1, contentLength: -1},
	{name: "close in an earlier Connection field", in: ok11 + "Connection: close\r\nConnection: x-hop\r\n\r\n", status: 200, minor: 1, contentLength: -1, close: true, connection: "x-hop"},
	{name: "HTTP/1.0 close wins over keep-alive", in: ok10 + "Connection: keep-alive, close\r\n\r\n", status: 200, contentLength: -1, close: true},
	{name: "switching protocols", in: switching + "\x81\x05hello", headLen: len(switching), status: 101, minor: 1, reason: "Switching Protocols", contentLength: -1, connection: "Upgrade", upgrade: "websocket"},
}

// parseResponseInSteps feeds in to a fresh ResponseParser as growing
// prefixes ending at cuts (ascending, the last one len(in)), each copied to
// a new array so that a parser keeping slices across calls would be caught
// (for inputs up to 512 bytes: beyond, the copies would make a fuzzing run
// quadratic, and ResponseParser holds no slice to catch anyway).
// The head it fills starts dirty, to catch a field Parse forgets to reset.
func parseResponseInSteps(in []byte, cuts []int) (h ResponseHead, done bool, err error) {
	var p ResponseParser
	h.Status, h.ContentLength, h.Chunked, h.Close, h.HeadLen = 7, 7, true, true, 7
	if len(cuts) == 0 {
		cuts = wholeCuts(len(in)) // byteCuts of nothing: still one call
	}
	for _, cut := range cuts {
		buf := in[:cut]
		if len(in) <= 512 {
			buf = append([]byte(nil), buf...)
		}
		done, err = p.Parse(buf, &h)
		if done || err != nil {
			return h, done, err
		}
	}
	return h, done, err
}

func TestResponseParse(t *testing.T) {
	for _, tc := range responseCases {
		t.Run(tc.name, func(t *testing.T) {
			in := []byte(tc.in)
			h, done, err := parseResponseInSteps(in, wholeCuts(len(in)))
			if tc.err != nil {
				if err != tc.err {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				if tc.err.Status != 502 {
					t.Fatalf("status of %v is %d, want 502", tc.err, tc.err.Status)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if done == tc.incomplete {
				t.Fatalf("done = %v, want %v", done, !tc.incomplete)
			}
			if done {
				checkResponseHead(t, in, &h, &tc)
			}
		})
	}
}

// checkResponseHead compares a parsed head with what tc expects.
func checkResponseHead(t *testing.T, in []byte, h *ResponseHead, tc *responseCase) {
	t.Helper()
	text := func(s Span) string { return string(s.Bytes(in)) }
	if h.Status != tc.status || h.Major != 1 || h.Minor != tc.minor {
		t.Errorf("status %d, version %d.%d; want %d, 1.%d", h.Status, h.Major, h.Minor, tc.status, tc.minor)
	}
	if tc.reason != "" && text(h.Reason) != tc.reason {
		t.Errorf("Reason = %q, want %q", text(h.Reason), tc.reason)
	}
	if h.ContentLength != tc.contentLength || h.Chunked != tc.chunked || h.TE != tc.te || h.Close != tc.close {
		t.Errorf("ContentLength/Chunked/TE/Close = %d/%v/%v/%v, want %d/%v/%v/%v",
			h.ContentLength, h.Chunked, h.TE, h.Close, tc.contentLength, tc.chunked, tc.te, tc.close)
	}
	if tc.numHeaders != 0 && h.NumHeaders != tc.numHeaders {
		t.Errorf("NumHeaders = %d, want %d", h.NumHeaders, tc.numHeaders)
	}
	if tc.connection != "" && text(h.ConnectionValue) != tc.connection {
		t.Errorf("ConnectionValue = %q, want %q", text(h.ConnectionValue), tc.connection)
	}
	if text(h.Upgrade) != tc.upgrade {
		t.Errorf("Upgrade = %q, want %q", text(h.Upgrade), tc.upgrade)
	}
	if tc.header != "" {
		name, want, _ := strings.Cut(tc.header, ": ")
		if v, ok := h.Header(in, name); !ok || string(v) != want {
			t.Errorf("Header(%q) = %q, %v; want %q", name, v, ok, want)
		}
	}
	headLen := tc.headLen
	if headLen == 0 {
		headLen = len(in)
	}
	if h.HeadLen != headLen {
		t.Errorf("HeadLen = %d, want %d", h.HeadLen, headLen)
	}
}

// TestResponseParseSplits checks that every table case gives the same
// outcome, to the last field, whole, one byte at a time and split at random
// points.
func TestResponseParseSplits(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, tc := range responseCases {
		in := []byte(tc.in)
		wantHead, wantDone, wantErr := parseResponseInSteps(in, wholeCuts(len(in)))
		splits := [][]int{byteCuts(len(in))}
		for i := 0; i < 20; i++ {
			splits = append(splits, randomCuts(len(in), r))
		}
		for _, cuts := range splits {
			h, done, err := parseResponseInSteps(in, cuts)
			if done != wantDone || err != wantErr || h != wantHead {
				t.Errorf("%s: split at %v: done=%v err=%v, whole: done=%v err=%v (heads equal: %v)",
					tc.name, cuts, done, err, wantDone, wantErr, h == wantHead)
				break
			}
		}
	}
}

// TestResponseParseSticky checks that once done or failed, Parse returns
// the same whatever follows, and that Reset starts a new response.
func TestResponseParseSticky(t *testing.T) {
	var p ResponseParser
	var h ResponseHead
	in := []byte(ok11 + "Content-Length: 2\r\n\r\nhi")
	if done, err := p.Parse(in, &h); !done || err != nil {
		t.Fatalf("done=%v err=%v", done, err)
	}
	want := h
	more := append(in, "\x00\n\rjunk"...)
	if done, err := p.Parse(more, &h); !done || err != nil || h != want {
		t.Fatalf("after done: done=%v err=%v, head changed: %v", done, err, h != want)
	}

	p.Reset()
	bad := []byte(ok11 + "X: \x00\r\n\r\n")
	if _, err := p.Parse(bad, &h); err != ErrBadResponseHeader {
		t.Fatalf("err = %v", err)
	}
	if done, err := p.Parse(in, &h); done || err != ErrBadResponseHeader {
		t.Fatalf("after error: done=%v err=%v", done, err)
	}

	p.Reset()
	if done, err := p.Parse([]byte("HTTP/1.0 404 Not Found\r\n\r\n"), &h); !done || err != nil ||
		h.Status != 404 || h.ContentLength != -1 || !h.Close || h.NumHeaders != 0 {
		t.Fatalf("after Reset: done=%v err=%v head %+v", done, err, h)
	}
}

// TestResponseHeadResetClearsEveryField checks that Reset leaves a head
// equal to a fresh one (the header table past NumHeaders aside).
func TestResponseHeadResetClearsEveryField(t *testing.T) {
	var h ResponseHead
	var p ResponseParser
	in := []byte("HTTP/1.1 101 Up\r\nConnection: upgrade\r\nUpgrade: ws\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
	if done, err := p.Parse(in, &h); !done || err != nil {
		t.Fatal(done, err)
	}
	h.Reset()
	want := ResponseHead{ContentLength: -1}
	want.Headers = h.Headers
	if h != want {
		t.Errorf("after Reset: %+v", h)
	}
}

// FuzzResponseParser checks that the parser never panics, that a head fed
// one byte at a time or in uneven pieces gives the outcome of the whole
// head to the last field, and that an accepted head relays no CR, LF or NUL
// in any span a proxy copies. The seeds are in
// testdata/fuzz/FuzzResponseParser.
func FuzzResponseParser(f *testing.F) {
	for _, tc := range responseCases {
		if len(tc.in) < 1024 {
			f.Add([]byte(tc.in))
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		h, done, err := parseResponseInSteps(in, wholeCuts(len(in)))
		checkResponseInvariants(t, in, &h, done, err)
		cuts := [][]int{byteCuts(len(in)), {len(in) / 3, len(in) / 2, len(in)}}
		for _, c := range cuts {
			h2, done2, err2 := parseResponseInSteps(in, c)
			if done2 != done || err2 != err || h2 != h {
				t.Fatalf("split at %v: done=%v err=%v; whole: done=%v err=%v (heads equal: %v)",
					c, done2, err2, done, err, h2 == h)
			}
		}
	})
}

// checkResponseInvariants checks what must hold of any parse outcome.
func checkResponseInvariants(t *testing.T, in []byte, h *ResponseHead, done bool, err error) {
	t.Helper()
	if err != nil {
		if e, ok := err.(*Error); !ok || e.Status != 502 {
			t.Fatalf("error %v is not an *Error with Status 502", err)
		}
		return
	}
	if !done {
		return
	}
	if h.HeadLen < len("HTTP/1.1 200\r\n\r\n") || h.HeadLen > len(in) || h.HeadLen > MaxHeadLen {
		t.Fatalf("HeadLen %d of %d", h.HeadLen, len(in))
	}
	head := uint32(h.HeadLen)
	check := func(what string, s Span) {
		if s.Off+s.Len > head {
			t.Fatalf("%s span %+v outside the head of %d bytes", what, s, head)
		}
		if i := bytes.IndexAny(s.Bytes(in), "\r\n\x00"); i >= 0 {
			t.Fatalf("%s %q holds %q", what, s.Bytes(in), s.Bytes(in)[i])
		}
	}
	check("reason", h.Reason)
	check("Connection", h.ConnectionValue)
	check("Upgrade", h.Upgrade)
	if h.NumHeaders > MaxHeaders {
		t.Fatalf("NumHeaders %d", h.NumHeaders)
	}
	for i := 0; i < h.NumHeaders; i++ {
		f := h.Headers[i]
		check(fmt.Sprintf("header %d name", i), f.Name)
		check(fmt.Sprintf("header %d value", i), f.Value)
		if f.Name.Len == 0 {
			t.Fatalf("header %d has an empty name", i)
		}
	}
	if h.Status < 100 || h.Status > 599 || h.Major != 1 || h.Minor > 1 {
		t.Fatalf("status %d, version %d.%d", h.Status, h.Major, h.Minor)
	}
	if h.Chunked && !h.TE || h.TE && h.ContentLength >= 0 || h.TE && h.Minor == 0 {
		t.Fatalf("Chunked %v, TE %v, ContentLength %d, minor %d", h.Chunked, h.TE, h.ContentLength, h.Minor)
	}
}
