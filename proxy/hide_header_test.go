//go:build linux

package proxy_test

import (
	"io"
	"net/http"
	"testing"
)

// TestHideHeader checks hide_header against a running worker on both
// backends: a [server]'s names are left out of every proxied response
// (whatever their case in the backend's head), a [location] hides its own
// besides its [server]'s, and headers not named pass.
func TestHideHeader(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		be := startBackend(t, "a", func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			w.Header()["x-powered-by"] = []string{"php"} // lower case on the wire
			w.Header().Set("X-Secret", "s")
			w.Header().Set("X-Keep", "k")
			io.WriteString(w, "ok")
		})
		ps := startProxy(t, backend, "proxy_pass = "+be.addr+"\nhide_header = X-Powered-By\n"+
			"[location /loc/]\nproxy_pass = "+be.addr+"\nhide_header = x-secret\n")
		tests := []struct {
			name string
			path string
			want map[string]string // "" means absent
		}{
			{name: "server", path: "/a", want: map[string]string{"x-powered-by": "", "x-secret": "s", "x-keep": "k", "x-backend": "a"}},
			{name: "location", path: "/loc/a", want: map[string]string{"x-powered-by": "", "x-secret": "", "x-keep": "k", "x-backend": "a"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res := ps.roundTrip(t, get(tt.path))
				if res.status != 200 || string(res.body) != "ok" {
					t.Fatalf("status %d body %q", res.status, res.body)
				}
				for k, v := range tt.want {
					got, ok := res.header[k]
					if v == "" && ok || v != "" && got != v {
						t.Errorf("%s: %q (present %v), want %q", k, got, ok, v)
					}
				}
			})
		}
	})
}
