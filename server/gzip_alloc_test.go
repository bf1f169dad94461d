//go:build linux && !race

package server

import (
	"testing"

	"github.com/nproxy/nproxy/reactor"
)

// TestGzipAllocs proves that compressing a response, once the worker's
// compressor exists, allocates nothing: the compressor is reset, the
// output buffer comes from the loop's pool and its releaser from a free
// list.
func TestGzipAllocs(t *testing.T) {
	s := &Server{loop: reactor.NewLoop(reactor.NewEpoll(), reactor.Options{})}
	in := make([]byte, 8<<10)
	for i := range in {
		in[i] = "<p>hello</p>\n"[i%13]
	}
	run := func() {
		out, rel := s.gzipBytes(in, 1)
		if out == nil {
			t.Fatal("not compressed")
		}
		rel.Release()
	}
	run()
	if n := testing.AllocsPerRun(100, run); n != 0 {
		t.Errorf("gzipBytes: %v allocs, want 0", n)
	}
}
