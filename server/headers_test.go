//go:build linux

package server_test

import (
	"strings"
	"testing"

	"github.com/nproxy/nproxy/internal/servertest"
)

// TestHeaders covers add_header (with always, inherited and replaced by a
// location), proxy_set_header (variables, replacing nproxy's Host,
// removing a client header) and server_tokens = off, on static files,
// proxied responses and the proxy's own 502, on both backends.
func TestHeaders(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		up := echoBackend(t, "up", "Host", "X-Real-Ip", "X-Forwarded-For", "Accept-Encoding", "X-Custom")
		down := servertest.RefusedAddr(t) // the proxy answers 502
		www := siteDir(t, map[string]string{"index.html": "home\n"})
		ts := startServer(t, backend, "static_root = "+www+"\n"+
			"server_tokens = off\n"+
			"add_header = X-Frame-Options DENY\n"+
			"add_header = Strict-Transport-Security max-age=63072000; includeSubDomains always\n"+
			"[location /api/]\nproxy_pass = "+up+"\n"+
			"proxy_set_header = X-Real-IP $remote_addr\n"+
			"proxy_set_header = Host backend.internal\n"+
			"proxy_set_header = Accept-Encoding \"\"\n"+
			"proxy_set_header = X-Custom ${scheme}-$uri\n"+
			"add_header = X-Frame-Options SAMEORIGIN\n"+
			"add_header = X-API yes\n"+
			"[location /down/]\nproxy_pass = "+down+"\n")
		const hsts = "max-age=63072000; includeSubDomains"
		tests := []struct {
			name   string
			req    string
			status int
			want   map[string]string // "" means absent
			body   string
		}{
			{name: "static", req: get("/"), status: 200,
				want: map[string]string{"x-frame-options": "DENY", "strict-transport-security": hsts, "server": "", "x-api": ""}},
			{name: "404 gets only always", req: get("/missing"), status: 404,
				want: map[string]string{"x-frame-options": "", "strict-transport-security": hsts, "server": ""}},
			{name: "proxied", req: "GET /api/a?q=1 HTTP/1.1\r\nHost: front.test\r\nAccept-Encoding: gzip\r\nX-Real-IP: 6.6.6.6\r\n\r\n", status: 200,
				want: map[string]string{"x-frame-options": "SAMEORIGIN", "x-api": "yes", "strict-transport-security": hsts, "server": ""},
				body: "up GET /api/a?q=1\nhost: backend.internal\nx-real-ip: 127.0.0.1\nx-forwarded-for: 127.0.0.1\nx-custom: http-/api/a\n"},
			{name: "proxy 502", req: get("/down/x"), status: 502,
				want: map[string]string{"x-frame-options": "", "strict-transport-security": hsts, "server": ""}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res := ts.roundTrip(t, tt.req)
				if res.status != tt.status {
					t.Fatalf("status %d, want %d (%q)", res.status, tt.status, res.body)
				}
				for k, v := range tt.want {
					got, ok := res.header[k]
					if v == "" && ok || v != "" && got != v {
						t.Errorf("%s: %q (present %v), want %q", k, got, ok, v)
					}
				}
				if tt.body != "" && string(res.body) != tt.body {
					t.Errorf("backend saw:\n%s\nwant:\n%s", res.body, tt.body)
				}
			})
		}
		if res := ts.roundTrip(t, get("/")); !strings.Contains(string(res.body), "home") {
			t.Errorf("body %q", res.body)
		}
	})
}
