//go:build linux && !race

package http2

import (
	"bytes"
	"encoding/binary"
	"testing"

	xhttp2 "golang.org/x/net/http2"
)

// allocHandler answers every request with a head and a 1 KiB body and
// consumes request bodies, without allocating.
type allocHandler struct {
	c     *Conn
	lines []byte
	body  []byte
}

func (h *allocHandler) OnRequest(id uint32, r *RequestHead, end bool) {
	if !end {
		return
	}
	h.respond(id)
}

func (h *allocHandler) respond(id uint32) {
	h.c.Respond(id, 200, h.lines, false)
	h.c.WriteData(id, h.body, true)
}

func (h *allocHandler) OnData(id uint32, p []byte, end bool) {
	h.c.Consume(id, len(p))
	if end {
		h.respond(id)
	}
}
func (h *allocHandler) OnTrailers(id uint32, r *RequestHead) {}
func (h *allocHandler) OnReset(id uint32, code ErrCode)      {}
func (h *allocHandler) OnWritable(id uint32)                 {}

// steadyConn is a warm connection and the frames of one request, with the
// stream id patched per run.
type steadyConn struct {
	c   *Conn
	in  []byte // HEADERS (+ DATA) + WINDOW_UPDATE
	ids []int  // offsets of the stream ids to patch
	out []byte
	id  uint32
}

// newSteadyConn warms a connection with a request whose header block the
// client's encoder then sends fully indexed, as a browser's repeated
// requests are.
func newSteadyConn(tb testing.TB, post bool) *steadyConn {
	h := &allocHandler{
		lines: []byte("Content-Type: text/html\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\nServer: nproxy\r\nContent-Length: 1024\r\nLast-Modified: Sun, 06 Nov 1994 08:49:37 GMT\r\n"),
		body:  bytes.Repeat([]byte("x"), 1024),
	}
	p := newPeer(tb, nil, false)
	h.c = p.c
	p.c.h = h
	p.rec = nil
	kv := []string{":method", "GET", ":scheme", "https", ":authority", "example.com", ":path", "/index.html",
		"user-agent", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
		"accept", "text/html,application/xhtml+xml", "accept-language", "en-US,en;q=0.5",
		"accept-encoding", "gzip, deflate, br", "cookie", "session=abc123"}
	if post {
		kv[1], kv[7] = "POST", "/form"
		kv = append(kv, "content-length", "512")
	}
	// The first request's block adds every field to both dynamic tables;
	// the same fields are then sent indexed.
	first := p.block(kv...)
	block := p.block(kv...)
	s := &steadyConn{c: p.c, out: make([]byte, 0, 64<<10), id: 1}
	var b bytes.Buffer
	fr := xhttp2.NewFramer(&b, nil)
	fr.WriteHeaders(xhttp2.HeadersFrameParam{StreamID: 1, BlockFragment: block, EndStream: !post, EndHeaders: true})
	s.ids = append(s.ids, 5)
	if post {
		s.ids = append(s.ids, b.Len()+5)
		fr.WriteData(1, true, make([]byte, 512))
	}
	fr.WriteWindowUpdate(0, 1024) // the client gives back what it received
	s.in = b.Bytes()
	var w bytes.Buffer
	fr = xhttp2.NewFramer(&w, nil)
	w.WriteString(Preface)
	fr.WriteSettings()
	fr.WriteHeaders(xhttp2.HeadersFrameParam{StreamID: 1, BlockFragment: first, EndStream: true, EndHeaders: true})
	if err := p.c.Feed(w.Bytes()); err != nil {
		tb.Fatal(err)
	}
	s.c.Output(nil)
	s.id = 3
	for range 50 {
		s.run(tb)
	}
	return s
}

// run feeds one request and collects the response.
func (s *steadyConn) run(tb testing.TB) {
	for _, off := range s.ids {
		binary.BigEndian.PutUint32(s.in[off:], s.id)
	}
	s.id += 2
	n, err := s.c.Input(s.in)
	if err != nil || n != len(s.in) {
		tb.Fatalf("Input = %d, %v", n, err)
	}
	s.out = s.c.Output(s.out[:0])
	if len(s.out) < 1024 || s.c.Pending() != 0 || s.c.Streams() != 0 {
		tb.Fatalf("output %d, pending %d, streams %d", len(s.out), s.c.Pending(), s.c.Streams())
	}
}

// TestSteadyStateAllocs proves the hot path allocates nothing once a
// connection is warm: request head decoding (fully indexed, as repeated
// requests are), the response head (interned and never-indexed fields),
// DATA, request body and flow-control credit.
func TestSteadyStateAllocs(t *testing.T) {
	for _, post := range []bool{false, true} {
		s := newSteadyConn(t, post)
		allocs := testing.AllocsPerRun(200, func() { s.run(t) })
		if allocs != 0 {
			t.Errorf("post=%v: %v allocations per request/response", post, allocs)
		}
	}
}
