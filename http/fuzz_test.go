//go:build linux

package http

import (
	"bytes"
	"testing"
)

// FuzzParser checks that the parser never panics and that a head parsed
// whole, one byte at a time and in three uneven pieces gives the same
// outcome to the last field. The seeds are in testdata/fuzz/FuzzParser.
func FuzzParser(f *testing.F) {
	for _, tc := range allParserCases() {
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
	checkTargetInvariants(t, in, req)
	underscore := false
	for i := 0; i < req.NumHeaders; i++ {
		if bytes.IndexByte(req.Headers[i].Name.Bytes(in), '_') >= 0 {
			underscore = true
		}
	}
	if req.HasUnderscoreHeader != underscore {
		t.Fatalf("HasUnderscoreHeader = %v, names say %v", req.HasUnderscoreHeader, underscore)
	}
}

// checkTargetInvariants checks what a proxy relies on of a request it
// routes and forwards: what Path, Query and Host may be for each form of
// request-target.
func checkTargetInvariants(t *testing.T, in []byte, req *Request) {
	t.Helper()
	if req.Method == MethodConnect {
		t.Fatal("CONNECT parsed to the end")
	}
	uri, path := req.URI.Bytes(in), req.Path.Bytes(in)
	inURI := func(s Span) bool { return s.Off >= req.URI.Off && s.Off+s.Len <= req.URI.Off+req.URI.Len }
	if !inURI(req.Path) || !inURI(req.Query) {
		t.Fatalf("Path %+v or Query %+v outside URI %+v", req.Path, req.Query, req.URI)
	}
	switch {
	case req.Absolute:
		if !inURI(req.Host) || req.Host.Empty() {
			t.Fatalf("absolute-form Host %+v not in URI %+v", req.Host, req.URI)
		}
		if len(path) > 0 && path[0] != '/' {
			t.Fatalf("absolute-form path %q", path)
		}
	case string(uri) == "*":
		if req.Method != MethodOptions {
			t.Fatalf("asterisk-form with method %v", req.Method)
		}
	case len(path) == 0 || path[0] != '/':
		t.Fatalf("origin-form path %q", path)
	}
	if h := req.Host.Bytes(in); len(h) > 0 {
		if _, ok := authority(h); !ok {
			t.Fatalf("Host %q is no authority", h)
		}
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
