//go:build linux

package proxy_test

import (
	"io"
	"net/http"
	"testing"
)

// TestRewriteForwardsNewURI checks nginx's behaviour: a request rewritten
// into the proxy_prefix is forwarded with the rewritten path (re-encoded)
// and the client's query; one that is not rewritten keeps its
// request-target byte for byte.
func TestRewriteForwardsNewURI(t *testing.T) {
	be := startBackend(t, "a", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.RequestURI)
	})
	forEachBackend(t, func(t *testing.T, backend string) {
		ps := startProxy(t, backend, "proxy_pass = "+be.addr+"\nproxy_prefix = /api/\nstatic_root = STATIC\n"+
			"rewrite = ^/old/(.*)$ /api/v2/$1\n")
		for _, tt := range []struct{ target, want string }{
			{"/old/items?id=7", "/api/v2/items?id=7"},
			{"/old/a%20b", "/api/v2/a%20b"},
			{"/api/x%2Fy?q=%41", "/api/x%2Fy?q=%41"},
		} {
			res := ps.roundTrip(t, get(tt.target))
			if res.status != 200 || string(res.body) != tt.want {
				t.Errorf("%s: %d %q, want %q", tt.target, res.status, res.body, tt.want)
			}
		}
	})
}
