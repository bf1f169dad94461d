//go:build linux

package server_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net"
	nethttp "net/http"
	"strings"
	"testing"
)

// TestH2ProxyGzipAndIntercept checks two proxied-response features over
// HTTP/2 (h2c) on both backends: gzip = on compresses a backend's text
// body (the stream carries the gzip bytes, which decompress to the
// backend's), and proxy_intercept_errors replaces the backend's 404 by
// the error_page.
func TestH2ProxyGzipAndIntercept(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		text := bytes.Repeat([]byte("streamed text from the backend\n"), 4000)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := &nethttp.Server{Handler: nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
			if r.URL.Path == "/api/missing" {
				w.WriteHeader(404)
				io.WriteString(w, "backend's 404")
				return
			}
			w.Header().Set("Content-Type", "text/plain")
			w.Write(text)
		})}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
		www := siteDir(t, map[string]string{"404.html": "our 404 page\n"})
		ts := startServer(t, backend, "static_root = "+www+"\nhttp2 = on\n"+
			"[location /api/]\nproxy_pass = "+ln.Addr().String()+"\ngzip = on\n"+
			"proxy_intercept_errors = on\nerror_page = 404 /404.html\n")
		cl := h2cClient()
		base := "http://" + ts.addr
		res, body := h2Do(t, cl, "GET", base+"/api/text", map[string]string{"Accept-Encoding": "gzip"})
		if res.StatusCode != 200 || res.Header.Get("Content-Encoding") != "gzip" || !strings.Contains(res.Header.Get("Vary"), "Accept-Encoding") {
			t.Fatalf("gzip over h2: %d %v", res.StatusCode, res.Header)
		}
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if got, err := io.ReadAll(zr); err != nil || !bytes.Equal(got, text) || len(body) >= len(text)/4 {
			t.Fatalf("gzip over h2: %d compressed bytes decompress to %d (%v), want %d", len(body), len(got), err, len(text))
		}
		res, body = h2Do(t, cl, "GET", base+"/api/missing", nil)
		if res.StatusCode != 404 || string(body) != "our 404 page\n" {
			t.Fatalf("intercepted 404 over h2: %d %q", res.StatusCode, body)
		}
	})
}
