//go:build linux

package server_test

import (
	"bufio"
	"io"
	"net"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/nproxy/nproxy/internal/servertest"
)

// TestAddHeaderVars covers variables in add_header values on both
// backends: a static 200, a 304, a 404 with always, return, a proxied
// response ($upstream_addr, $upstream_status), the proxy's own 502s
// (inside Serve, and after it: a backend that closes at once), a
// compressed proxied response (gzip's copy of the lines), a
// map's result, a value that expands to nothing (the header is left
// out), and $request_id, the same in the header, the access log and the
// request the backend got; then the same over h2c.
func TestAddHeaderVars(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		up := echoBackend(t, "up", "X-Request-Id")
		down := servertest.RefusedAddr(t)
		broken := servertest.RawBackend(t, func(c net.Conn) { c.Close() }) // 502 after Serve
		const upHdr = "add_header = X-Upstream \"$upstream_addr $upstream_status\" always\n"
		dir := t.TempDir()
		log := filepath.Join(dir, "ids.log")
		www := siteDir(t, map[string]string{"index.html": "home\n", "a.txt": "a\n"})
		ts := startServerGlobals(t, backend, "log_format = ids '$request_id $status $uri \"$upstream_addr $upstream_status\"'\n",
			"listen = {{addr}}\nhttp2 = on\nstatic_root = "+www+"\naccess_log = "+log+" ids\n"+
				"add_header = X-Request-ID $request_id always\n"+
				"add_header = X-Served \"$host $status $uri\"\n"+
				"add_header = X-Plan $plan always\n"+
				"add_header = X-Nothing $http_x_none always\n"+
				"add_header = X-Fixed yes\n"+
				"[location /api/]\nproxy_pass = "+up+"\n"+
				"proxy_set_header = X-Request-Id $request_id\n"+
				upHdr+
				"[location /down/]\nproxy_pass = "+down+"\n"+
				"[location /broken/]\nproxy_pass = "+broken+"\n"+
				upHdr+
				"[location /two/]\nproxy_pass = "+down+", "+up+"\n"+
				upHdr+
				"[location /gz/]\nproxy_pass = "+up+"\ngzip = on\ngzip_min_length = 1\n"+
				upHdr+
				"[location = /r]\nreturn = 201 made\n"+
				"[map $http_x_api_key $plan]\nk1 = gold\n")
		idRE := regexp.MustCompile(`^[0-9a-f]{32}$`)
		etag := ts.roundTrip(t, get("/a.txt")).header["etag"]
		tests := []struct {
			name   string
			req    string
			status int
			want   map[string]string // "" means absent; "*" any value
		}{
			{name: "static", req: "GET /a.txt HTTP/1.1\r\nHost: Example.COM:8080\r\nX-API-Key: k1\r\n\r\n", status: 200,
				want: map[string]string{"x-served": "example.com 200 /a.txt", "x-plan": "gold", "x-nothing": "", "x-fixed": "yes", "x-upstream": ""}},
			{name: "304", req: "GET /a.txt HTTP/1.1\r\nHost: h\r\nIf-None-Match: " + etag + "\r\n\r\n", status: 304,
				want: map[string]string{"x-served": "h 304 /a.txt", "x-plan": "", "x-fixed": "yes"}},
			{name: "404 gets only always", req: get("/missing"), status: 404,
				want: map[string]string{"x-served": "", "x-fixed": "", "x-plan": ""}},
			{name: "return", req: get("/r"), status: 201,
				want: map[string]string{"x-served": "test 201 /r", "x-fixed": "yes"}},
			{name: "proxied", req: "GET /api/x HTTP/1.1\r\nHost: h\r\nX-API-Key: k1\r\n\r\n", status: 200,
				want: map[string]string{"x-served": "h 200 /api/x", "x-plan": "gold", "x-nothing": "", "x-fixed": "yes", "x-upstream": up + " 200"}},
			{name: "proxy 502 in Serve", req: get("/down/x"), status: 502,
				want: map[string]string{"x-served": "", "x-fixed": ""}},
			{name: "two attempts", req: get("/two/x"), status: 200,
				want: map[string]string{"x-upstream": down + ", " + up + " 502, 200"}},
			{name: "proxied, compressed", req: "GET /gz/x HTTP/1.1\r\nHost: h\r\nAccept-Encoding: gzip\r\n\r\n", status: 200,
				want: map[string]string{"content-encoding": "gzip", "x-served": "h 200 /gz/x", "x-upstream": up + " 200", "x-fixed": "yes"}},
			{name: "proxy 502 after Serve", req: get("/broken/x"), status: 502,
				want: map[string]string{"x-served": "", "x-fixed": "", "x-upstream": broken + " 502"}},
		}
		var ids, upstreams []string
		for _, tt := range tests {
			res := ts.roundTrip(t, tt.req)
			if res.status != tt.status {
				t.Fatalf("%s: status %d, want %d (%q)", tt.name, res.status, tt.status, res.body)
			}
			for k, v := range tt.want {
				got, ok := res.header[k]
				if v == "" && ok || v != "" && got != v {
					t.Errorf("%s: %s: %q (present %v), want %q", tt.name, k, got, ok, v)
				}
			}
			id := res.header["x-request-id"]
			if !idRE.MatchString(id) {
				t.Errorf("%s: X-Request-ID %q", tt.name, id)
			}
			if tt.name == "proxied" && !strings.Contains(string(res.body), "x-request-id: "+id+"\n") {
				t.Errorf("proxied: X-Request-ID %s, the backend got:\n%s", id, res.body)
			}
			ids = append(ids, id)
			upstreams = append(upstreams, res.header["x-upstream"])
		}

		// HTTP/2 (h2c): a static file and a proxied stream.
		r := dialH2Raw(t, ts.addr)
		r.headers(1, true, ":method", "GET", ":scheme", "http", ":authority", "h2.test", ":path", "/a.txt", "x-api-key", "k1")
		head, _, _ := r.response(1)
		if head[":status"] != "200" || head["x-served"] != "h2.test 200 /a.txt" || head["x-plan"] != "gold" || !idRE.MatchString(head["x-request-id"]) {
			t.Errorf("h2 static: %v", head)
		}
		if _, ok := head["x-nothing"]; ok {
			t.Errorf("h2 static: x-nothing present: %v", head)
		}
		ids = append(ids, head["x-request-id"])
		upstreams = append(upstreams, "")
		r.headers(3, true, ":method", "GET", ":scheme", "http", ":authority", "h2.test", ":path", "/api/y")
		head, body, _ := r.response(3)
		if head[":status"] != "200" || head["x-served"] != "h2.test 200 /api/y" || head["x-upstream"] != up+" 200" || !idRE.MatchString(head["x-request-id"]) {
			t.Errorf("h2 proxied: %v", head)
		}
		if _, ok := head["x-plan"]; ok {
			t.Errorf("h2 proxied: x-plan present without a key: %v", head)
		}
		if !strings.Contains(string(body), "x-request-id: "+head["x-request-id"]+"\n") {
			t.Errorf("h2 proxied: X-Request-ID %s, the backend got:\n%s", head["x-request-id"], body)
		}
		ids = append(ids, head["x-request-id"])
		upstreams = append(upstreams, head["x-upstream"])

		// The access log's $request_id is the header's, request by
		// request (the first line is the ETag's request), and so are
		// its $upstream_addr and $upstream_status where the response
		// has them.
		lines := readLines(t, log, len(ids)+1)
		for i, id := range ids {
			l := lines[i+1]
			if f := strings.Fields(l); len(f) == 0 || f[0] != id {
				t.Errorf("log line %d %q, header's id %s", i+1, l, id)
			}
			if _, logged, _ := strings.Cut(l, "\""); upstreams[i] != "" && logged != upstreams[i]+"\"" {
				t.Errorf("log line %d %q, X-Upstream %q", i+1, l, upstreams[i])
			}
		}
	})
}

// TestAddHeaderVarsKeepAlive sends several requests on one connection,
// static and proxied in turn: each response's $request_id is its own,
// and a proxied response's head, written after the next requests' were
// read, still carries its request's values (and its $upstream_status,
// kept by the proxy when no access log keeps the attempts).
func TestAddHeaderVarsKeepAlive(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		up := echoBackend(t, "up")
		ts := startServer(t, backend, "add_header = X-Req \"$request_id $uri $args $upstream_status\" always\n"+
			"[location /api/]\nproxy_pass = "+up+"\n")
		c := ts.dial(t)
		var reqs strings.Builder
		paths := []string{"/api/a?n=0", "/small.txt?n=1", "/api/b?n=2", "/missing?n=3", "/api/c?n=4"}
		for _, p := range paths {
			reqs.WriteString(get(p))
		}
		if _, err := io.WriteString(c, reqs.String()); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(c)
		seen := map[string]bool{}
		for _, p := range paths {
			res := readResponse(t, br, false)
			f := strings.Fields(res.header["x-req"])
			path, args, _ := strings.Cut(p, "?")
			n := 3 // $upstream_status: empty unless proxied (no access log keeps the attempts here)
			if strings.HasPrefix(p, "/api/") {
				n = 4
			}
			if len(f) != n || f[1] != path || f[2] != args || n == 4 && f[3] != "200" || seen[f[0]] {
				t.Errorf("%s: X-Req %q", p, res.header["x-req"])
				continue
			}
			seen[f[0]] = true
		}
	})
}

// TestAddHeaderVarsIntercept: an error page put in place of a backend's
// error (proxy_intercept_errors) after Serve gets the route's add_header
// lines with variables, the request's and the response's.
func TestAddHeaderVarsIntercept(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		up := servertest.RawBackend(t, func(c net.Conn) {
			defer c.Close()
			br := bufio.NewReader(c)
			for {
				l, err := br.ReadString('\n')
				if err != nil {
					return
				}
				if l == "\r\n" {
					io.WriteString(c, "HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nnope")
				}
			}
		})
		www := siteDir(t, map[string]string{"404.html": "our 404 page\n"})
		ts := startServer(t, backend, "proxy_pass = "+up+"\nproxy_intercept_errors = on\n"+
			"error_page = 404 /errors/404.html\n"+
			"add_header = X-Vars \"$status $upstream_addr $upstream_status $uri $http_x_a\" always\n"+
			"[location /errors/]\nalias = "+www+"\n")
		res := ts.roundTrip(t, "GET /missing HTTP/1.1\r\nHost: h\r\nX-A: b\r\n\r\n")
		if res.status != 404 || string(res.body) != "our 404 page\n" {
			t.Fatalf("status %d body %q, want the page", res.status, res.body)
		}
		if want := "404 " + up + " 404 /missing b"; res.header["x-vars"] != want {
			t.Errorf("X-Vars %q, want %q", res.header["x-vars"], want)
		}
	})
}
