//go:build linux

package http

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// chunkedCase is one chunked body and what decoding it must give.
type chunkedCase struct {
	name       string
	in         string
	err        *Error // the refusal expected, nil if none
	incomplete bool   // valid so far, more bytes needed
	payload    string // the decoded data (up to the error, if any)
	rest       int    // bytes left after done
}

var chunkedCases = []chunkedCase{
	{name: "one chunk", in: "5\r\nhello\r\n0\r\n\r\n", payload: "hello"},
	{name: "two chunks", in: "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", payload: "hello world"},
	{name: "empty body", in: "0\r\n\r\n"},
	{name: "lowercase hex", in: "a\r\n0123456789\r\n0\r\n\r\n", payload: "0123456789"},
	{name: "uppercase hex", in: "A\r\n0123456789\r\n0\r\n\r\n", payload: "0123456789"},
	{name: "zero-prefixed last chunk", in: "1\r\nx\r\n000\r\n\r\n", payload: "x"},
	{name: "leading zeros", in: "0005\r\nhello\r\n0\r\n\r\n", payload: "hello"},
	{name: "next request follows", in: "1\r\nx\r\n0\r\n\r\nGET / HTTP/1.1\r\n", payload: "x", rest: len("GET / HTTP/1.1\r\n")},
	{name: "data holds CRLF", in: "4\r\n\r\n\r\n\r\n0\r\n\r\n", payload: "\r\n\r\n"},
	{name: "extensions", in: "5;ilovew3;somuchlove=aretheseparametersfor;another=withvalue\r\nhello\r\n6;blahblah;blah\r\n world\r\n0\r\n\r\n", payload: "hello world"},
	{name: "quoted extension", in: "5;a=\"I \\\"love\\\"; \\\\ext\\\\\";b=\"x\";c;d=e\r\nhello\r\n0;f=\"\"\r\n\r\n", payload: "hello"},
	{name: "trailers", in: "5\r\nhello\r\n0\r\nVary: *\r\nContent-Type: text/plain\r\nX-Empty:\r\n\r\n", payload: "hello"},
	{name: "16 hex digits", in: "000000000000000F\r\n" + strings.Repeat("x", 15) + "\r\n0\r\n\r\n", payload: strings.Repeat("x", 15)},
	{name: "incomplete data", in: "5\r\nhel", payload: "hel", incomplete: true},
	{name: "incomplete after last chunk", in: "5\r\nhello\r\n0\r\n", payload: "hello", incomplete: true},

	{name: "empty size line", in: "\r\n", err: ErrBadChunk},
	{name: "missing last chunk", in: "3\r\nfoo\r\n\r\n", payload: "foo", err: ErrBadChunk},
	{name: "17 hex digits", in: "00000000000000001\r\nx\r\n0\r\n\r\n", err: ErrBadChunk},
	{name: "size overflow", in: "8000000000000000\r\n", err: ErrBadChunk},
	{name: "sign", in: "+5\r\nhello\r\n0\r\n\r\n", err: ErrBadChunk},
	{name: "hex prefix", in: "0x5\r\nhello\r\n0\r\n\r\n", err: ErrBadChunk},
	{name: "leading space", in: " 5\r\nhello\r\n0\r\n\r\n", err: ErrBadChunk},
	{name: "space after size", in: "a \r\n0123456789\r\n0\r\n\r\n", err: ErrBadChunk},
	{name: "space before semicolon", in: "5 ;a\r\nhello\r\n0\r\n\r\n", err: ErrBadChunk},
	{name: "junk after size", in: "2 erfrferferf\r\naa\r\n0 rrrr\r\n\r\n", err: ErrBadChunk},
	{name: "semicolon without name", in: "2;\r\naa\r\n0\r\n\r\n", err: ErrBadChunk},
	{name: "equals without value", in: "2;a=\r\naa\r\n0\r\n\r\n", err: ErrBadChunk},
	{name: "unbalanced quote", in: "5;a=\"abc\";b=\"def; ghi\r\nhello\r\n0\r\n\r\n", err: ErrBadChunk},
	{name: "junk after quote", in: "5;a=\"abc\"x\r\nhello\r\n0\r\n\r\n", err: ErrBadChunk},
	{name: "bare LF after size", in: "3\nfoo\r\n0\r\n\r\n", err: ErrBadChunk},
	{name: "LF then spaces after size", in: "3 \n  \r\nfoo\r\n\r\n", err: ErrBadChunk},
	{name: "CR CR after size", in: "5\r\r;ABCD\r\n34\r\nE\r\n0\r\n\r\n", err: ErrBadChunk},
	{name: "data not followed by CRLF", in: "5\r\nABCDE0\r\n", payload: "ABCDE", err: ErrBadChunk},
	{name: "data followed by LF", in: "5\r\nABCDE\n0\r\n\r\n", payload: "ABCDE", err: ErrBadChunk},
	{name: "extension too long", in: "1;a=" + strings.Repeat("b", maxChunkExtLen) + "\r\nx\r\n0\r\n\r\n", err: ErrBadChunk},
	{name: "trailer obs-fold", in: "0\r\nA: b\r\n c\r\n\r\n", err: ErrBadChunk},
	{name: "trailer space before colon", in: "0\r\nA : b\r\n\r\n", err: ErrBadChunk},
	{name: "trailer without colon", in: "0\r\nAb\r\n\r\n", err: ErrBadChunk},
	{name: "trailer control in value", in: "0\r\nA: b\x00\r\n\r\n", err: ErrBadChunk},
	{name: "trailer bare LF", in: "0\r\nA: b\n\r\n", err: ErrBadChunk},
	{name: "final bare LF", in: "0\r\n\n", err: ErrBadChunk},
	{name: "trailers too long", in: "0\r\nA: " + strings.Repeat("b", MaxHeaderLen) + "\r\n\r\n", err: ErrHeaderTooLarge},
	{name: "too many trailers", in: "0\r\n" + repeatHeaders(MaxHeaders+1) + "\r\n", err: ErrTooManyHeaders},
}

// chunkedResult is everything decoding an input gave.
type chunkedResult struct {
	payload  string
	consumed int
	done     bool
	err      error
	count    int64 // Payload()
}

// decodeInSteps feeds in to a fresh ChunkedDecoder in pieces ending at cuts
// (ascending, the last one len(in)), as a connection would: what Next does
// not consume is offered again with the next piece.
func decodeInSteps(in []byte, cuts []int) chunkedResult {
	var d ChunkedDecoder
	var r chunkedResult
	var payload []byte
	for _, cut := range cuts {
		for r.consumed < cut {
			n, data, done, err := d.Next(in[r.consumed:cut])
			payload = append(payload, data...)
			r.consumed += n
			if err != nil || done {
				r.payload, r.done, r.err, r.count = string(payload), done, err, d.Payload()
				return r
			}
			if n == 0 {
				panic("Next consumed nothing")
			}
		}
	}
	r.payload, r.count = string(payload), d.Payload()
	return r
}

func TestChunkedDecoder(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, tc := range chunkedCases {
		t.Run(tc.name, func(t *testing.T) {
			in := []byte(tc.in)
			got := decodeInSteps(in, wholeCuts(len(in)))
			if got.err != tc.err && (tc.err != nil || got.err != nil) {
				t.Fatalf("err = %v, want %v", got.err, tc.err)
			}
			if got.payload != tc.payload || got.count != int64(len(tc.payload)) {
				t.Errorf("payload = %q (Payload() %d), want %q", got.payload, got.count, tc.payload)
			}
			if tc.err == nil {
				if got.done == tc.incomplete {
					t.Errorf("done = %v, want %v", got.done, !tc.incomplete)
				}
				if got.done && len(in)-got.consumed != tc.rest {
					t.Errorf("left %d bytes, want %d", len(in)-got.consumed, tc.rest)
				}
			}
			splits := [][]int{byteCuts(len(in))}
			for i := 0; i < 20; i++ {
				splits = append(splits, randomCuts(len(in), r))
			}
			for _, cuts := range splits {
				if split := decodeInSteps(in, cuts); split != got {
					t.Fatalf("split at %v: %+v, whole: %+v", cuts, split, got)
				}
			}
		})
	}
}

// TestChunkedOnePiecePerCall checks that Next returns at most one chunk's
// data per call and that the caller's loop sees every byte consumed.
func TestChunkedOnePiecePerCall(t *testing.T) {
	in := []byte("3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
	var d ChunkedDecoder
	var pieces []string
	for off := 0; ; {
		n, data, done, err := d.Next(in[off:])
		if err != nil {
			t.Fatal(err)
		}
		if len(data) > 0 {
			pieces = append(pieces, string(data))
		}
		off += n
		if done {
			if off != len(in) {
				t.Errorf("done at %d of %d", off, len(in))
			}
			break
		}
	}
	if len(pieces) != 2 || pieces[0] != "abc" || pieces[1] != "de" {
		t.Errorf("pieces = %q", pieces)
	}
	if n, data, done, err := d.Next([]byte("more")); n != 0 || data != nil || !done || err != nil {
		t.Errorf("after done: %d %q %v %v", n, data, done, err)
	}
}
