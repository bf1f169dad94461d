//go:build linux

package server_test

import (
	"bufio"
	"fmt"
	"testing"
)

// TestLocationCaptures: a regex [location]'s numbered and named captures
// in alias, return (URL and text), proxy_set_header and proxy_pass's URI
// part, on both backends.
func TestLocationCaptures(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		up := echoBackend(t, "up", "X-Ver", "X-Rest")
		images := siteDir(t, map[string]string{"logo.png": "png\n", "sub/index.html": "sub index\n", "png/a.png": "a png\n"})
		ts := startServer(t, backend, "return = 404\n"+
			"[location ~ ^/img/(.+)$]\nalias = "+images+"/$1\n"+
			"[location ~ ^/typed/(?P<name>[a-z]+)\\.(png|gif)$]\nalias = "+images+"/$2/${name}.$2\n"+
			"[location ~* ^/go/(.*)$]\nreturn = 301 https://example.com/new/$1$is_args$args\n"+
			"[location ~ ^/hello/(?<who>[a-z]+)/([0-9]+)$]\nreturn = 200 hello $who no. $2\n"+
			"[location ~ ^/api/(?P<ver>v[0-9])/(.*)$]\nproxy_pass = "+up+"\nproxy_set_header = X-Ver $ver\nproxy_set_header = X-Rest [$2]\n"+
			"[location ~ ^/up/v1/(.*)$]\nproxy_pass = http://"+up+"/$1$is_args$args\n"+
			"[location ~ ^/up/(?P<ver>v[0-9])/(.+)$]\nproxy_pass = http://"+up+"/new/$2?ver=$ver\n")
		tests := []struct {
			name     string
			path     string
			status   int
			body     string
			location string
		}{
			{name: "alias $1", path: "/img/logo.png", status: 200, body: "png\n"},
			{name: "alias directory redirect", path: "/img/sub", status: 301, location: "/img/sub/"},
			{name: "alias directory index", path: "/img/sub/", status: 200, body: "sub index\n"},
			{name: "alias escape normalized", path: "/img/sub/../logo.png", status: 200, body: "png\n"},
			{name: "alias missing", path: "/img/nope.png", status: 404},
			{name: "alias named and numbered", path: "/typed/a.png", status: 200, body: "a png\n"},
			{name: "return URL", path: "/GO/a/b?x=1", status: 301, location: "https://example.com/new/a/b?x=1"},
			{name: "return URL no query", path: "/go/c", status: 301, location: "https://example.com/new/c"},
			{name: "return text", path: "/hello/ann/42", status: 200, body: "hello ann no. 42"},
			{name: "proxy_set_header", path: "/api/v2/users?id=1", status: 200, body: "up GET /api/v2/users?id=1\nx-ver: v2\nx-rest: [users]\n"},
			{name: "proxy_pass URI", path: "/up/v1/users?id=1", status: 200, body: "up GET /users?id=1\n"},
			{name: "proxy_pass URI escaped", path: "/up/v1/a%20b%3F", status: 200, body: "up GET /a%20b%3F\n"},
			{name: "proxy_pass URI own query", path: "/up/v2/items?dropped=1", status: 200, body: "up GET /new/items?ver=v2\n"},
			{name: "no match", path: "/hello/ann", status: 404},
		}
		c := ts.dial(t)
		r := bufio.NewReader(c)
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res := exchange(t, c, r, get(tt.path))
				if res.status != tt.status {
					t.Fatalf("GET %s: status %d, want %d (%q)", tt.path, res.status, tt.status, res.body)
				}
				if tt.body != "" && string(res.body) != tt.body {
					t.Errorf("GET %s: body %q, want %q", tt.path, res.body, tt.body)
				}
				if tt.location != "" && res.header["location"] != tt.location {
					t.Errorf("GET %s: Location %q, want %q", tt.path, res.header["location"], tt.location)
				}
			})
		}
		// Each request's captures are its own.
		for i := range 4 {
			who := string(rune('a' + i))
			res := exchange(t, c, r, get(fmt.Sprintf("/hello/%s/%d", who, i)))
			if want := fmt.Sprintf("hello %s no. %d", who, i); string(res.body) != want {
				t.Errorf("request %d: %q, want %q", i, res.body, want)
			}
		}
	})
}

// TestH2LocationCaptures: the captures of the location an HTTP/2 (h2c)
// request is routed to, in alias, return and proxy_pass's URI part,
// several streams on one connection, on both backends.
func TestH2LocationCaptures(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		up := echoBackend(t, "up")
		images := siteDir(t, map[string]string{"logo.png": "png\n"})
		ts := startServer(t, backend, "http2 = on\nreturn = 404\n"+
			"[location ~ ^/img/(.+)$]\nalias = "+images+"/$1\n"+
			"[location ~ ^/hello/(?P<who>[a-z]+)$]\nreturn = 200 hello $who\n"+
			"[location ~ ^/up/v1/(.*)$]\nproxy_pass = http://"+up+"/$1$is_args$args\n")
		cl := h2cClient()
		base := "http://" + ts.addr
		tests := []struct{ path, body string }{
			{"/img/logo.png", "png\n"},
			{"/hello/ann", "hello ann"},
			{"/up/v1/users?id=1", "up GET /users?id=1\n"},
			{"/hello/bob", "hello bob"},
		}
		for _, tt := range tests {
			res, body := h2Do(t, cl, "GET", base+tt.path, nil)
			if res.StatusCode != 200 || string(body) != tt.body {
				t.Errorf("GET %s over h2: %d %q, want 200 %q", tt.path, res.StatusCode, body, tt.body)
			}
		}
	})
}
