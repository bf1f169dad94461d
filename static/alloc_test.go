//go:build linux && !race

package static

import (
	"testing"

	"github.com/nproxy/nproxy/http"
)

// TestServeAllocs proves the hot path allocates nothing: every answer
// that comes from a fresh cache entry, whatever its status.
func TestServeAllocs(t *testing.T) {
	cases := []struct {
		name   string
		try    []string
		method http.Method
		path   string
		hdrs   []string
		status int
	}{
		{name: "small 200", path: "/hello.txt", status: 200},
		{name: "small HEAD", method: http.MethodHead, path: "/hello.txt", status: 200},
		{name: "large 200", path: "/big.bin", status: 200},
		{name: "index", path: "/sub/", status: 200},
		{name: "inm 304", path: "/hello.txt", hdrs: []string{"If-None-Match: " + etagOf(13)}, status: 304},
		{name: "ims 304", path: "/hello.txt", hdrs: []string{"If-Modified-Since: " + lastMod}, status: 304},
		{name: "ims later 304", path: "/hello.txt", hdrs: []string{"If-Modified-Since: Thu, 07 Nov 2024 00:00:00 GMT"}, status: 304},
		{name: "range 206", path: "/hello.txt", hdrs: []string{"Range: bytes=0-4"}, status: 206},
		{name: "range large 206", path: "/big.bin", hdrs: []string{"Range: bytes=100-", "If-Range: " + etagOf(bigSize)}, status: 206},
		{name: "range 416", path: "/hello.txt", hdrs: []string{"Range: bytes=99-"}, status: 416},
		{name: "negative 404", path: "/missing", status: 404},
		{name: "forbidden 403", path: "/noindex/", status: 403},
		{name: "405", method: http.MethodPost, path: "/hello.txt", status: 405},
		{name: "try_files hit", try: []string{"$uri", "$uri/", "/spa/index.html"}, path: "/sub/", status: 200},
		{name: "try_files dir redirect", try: []string{"$uri", "$uri/", "/spa/index.html"}, path: "/sub", status: 301},
		{name: "try_files fallback", try: []string{"$uri", "$uri/", "/spa/index.html"}, path: "/app/x", status: 200},
		{name: "try_files =404", try: []string{"$uri", "=404"}, path: "/missing", status: 404},
	}
	root := makeTree(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHandler(t, root, c.try, false)
			m := c.method
			if m == 0 {
				m = http.MethodGet
			}
			x := exchange(m, c.path, c.hdrs...)
			hdr := x.Resp.Header
			serve := func() {
				x.Resp.Reset(hdr)
				h.Serve(x)
				if x.Resp.Release != nil {
					x.Resp.Release.Release()
				}
			}
			serve() // fill the cache
			if x.Resp.Status != c.status {
				t.Fatalf("status %d, want %d", x.Resp.Status, c.status)
			}
			if n := testing.AllocsPerRun(100, serve); n != 0 {
				t.Errorf("%v allocations per request, want 0", n)
			}
		})
	}
}
