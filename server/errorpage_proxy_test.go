//go:build linux

package server_test

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/nproxy/nproxy/internal/servertest"
)

// TestProxyErrorPages covers error_page for the reverse proxy's own 502
// and 504, decided after the request was handed to the proxy (a backend
// refusing the connection, one that never answers): the page of the
// route (its own, or its server's), =CODE, a redirect, HEAD, add_header
// on the page, and the built-in page when the error page would itself be
// proxied or is larger than the proxy sends; on both backends.
func TestProxyErrorPages(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		down := servertest.RefusedAddr(t) // connections are refused
		mute, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { mute.Close() })
		go func() { // accepts, reads, never answers
			for {
				c, err := mute.Accept()
				if err != nil {
					return
				}
				go func() { io.Copy(io.Discard, c); c.Close() }()
			}
		}()
		www := siteDir(t, map[string]string{"50x.html": "50x page\n", "down.html": "down page\n",
			"big.html": strings.Repeat("big page\n", 20<<10/9)})
		ts := startServer(t, backend, "static_root = "+www+"\n"+
			"error_page = 502 504 /50x.html\nadd_header = X-Always yes always\n"+
			"[location /api/]\nproxy_pass = "+down+"\n"+
			"[location /slow/]\nproxy_pass = "+mute.Addr().String()+"\nproxy_timeout = 300ms\n"+
			"[location /own/]\nproxy_pass = "+down+"\nerror_page = 502 =503 /down.html\n"+
			"[location /moved/]\nproxy_pass = "+down+"\nerror_page = 502 https://status.example.com/\n"+
			"[location /proxied/]\nproxy_pass = "+down+"\nerror_page = 502 /api/page\n"+
			"[location /big/]\nproxy_pass = "+down+"\nerror_page = 502 /big.html\n")
		tests := []struct {
			name     string
			req      string
			status   int
			body     string // "" with HEAD: none
			location string
		}{
			{name: "refused: the server's page", req: get("/api/x"), status: 502, body: "50x page\n"},
			{name: "timed out: 504 page", req: get("/slow/x"), status: 504, body: "50x page\n"},
			{name: "the location's page with =503", req: get("/own/x"), status: 503, body: "down page\n"},
			{name: "redirect", req: get("/moved/x"), status: 302, location: "https://status.example.com/"},
			{name: "HEAD", req: "HEAD /api/x HTTP/1.1\r\nHost: t\r\n\r\n", status: 502},
			{name: "a proxied page: the built-in one", req: get("/proxied/x"), status: 502, body: "502 Bad Gateway"},
			{name: "a page over 12 KiB: the built-in one", req: get("/big/x"), status: 502, body: "502 Bad Gateway"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				c := ts.dial(t)
				if _, err := io.WriteString(c, tt.req); err != nil {
					t.Fatal(err)
				}
				r := bufio.NewReader(c)
				head := strings.HasPrefix(tt.req, "HEAD ")
				res := readResponse(t, r, head)
				if res.status != tt.status {
					t.Fatalf("status %d, want %d (%q)", res.status, tt.status, res.body)
				}
				if !strings.Contains(string(res.body), tt.body) || head && len(res.body) != 0 {
					t.Errorf("body %q, want %q", res.body, tt.body)
				}
				if res.header["location"] != tt.location {
					t.Errorf("Location %q, want %q", res.header["location"], tt.location)
				}
				if res.header["x-always"] != "yes" {
					t.Errorf("X-Always %q, want yes (add_header ... always)", res.header["x-always"])
				}
				// The connection is still usable.
				io.WriteString(c, get("/50x.html"))
				if res := readResponse(t, r, false); res.status != 200 || string(res.body) != "50x page\n" {
					t.Errorf("next request: %d %q", res.status, res.body)
				}
			})
		}
	})
}
