//go:build linux

package server_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	nethttp "net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Integration tests of [location] sections: matching as nginx does,
// per-location handlers, strip_prefix, alias and per-location limits, on
// both backends.

// echoBackend starts an HTTP server that answers every request with
// "NAME METHOD REQUEST-URI" and the request headers named in echo, one
// "name: value" line each.
func echoBackend(t *testing.T, name string, echo ...string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &nethttp.Server{Handler: nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		io.Copy(io.Discard, r.Body)
		body := name + " " + r.Method + " " + r.RequestURI + "\n"
		for _, h := range echo {
			if h == "Host" {
				body += "host: " + r.Host + "\n"
				continue
			}
			for _, v := range r.Header.Values(h) {
				body += strings.ToLower(h) + ": " + v + "\n"
			}
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		io.WriteString(w, body)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// siteDir writes files (path -> content) under a new directory.
func siteDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, body := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// exchange sends raw on c and reads one response.
func exchange(t *testing.T, c net.Conn, r *bufio.Reader, raw string) *response {
	t.Helper()
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	return readResponse(t, r, strings.HasPrefix(raw, "HEAD "))
}

// TestLocations is the first complaint of issue 14 in nproxy's spelling:
// /api/ to one upstream group (prefix stripped), /auth/ to another, the
// rest static, with exact, regex, ^~ and alias locations beside them.
func TestLocations(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		apiA := echoBackend(t, "api")
		apiV2 := echoBackend(t, "v2")
		auth := echoBackend(t, "auth")
		www := siteDir(t, map[string]string{"index.html": "home\n", "a.txt": "www a.txt\n", "final/a.txt": "www final\n", "docs/index.html": "docs\n"})
		other := siteDir(t, map[string]string{"exact": "exact file\n", "a.txt": "regex a.txt\n", "final/a.txt": "regex final\n"})
		final := siteDir(t, map[string]string{"final/a.txt": "final a.txt\n"})
		images := siteDir(t, map[string]string{"logo.png": "png\n", "index.html": "images index\n"})
		ts := startServer(t, backend, "static_root = "+www+"\n"+
			"[location /api/]\nproxy_pass = "+apiA+"\nstrip_prefix = on\n"+
			"[location /api/v2/]\nproxy_pass = "+apiV2+"\n"+
			"[location /auth/]\nproxy_pass = "+auth+"\n"+
			"[location = /exact]\nstatic_root = "+other+"\n"+
			"[location ~ \\.txt$]\nstatic_root = "+other+"\n"+
			"[location ^~ /final/]\nstatic_root = "+final+"\n"+
			"[location /img/]\nalias = "+images+"\n")
		tests := []struct {
			name     string
			path     string
			status   int
			body     string
			location string
		}{
			{name: "prefix stripped", path: "/api/users?id=7", status: 200, body: "api GET /users?id=7\n"},
			{name: "prefix root", path: "/api/", status: 200, body: "api GET /\n"},
			{name: "longest prefix", path: "/api/v2/items", status: 200, body: "v2 GET /api/v2/items\n"},
			{name: "slash redirect", path: "/api?x=1", status: 301, location: "/api/?x=1"},
			{name: "second group", path: "/auth/login", status: 200, body: "auth GET /auth/login\n"},
			{name: "server static", path: "/", status: 200, body: "home\n"},
			{name: "exact", path: "/exact", status: 200, body: "exact file\n"},
			{name: "exact only", path: "/exact/x", status: 404},
			{name: "regex over prefix", path: "/a.txt", status: 200, body: "regex a.txt\n"},
			{name: "final prefix over regex", path: "/final/a.txt", status: 200, body: "final a.txt\n"},
			{name: "alias", path: "/img/logo.png", status: 200, body: "png\n"},
			{name: "alias index", path: "/img/", status: 200, body: "images index\n"},
			{name: "alias escape", path: "/img/../a.txt", status: 200, body: "regex a.txt\n"},
			{name: "healthz", path: "/healthz", status: 200},
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
	})
}

// TestLocationLimits: max_body_size and the rate limit per location,
// each larger or smaller than the server's.
func TestLocationLimits(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		up := echoBackend(t, "up")
		ts := startServer(t, backend, "proxy_pass = "+up+"\nmax_body_size = 10\n"+
			"[location /upload/]\nmax_body_size = 1k\n"+
			"[location /limited/]\nrate_limit = 1r/m\n")
		post := func(path string, n int) string {
			return fmt.Sprintf("POST %s HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n%s", path, n, strings.Repeat("x", n))
		}
		if res := ts.roundTrip(t, post("/upload/f", 100)); res.status != 200 || string(res.body) != "up POST /upload/f\n" {
			t.Errorf("100 bytes to /upload/ (1k): %d %q", res.status, res.body)
		}
		if res := ts.roundTrip(t, post("/other", 100)); res.status != 413 {
			t.Errorf("100 bytes to /other (the server's 10): %d, want 413", res.status)
		}
		if res := ts.roundTrip(t, post("/upload/f", 2000)); res.status != 413 {
			t.Errorf("2000 bytes to /upload/: %d, want 413", res.status)
		}
		c := ts.dial(t)
		r := bufio.NewReader(c)
		if res := exchange(t, c, r, get("/limited/a")); res.status != 200 {
			t.Fatalf("first /limited/ request: %d", res.status)
		}
		if res := exchange(t, c, r, get("/limited/a")); res.status != 429 {
			t.Errorf("second /limited/ request within a minute: %d, want 429", res.status)
		}
		if res := exchange(t, c, r, get("/free")); res.status != 200 {
			t.Errorf("a path outside the limited location: %d, want 200", res.status)
		}
	})
}
