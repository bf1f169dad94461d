//go:build linux

package server_test

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMaps: [map] results in access_log if= (a map of $status that drops
// 2xx and 3xx), in a log_format (a map of a request header), in
// proxy_set_header, in return's URL and text, with regex captures and a
// map of a map, several requests on one connection, on both backends.
func TestMaps(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		up := echoBackend(t, "up", "X-Tenant", "X-Route", "X-Args", "X-Plan")
		www := siteDir(t, map[string]string{"small.txt": "small\n"})
		path := filepath.Join(t.TempDir(), "access.log")
		ts := startServerGlobals(t, backend, "log_format = m '$status $request_uri level=$level'\n",
			"static_root = "+www+"\naccess_log = "+path+" m if=$loggable\n"+
				"[location /api/]\nproxy_pass = "+up+"\nproxy_set_header = X-Tenant $tenant\nproxy_set_header = X-Route $route\nproxy_set_header = X-Args $args\nproxy_set_header = X-Plan $plan\n"+
				"[location /go/]\nreturn = 302 https://example.com$route\n"+
				"[location = /text]\nreturn = 200 route=$route tier=[$tier]\n"+
				"[map $status $loggable]\n~^[23] = 0\ndefault = 1\n"+
				"[map $uri $route]\n/go/old = /new\n~^/go/u/(?<id>\\d+)$ = /user/$id\n~^/api/(?<v>v\\d)/ = api-$v\ndefault = /fallback\n"+
				"[map $args $tenant]\nx = X\n~(^|&)t\\x3d(?<t>[a-z]+) = T:$t\ndefault = none\n"+
				"[map $route $tier]\n~^/user/ = users\ndefault = ''\n"+
				"[map $http_x_level $level]\nhigh = H\n~*^low$ = L\n"+
				"[map $http_x_api_key $plan]\nk1 = gold:$http_x_user\ndefault = free\n")
		tests := []struct {
			name, path, head string
			status           int
			body, location   string
		}{
			{name: "static 200", path: "/small.txt", status: 200},
			{name: "return exact", path: "/go/old", status: 302, location: "https://example.com/new"},
			{name: "return named capture", path: "/go/u/42", status: 302, location: "https://example.com/user/42"},
			{name: "return default", path: "/go/x", status: 302, location: "https://example.com/fallback"},
			{name: "proxy_set_header", path: "/api/v2/x?t=acme", status: 200, body: "up GET /api/v2/x?t=acme\nx-tenant: T:acme\nx-route: api-v2\nx-args: t=acme\nx-plan: free\n"},
			{name: "proxy_set_header default", path: "/api/v1/y", status: 200, body: "up GET /api/v1/y\nx-tenant: none\nx-route: api-v1\nx-plan: free\n"},
			{name: "proxy_set_header map of a header", path: "/api/v1/z", head: "X-Api-Key: k1\r\nX-User: ann\r\n", status: 200, body: "up GET /api/v1/z\nx-tenant: none\nx-route: api-v1\nx-plan: gold:ann\n"},
			{name: "return text", path: "/text", status: 200, body: "route=/fallback tier=[]"},
			{name: "404 logged", path: "/nope.txt", head: "X-Level: high\r\n", status: 404},
			{name: "404 logged, regex ~*", path: "/nope2.txt?v=last", head: "X-Level: LOW\r\n", status: 404},
		}
		c := ts.dial(t)
		r := bufio.NewReader(c)
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res := exchange(t, c, r, "GET "+tt.path+" HTTP/1.1\r\nHost: a.example\r\n"+tt.head+"\r\n")
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
		// Lines are written in order: once the last is there, so is
		// every line before it that was logged.
		var lines []string
		waitFor(t, "the last request's line", func() bool {
			b, _ := os.ReadFile(path)
			lines = strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
			return strings.Contains(string(b), "v=last")
		})
		want := []string{"404 /nope.txt level=H", "404 /nope2.txt?v=last level=L"}
		if strings.Join(lines, "\n") != strings.Join(want, "\n") {
			t.Errorf("log:\n%s\nwant (2xx and 3xx dropped):\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
		}
	})
}

// TestH2Maps: maps' results over HTTP/2 (h2c): return with a capture,
// proxy_set_header, and access_log if= on a map of $status, several
// streams on one connection, on both backends.
func TestH2Maps(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		up := echoBackend(t, "up", "X-Route")
		path := filepath.Join(t.TempDir(), "access.log")
		ts := startServer(t, backend, "http2 = on\nreturn = 404\naccess_log = "+path+" combined if=$loggable\n"+
			"[location /go/]\nreturn = 200 to $route\n"+
			"[location /api/]\nproxy_pass = "+up+"\nproxy_set_header = X-Route $route\n"+
			"[map $status $loggable]\n~^[23] = 0\ndefault = 1\n"+
			"[map $uri $route]\n~^/go/u/(?<id>\\d+)$ = /user/$id\n~^/api/ = api\ndefault = /other\n")
		cl := h2cClient()
		base := "http://" + ts.addr
		tests := []struct {
			path   string
			status int
			body   string
		}{
			{"/go/u/7", 200, "to /user/7"},
			{"/api/x", 200, "up GET /api/x\nx-route: api\n"},
			{"/go/x", 200, "to /other"},
			{"/missing?v=last", 404, ""},
		}
		for _, tt := range tests {
			res, body := h2Do(t, cl, "GET", base+tt.path, nil)
			if res.StatusCode != tt.status || tt.body != "" && string(body) != tt.body {
				t.Errorf("GET %s over h2: %d %q, want %d %q", tt.path, res.StatusCode, body, tt.status, tt.body)
			}
		}
		var lines []string
		waitFor(t, "the last request's line", func() bool {
			b, _ := os.ReadFile(path)
			lines = strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
			return strings.Contains(string(b), "v=last")
		})
		if len(lines) != 1 || !strings.Contains(lines[0], `"GET /missing?v=last HTTP/2.0" 404 `) {
			t.Errorf("log:\n%s\nwant only the 404", strings.Join(lines, "\n"))
		}
	})
}
