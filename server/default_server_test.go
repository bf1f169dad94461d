//go:build linux

package server_test

import (
	"bufio"
	"testing"
)

// TestDefaultServer checks listen ... default_server: of three blocks on
// one address, the one marked default_server (the second) answers a Host
// no block names and a request without Host, instead of the first; named
// Hosts still reach their own block.
func TestDefaultServer(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		ts := startServer(t, backend, "listen = {{addr}}\nserver_name = a.test\n[location = /]\nreturn = 200 first\n"+
			"[server]\nlisten = {{addr}} default_server\nserver_name = _\nreturn = 200 default\n"+
			"[server]\nlisten = {{addr}}\nserver_name = c.test *.c.test\nreturn = 200 third\n")
		c := ts.dial(t)
		r := bufio.NewReader(c)
		for _, tt := range []struct{ host, body string }{
			{"a.test", "first"},
			{"unknown.test", "default"},
			{"x.c.test", "third"},
			{"c.test:8080", "third"},
			{"", "default"},
		} {
			req := "GET / HTTP/1.1\r\nHost: " + tt.host + "\r\n\r\n"
			if tt.host == "" {
				req = "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
			}
			if res := exchange(t, c, r, req); res.status != 200 || string(res.body) != tt.body {
				t.Fatalf("Host %q: %d %q, want %q", tt.host, res.status, res.body, tt.body)
			}
		}
	})
}
