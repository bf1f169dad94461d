//go:build linux

package static

import (
	"testing"

	"github.com/nproxy/nproxy/http"
)

// BenchmarkServeCachedSmall measures a cached small-file GET: the work
// Serve does per request on the hottest path of the static-small
// scenario.
func BenchmarkServeCachedSmall(b *testing.B) {
	benchServe(b, "/hello.txt")
}

// BenchmarkServeCachedLarge is the same for a file sent from a cached
// descriptor (reference taken and released).
func BenchmarkServeCachedLarge(b *testing.B) {
	benchServe(b, "/big.bin")
}

// BenchmarkServeCachedNotModified is a conditional GET answered 304.
func BenchmarkServeCachedNotModified(b *testing.B) {
	benchServe(b, "/hello.txt", "If-None-Match: "+etagOf(13))
}

func benchServe(b *testing.B, path string, hdrs ...string) {
	h := newHandler(b, makeTree(b), nil, false)
	x := exchange(http.MethodGet, path, hdrs...)
	hdr := x.Resp.Header
	b.ReportAllocs()
	for b.Loop() {
		x.Resp.Reset(hdr)
		h.Serve(x)
		if x.Resp.Release != nil {
			x.Resp.Release.Release()
		}
	}
}
