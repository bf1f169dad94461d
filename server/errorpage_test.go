//go:build linux

package server_test

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"
)

// TestErrorPages covers error_page: a page for static 404s and for a
// return, an SPA fallback with =200, a redirect, a 401 page that keeps
// the challenge, HEAD, a POST answered with the page, and a missing page;
// on both backends.
func TestErrorPages(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		www := siteDir(t, map[string]string{"index.html": "home\n", "404.html": "not found page\n", "50x.html": "50x page\n",
			"app/index.html": "app shell\n", "401.html": "log in first\n"})
		users := filepath.Join(t.TempDir(), "users")
		os.WriteFile(users, []byte("alice:$apr1$abcdefgh$h9FWgUz3n9YxylKLlR5SQ/\n"), 0o644)
		ts := startServer(t, backend, "static_root = "+www+"\n"+
			"error_page = 404 /404.html\nerror_page = 500 502 503 504 /50x.html\n"+
			"[location /maint/]\nreturn = 503 down\n"+
			"[location /app/]\nerror_page = 404 =200 /app/index.html\n"+
			"[location /gone/]\nerror_page = 404 https://example.com/gone\n"+
			"[location /private/]\nauth_basic = P\nauth_basic_user_file = "+users+"\nerror_page = 401 /401.html\n")
		tests := []struct {
			name      string
			req       string
			status    int
			body      string
			location  string
			challenge string
		}{
			{name: "404 page", req: get("/nope"), status: 404, body: "not found page\n"},
			{name: "404 page HEAD", req: "HEAD /nope HTTP/1.1\r\nHost: t\r\n\r\n", status: 404},
			{name: "POST: 405, no page for it", req: "POST /nope HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nab", status: 405},
			{name: "return 503 page", req: get("/maint/x"), status: 503, body: "50x page\n"},
			{name: "spa fallback", req: get("/app/some/route"), status: 200, body: "app shell\n"},
			{name: "spa file", req: get("/app/index.html"), status: 200, body: "app shell\n"},
			{name: "redirect", req: get("/gone/x"), status: 302, location: "https://example.com/gone"},
			{name: "401 page keeps the challenge", req: get("/private/x"), status: 401, body: "log in first\n", challenge: `Basic realm="P", charset="UTF-8"`},
			{name: "401 passed", req: "GET /private/x HTTP/1.1\r\nHost: t\r\nAuthorization: Basic " + base64.StdEncoding.EncodeToString([]byte("alice:secret")) + "\r\n\r\n", status: 404, body: "not found page\n"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res := ts.roundTrip(t, tt.req)
				if res.status != tt.status {
					t.Fatalf("status %d, want %d (%q)", res.status, tt.status, res.body)
				}
				if tt.body != "" && string(res.body) != tt.body {
					t.Errorf("body %q, want %q", res.body, tt.body)
				}
				if res.header["location"] != tt.location {
					t.Errorf("Location %q, want %q", res.header["location"], tt.location)
				}
				if res.header["www-authenticate"] != tt.challenge {
					t.Errorf("WWW-Authenticate %q, want %q", res.header["www-authenticate"], tt.challenge)
				}
				// The page's validators and ranges are about the page,
				// not the error: only a page sent as 200 keeps them.
				h := res.header
				if tt.status != 200 && (h["last-modified"] != "" || h["etag"] != "" || h["accept-ranges"] != "") {
					t.Errorf("a %d page carries Last-Modified %q, ETag %q, Accept-Ranges %q", tt.status, h["last-modified"], h["etag"], h["accept-ranges"])
				}
				if tt.status == 200 && (h["last-modified"] == "" || h["etag"] == "") {
					t.Errorf("a 200 page lost its validators: %v", h)
				}
			})
		}
		missing := startServer(t, backend, "static_root = "+www+"\nerror_page = 404 /missing.html\n")
		if res := missing.roundTrip(t, get("/nope")); res.status != 404 || len(res.body) == 0 {
			t.Errorf("a missing error page: %d %q, want the built-in 404", res.status, res.body)
		}
	})
}
