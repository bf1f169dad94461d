//go:build linux

package http

import (
	"testing"
)

// FuzzParser checks that the parser never panics and that a head parsed
// whole, one byte at a time and in three uneven pieces gives the same
// outcome to the last field. The seeds are in testdata/fuzz/FuzzParser.
func FuzzParser(f *testing.F) {
	for _, tc := range parserCases {
		if len(tc.in) < 1024 {
			f.Add([]byte(tc.in))
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		req, done, err := parseInSteps(in, wholeCuts(len(in)))
		checkInvariants(t, in, &req, done, err)
		cuts := [][]int{byteCuts(len(in)), {len(in) / 3, len(in) / 2, len(in)}}
		for _, c := range cuts {
			r2, done2, err2 := parseInSteps(in, c)
			if done2 != done || err2 != err || r2 != req {
				t.Fatalf("split at %v: done=%v err=%v; whole: done=%v err=%v (requests equal: %v)",
					c, done2, err2, done, err, r2 == req)
			}
		}
	})
}

// checkInvariants checks what must hold of any parse outcome.
func checkInvariants(t *testing.T, in []byte, req *Request, done bool, err error) {
	t.Helper()
	if err != nil {
		if _, ok := err.(*Error); !ok {
			t.Fatalf("error %v is not an *Error", err)
		}
		return
	}
	if !done {
		return
	}
	if req.HeadLen < 4 || req.HeadLen > len(in) || req.HeadLen > MaxHeadLen {
		t.Fatalf("HeadLen %d of %d", req.HeadLen, len(in))
	}
	head := uint32(req.HeadLen)
	inHead := func(s Span) bool { return s.Off+s.Len <= head }
	if !inHead(req.MethodSpan) || !inHead(req.URI) || !inHead(req.Path) || !inHead(req.Query) {
		t.Fatal("request-line span outside the head")
	}
	if req.URI.Len == 0 || req.URI.Len > MaxURILen {
		t.Fatalf("URI length %d", req.URI.Len)
	}
	for i := 0; i < req.NumHeaders; i++ {
		h := req.Headers[i]
		if !inHead(h.Name) || !inHead(h.Value) || h.Name.Len == 0 {
			t.Fatalf("header %d spans %+v", i, h)
		}
	}
	if req.Chunked && req.ContentLength >= 0 {
		t.Fatal("both Chunked and ContentLength")
	}
	if req.Major != 1 || req.Minor > 1 {
		t.Fatalf("version %d.%d", req.Major, req.Minor)
	}
}

// FuzzChunked checks that the chunked decoder never panics and decodes the
// same payload, consumes the same bytes and ends the same way whether its
// input comes whole, one byte at a time or in uneven pieces. The seeds are
// in testdata/fuzz/FuzzChunked.
func FuzzChunked(f *testing.F) {
	for _, tc := range chunkedCases {
		if len(tc.in) < 1024 {
			f.Add([]byte(tc.in))
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		whole := decodeInSteps(in, wholeCuts(len(in)))
		if whole.err != nil {
			if _, ok := whole.err.(*Error); !ok {
				t.Fatalf("error %v is not an *Error", whole.err)
			}
		}
		if whole.count != int64(len(whole.payload)) || whole.consumed > len(in) {
			t.Fatalf("Payload() %d, payload %d bytes, consumed %d of %d",
				whole.count, len(whole.payload), whole.consumed, len(in))
		}
		cuts := [][]int{byteCuts(len(in)), {len(in) / 3, len(in) / 2, len(in)}}
		for _, c := range cuts {
			if got := decodeInSteps(in, c); got != whole {
				t.Fatalf("split at %v: %+v; whole: %+v", c, got, whole)
			}
		}
	})
}
