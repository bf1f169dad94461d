//go:build linux

package http2

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	xhttp2 "golang.org/x/net/http2"
)

// fuzzHandler answers every request with a small response, consumes
// every body byte and, on OnWritable, writes more: it exercises the
// response side while the fuzzer drives the input.
type fuzzHandler struct{ c *Conn }

func (h *fuzzHandler) OnRequest(id uint32, r *RequestHead, end bool) {
	if err := h.c.Respond(id, 200, []byte("Content-Type: text/plain\r\nX-Path: "+string(r.Req.Path.Bytes(r.Buf))+"\r\n"), false); err != nil {
		panic(err)
	}
	h.c.WriteData(id, []byte("fuzz"), end)
}
func (h *fuzzHandler) OnData(id uint32, p []byte, end bool) {
	h.c.Consume(id, len(p))
	if end {
		h.c.WriteData(id, nil, true)
	}
}
func (h *fuzzHandler) OnTrailers(id uint32, r *RequestHead) {
	h.c.WriteTrailers(id, []byte("X-T: 1\r\n"))
}
func (h *fuzzHandler) OnReset(id uint32, code ErrCode) {}
func (h *fuzzHandler) OnWritable(id uint32)            { h.c.WriteData(id, []byte("more"), true) }

// FuzzConn feeds arbitrary bytes after the preface, split in two at a
// point the input chooses: nothing may panic, output stays bounded by
// the input, and a failed connection says so consistently.
func FuzzConn(f *testing.F) {
	for _, seed := range fuzzSeeds(f) {
		f.Add(seed, uint16(len(seed)/2))
	}
	f.Fuzz(func(t *testing.T, data []byte, split uint16) {
		h := &fuzzHandler{}
		c := NewConn(h, &Config{MaxConcurrentStreams: 8, MaxQueuedControl: 64})
		h.c = c
		in := append([]byte(Preface), data...)
		cut := int(split) % (len(in) + 1)
		out := c.Output(nil)
		err := c.Feed(in[:cut])
		out = append(out, c.Output(nil)...)
		if err == nil {
			err = c.Feed(in[cut:])
			out = append(out, c.Output(nil)...)
		}
		// Every frame is at least 9 bytes; none makes us send more than
		// a response head and body, a PING ack or a reset.
		if limit := 256 + 16*len(in); len(out) > limit {
			t.Fatalf("%d bytes of output for %d of input", len(out), len(in))
		}
		if err != nil && (!c.Done() || c.Streams() != 0) {
			t.Fatalf("after %v: done %v, %d streams", err, c.Done(), c.Streams())
		}
		if c.Pending() != 0 {
			t.Fatalf("Pending %d after a full Output", c.Pending())
		}
	})
}

// fuzzSeeds returns client byte streams (after the preface) that cover
// each frame type; TestWriteFuzzSeeds checks them in under testdata.
func fuzzSeeds(tb testing.TB) [][]byte {
	var seeds [][]byte
	add := func(f func(p *peer)) {
		p := newPeer(tb, nil, true)
		p.fr.WriteSettings(xhttp2.Setting{ID: xhttp2.SettingInitialWindowSize, Val: 100})
		f(p)
		seeds = append(seeds, bytes.Clone(p.in.Bytes()))
	}
	add(func(p *peer) { p.get(1, "/") })
	add(func(p *peer) { p.get(1, "/a?b", "cookie", "a", "cookie", "b"); p.get(3, "/c") })
	add(func(p *peer) {
		p.post(1, "content-length", "3")
		p.fr.WriteDataPadded(1, false, []byte("ab"), []byte{0, 0})
		p.fr.WriteData(1, false, []byte("c"))
		p.headers(1, true, "x-t", "1")
	})
	add(func(p *peer) {
		p.fr.WritePing(false, [8]byte{1})
		p.fr.WriteWindowUpdate(0, 1000)
		p.fr.WritePriority(1, xhttp2.PriorityParam{StreamDep: 0, Weight: 1})
		p.post(1)
		p.fr.WriteRSTStream(1, xhttp2.ErrCodeCancel)
		p.fr.WriteGoAway(0, xhttp2.ErrCodeNo, nil)
	})
	add(func(p *peer) {
		b := p.block(":method", "GET", ":scheme", "https", ":path", "/split", "x-long", "abcdefghijklmnop")
		p.fr.WriteHeaders(xhttp2.HeadersFrameParam{StreamID: 1, BlockFragment: b[:5], EndStream: true})
		p.fr.WriteContinuation(1, false, b[5:10])
		p.fr.WriteContinuation(1, true, b[10:])
		p.fr.WriteWindowUpdate(1, 5000)
	})
	return seeds
}

// TestWriteFuzzSeeds rewrites testdata/fuzz/FuzzConn from fuzzSeeds when
// HTTP2_WRITE_SEEDS is set, and otherwise checks that the files exist.
func TestWriteFuzzSeeds(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzConn")
	seeds := fuzzSeeds(t)
	if os.Getenv("HTTP2_WRITE_SEEDS") == "" {
		files, _ := filepath.Glob(filepath.Join(dir, "seed-*"))
		if len(files) != len(seeds) {
			t.Fatalf("%d seed files in %s, want %d (run with HTTP2_WRITE_SEEDS=1)", len(files), dir, len(seeds))
		}
		return
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, s := range seeds {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\nuint16(%d)\n", s, len(s)/2)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%d", i)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
