//go:build linux

package proxy_test

import (
	"io"
	"net/http"
	"testing"
)

// TestProxyForwarded checks proxy_forwarded = on against a running
// worker on both backends: a [location] that sets it sends the backend an
// RFC 7239 Forwarded field after the client's, its [server] (off by
// default) passes the client's as it came.
func TestProxyForwarded(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		be := startBackend(t, "a", func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			io.WriteString(w, r.Header.Get("Forwarded"))
		})
		ps := startProxy(t, backend, "proxy_pass = "+be.addr+"\n"+
			"[location /fw/]\nproxy_pass = "+be.addr+"\nproxy_forwarded = on\n")
		tests := []struct {
			name string
			req  string
			want string
		}{
			{name: "off", req: get("/a"), want: ""},
			{name: "off passes the client's", req: "GET /a HTTP/1.1\r\nHost: test\r\nForwarded: for=6.6.6.6\r\n\r\n", want: "for=6.6.6.6"},
			{name: "on", req: get("/fw/a"), want: "for=127.0.0.1;host=test;proto=http"},
			{name: "on after the client's", req: "GET /fw/a HTTP/1.1\r\nHost: test:81\r\nForwarded: for=6.6.6.6\r\n\r\n",
				want: `for=6.6.6.6, for=127.0.0.1;host="test:81";proto=http`},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res := ps.roundTrip(t, tt.req)
				if res.status != 200 || string(res.body) != tt.want {
					t.Fatalf("status %d, backend saw Forwarded %q, want %q", res.status, res.body, tt.want)
				}
			})
		}
	})
}
