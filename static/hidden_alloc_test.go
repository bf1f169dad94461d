//go:build linux && !race

package static

import (
	"testing"

	"github.com/nproxy/nproxy/config"
	"github.com/nproxy/nproxy/http"
)

// TestHiddenAllocs checks that hidden_files = deny costs no allocation,
// on a hidden path and on the ordinary cached hit it must not slow.
func TestHiddenAllocs(t *testing.T) {
	h, err := New(&config.Server{StaticRoot: hiddenTree(t), Index: []string{"index.html"}, DenyHidden: true})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	for _, c := range []struct {
		path   string
		status int
	}{{"/.git/config", 404}, {"/hello.txt", 200}, {"/.well-known/security.txt", 200}} {
		x := exchange(http.MethodGet, c.path)
		hdr := x.Resp.Header
		h.Serve(x) // fill the cache
		allocs := testing.AllocsPerRun(100, func() {
			x.Resp.Reset(hdr)
			h.Serve(x)
		})
		if x.Resp.Status != c.status || allocs != 0 {
			t.Errorf("%s: status %d (want %d), %v allocations per request, want 0", c.path, x.Resp.Status, c.status, allocs)
		}
	}
}
