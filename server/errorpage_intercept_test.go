//go:build linux

package server_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

// TestProxyInterceptErrors covers proxy_intercept_errors = on: a backend
// 404 (Content-Length body) and 503 (chunked body) whose codes have an
// error_page are replaced by the page, the backend's body dropped and
// its connection kept; a code without a page, a body too long to drop
// (the connection is then closed) and a [location] with the key off go
// through as the backend sent them; on both backends.
func TestProxyInterceptErrors(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		var conns atomic.Int64
		mux := http.NewServeMux()
		mux.HandleFunc("/missing", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "15")
			w.WriteHeader(404)
			io.WriteString(w, "backend's  404\n")
		})
		mux.HandleFunc("/busy", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(503)
			io.WriteString(w, "backend's 503, ")
			w.(http.Flusher).Flush() // chunked
			io.WriteString(w, "chunked\n")
		})
		mux.HandleFunc("/boom", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(500)
			io.WriteString(w, "backend's 500\n")
		})
		mux.HandleFunc("/huge", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "200000")
			w.WriteHeader(404)
			io.WriteString(w, strings.Repeat("x", 200000))
		})
		mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: mux, ConnState: func(_ net.Conn, st http.ConnState) {
			if st == http.StateNew {
				conns.Add(1)
			}
		}}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
		up := ln.Addr().String()
		www := siteDir(t, map[string]string{"404.html": "our 404 page\n", "50x.html": "our 50x page\n"})
		ts := startServer(t, backend, "proxy_pass = be\nproxy_intercept_errors = on\n"+
			"error_page = 404 /errors/404.html\nerror_page = 503 =502 /errors/50x.html\n"+
			"add_header = X-Added yes always\n"+
			"[location /errors/]\nalias = "+www+"\n"+
			"[location /raw/]\nproxy_pass = be\nstrip_prefix = on\nproxy_intercept_errors = off\n"+
			"[upstream be]\nserver = "+up+"\n")
		tests := []struct {
			name   string
			path   string
			status int
			body   string
			conns  int64 // backend connections after the request
		}{
			{name: "404 replaced", path: "/missing", status: 404, body: "our 404 page\n", conns: 1},
			{name: "503 chunked replaced with =502", path: "/busy", status: 502, body: "our 50x page\n", conns: 1},
			{name: "500 without a page goes through", path: "/boom", status: 500, body: "backend's 500\n", conns: 1},
			{name: "a success goes through", path: "/x", status: 200, body: "ok\n", conns: 1},
			{name: "HEAD", path: "HEAD /missing", status: 404, conns: 1},
			{name: "off in a location", path: "/raw/missing", status: 404, body: "backend's  404\n", conns: 1},
			{name: "a long body: replaced, connection closed", path: "/huge", status: 404, body: "our 404 page\n", conns: 1},
			{name: "then a new connection", path: "/x", status: 200, body: "ok\n", conns: 2},
		}
		c := ts.dial(t)
		r := bufio.NewReader(c)
		for _, tt := range tests {
			method, path, ok := strings.Cut(tt.path, " ")
			if !ok {
				method, path = "GET", tt.path
			}
			if _, err := io.WriteString(c, method+" "+path+" HTTP/1.1\r\nHost: t\r\n\r\n"); err != nil {
				t.Fatal(err)
			}
			res := readResponse(t, r, method == "HEAD")
			if res.status != tt.status || string(res.body) != tt.body {
				t.Fatalf("%s: %d %q, want %d %q", tt.name, res.status, res.body, tt.status, tt.body)
			}
			if res.header["x-added"] != "yes" {
				t.Errorf("%s: add_header missing: %v", tt.name, res.header)
			}
			if h := res.header; strings.HasPrefix(tt.body, "our ") && (h["last-modified"] != "" || h["etag"] != "" || h["accept-ranges"] != "") {
				t.Errorf("%s: the page carries its validators or ranges: %v", tt.name, h)
			}
			if n := conns.Load(); n != tt.conns {
				t.Errorf("%s: the backend saw %d connections, want %d", tt.name, n, tt.conns)
			}
		}
	})
}
