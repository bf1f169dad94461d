//go:build linux

package server_test

import (
	"bufio"
	"testing"
)

// TestReturnAndRedirects covers return (redirects with variables, text,
// empty), rewrite ... redirect|permanent, and the directory trailing-slash
// 301 (plain, through try_files $uri/, and under an alias), on both
// backends: the second complaint of issue 14.
func TestReturnAndRedirects(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		www := siteDir(t, map[string]string{"index.html": "home\n", "docs/index.html": "docs\n", "spa/docs/index.html": "spa docs\n"})
		images := siteDir(t, map[string]string{"sub/index.html": "sub\n"})
		ts := startServer(t, backend, "static_root = "+www+"\n"+
			"rewrite = ^/old/(.*)$ /new/$1 permanent\n"+
			"rewrite = ^/blog/(.*)$ https://blog.example.com/$1? redirect\n"+
			"rewrite = ^/go$ $scheme://$host/landing\n"+
			"[location /gone/]\nreturn = 410 gone for good\n"+
			"[location = /moved]\nreturn = 301 https://$host$request_uri\n"+
			"[location = /ip]\nreturn = 200 $remote_addr\n"+
			"[location = /ua]\nreturn = 200 ua: $http_user_agent\n"+
			"[location ~ ^/to/(.*)$]\nreturn = 302 https://x.test/$1\n"+
			"[location = /empty]\nreturn = 204\n"+
			"[location /spa/]\ntry_files = $uri $uri/ =404\n"+
			"[location /files/]\nalias = "+images+"\n")
		tests := []struct {
			name     string
			req      string
			status   int
			location string
			body     string
		}{
			{name: "rewrite permanent keeps the query", req: get("/old/a?x=1"), status: 301, location: "/new/a?x=1"},
			{name: "rewrite redirect, ? drops the query", req: get("/blog/p?x=1"), status: 302, location: "https://blog.example.com/p"},
			{name: "scheme makes a redirect", req: "GET /go HTTP/1.1\r\nHost: Example.COM:8080\r\n\r\n", status: 302, location: "http://example.com/landing"},
			{name: "return text", req: get("/gone/x"), status: 410, body: "gone for good"},
			{name: "return text HEAD", req: "HEAD /gone/x HTTP/1.1\r\nHost: t\r\n\r\n", status: 410},
			{name: "return redirect", req: "GET /moved?a=b HTTP/1.1\r\nHost: h.test\r\n\r\n", status: 301, location: "https://h.test/moved?a=b"},
			{name: "return variable", req: get("/ip"), status: 200, body: "127.0.0.1"},
			{name: "return empty", req: get("/empty"), status: 204},
			// A text body keeps the request's spaces (nginx's); a URL
			// gets them percent-encoded.
			{name: "return text keeps spaces", req: "GET /ua HTTP/1.1\r\nHost: t\r\nUser-Agent: Mozilla/5.0 (X11; Linux)\r\n\r\n", status: 200, body: "ua: Mozilla/5.0 (X11; Linux)"},
			{name: "return URL encodes spaces", req: get("/to/a%20b"), status: 302, location: "https://x.test/a%20b"},
			{name: "directory", req: get("/docs?v=2"), status: 301, location: "/docs/?v=2"},
			{name: "directory index", req: get("/docs/"), status: 200, body: "docs\n"},
			{name: "try_files $uri/", req: get("/spa/docs"), status: 301, location: "/spa/docs/"},
			{name: "try_files $uri/ with slash", req: get("/spa/docs/"), status: 200, body: "spa docs\n"},
			{name: "alias keeps the prefix", req: get("/files/sub"), status: 301, location: "/files/sub/"},
			{name: "alias index", req: get("/files/sub/"), status: 200, body: "sub\n"},
		}
		c := ts.dial(t)
		r := bufio.NewReader(c)
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res := exchange(t, c, r, tt.req)
				if res.status != tt.status {
					t.Fatalf("status %d, want %d (%q)", res.status, tt.status, res.body)
				}
				if res.header["location"] != tt.location {
					t.Errorf("Location %q, want %q", res.header["location"], tt.location)
				}
				if tt.body != "" && string(res.body) != tt.body {
					t.Errorf("body %q, want %q", res.body, tt.body)
				}
			})
		}
	})
}
