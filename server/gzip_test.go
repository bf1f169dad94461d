//go:build linux

package server_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"strings"
	"testing"
)

// TestGzip covers compression on the fly (types, min length, q=0, HEAD,
// ranges, Vary, a weak ETag, a file sent from a descriptor) and
// gzip_static (.gz and .br variants typed as the original), on both
// backends.
func TestGzip(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		page := strings.Repeat("<p>hello, compressible world</p>\n", 200) // 6.6 KiB, kept in memory
		big := strings.Repeat("body { color: red; }\n", 3000)             // 63 KiB, sent from a descriptor
		var gz bytes.Buffer
		w := gzip.NewWriter(&gz)
		io.WriteString(w, "precompressed js\n")
		w.Close()
		www := siteDir(t, map[string]string{"page.html": page, "big.css": big, "tiny.txt": "hi", "img.png": strings.Repeat("x", 5000),
			"app.js": "plain js\n", "app.js.gz": gz.String(), "style.css": "plain css\n", "style.css.br": "fake brotli"})
		ts := startServer(t, backend, "static_root = "+www+"\ngzip = on\ngzip_min_length = 100\n"+
			"[location /assets/]\nalias = "+www+"\ngzip = off\ngzip_static = on\n")
		req := func(method, path, ae string, extra ...string) string {
			s := method + " " + path + " HTTP/1.1\r\nHost: t\r\n"
			if ae != "" {
				s += "Accept-Encoding: " + ae + "\r\n"
			}
			for _, e := range extra {
				s += e + "\r\n"
			}
			return s + "\r\n"
		}
		gunzip := func(t *testing.T, b []byte) string {
			t.Helper()
			r, err := gzip.NewReader(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			out, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			return string(out)
		}
		tests := []struct {
			name     string
			req      string
			status   int
			encoding string
			vary     bool
			body     string // after decoding
		}{
			{name: "in-memory page", req: req("GET", "/page.html", "gzip, deflate, br"), status: 200, encoding: "gzip", vary: true, body: page},
			{name: "file from a descriptor", req: req("GET", "/big.css", "gzip"), status: 200, encoding: "gzip", vary: true, body: big},
			{name: "not accepted", req: req("GET", "/page.html", ""), status: 200, vary: true, body: page},
			{name: "q=0", req: req("GET", "/page.html", "gzip;q=0, identity"), status: 200, vary: true, body: page},
			{name: "too small", req: req("GET", "/tiny.txt", "gzip"), status: 200, body: "hi"},
			{name: "not a text type", req: req("GET", "/img.png", "gzip"), status: 200, body: strings.Repeat("x", 5000)},
			{name: "range", req: req("GET", "/page.html", "gzip", "Range: bytes=0-9"), status: 206, body: page[:10]},
			{name: "static .gz", req: req("GET", "/assets/app.js", "gzip"), status: 200, encoding: "gzip", vary: true, body: "precompressed js\n"},
			{name: "static without gz accepted", req: req("GET", "/assets/app.js", "br"), status: 200, body: "plain js\n"},
			{name: "static .br", req: req("GET", "/assets/style.css", "gzip, br"), status: 200, encoding: "br", vary: true, body: "fake brotli"},
			{name: "static without variant", req: req("GET", "/assets/page.html", "gzip"), status: 200, body: page},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res := ts.roundTrip(t, tt.req)
				if res.status != tt.status {
					t.Fatalf("status %d, want %d", res.status, tt.status)
				}
				if res.header["content-encoding"] != tt.encoding {
					t.Errorf("Content-Encoding %q, want %q", res.header["content-encoding"], tt.encoding)
				}
				if (res.header["vary"] == "Accept-Encoding") != tt.vary {
					t.Errorf("Vary %q, want it %v", res.header["vary"], tt.vary)
				}
				body := string(res.body)
				if tt.encoding == "gzip" {
					body = gunzip(t, res.body)
					if et := res.header["etag"]; et != "" && !strings.HasPrefix(et, "W/") && !strings.HasPrefix(tt.name, "static") {
						t.Errorf("ETag %q of a compressed body is not weak", et)
					}
				}
				if body != tt.body {
					t.Errorf("body (%d bytes) differs from the %d expected", len(body), len(tt.body))
				}
			})
		}
		if res := ts.roundTrip(t, req("GET", "/assets/app.js", "gzip")); !strings.HasPrefix(res.header["content-type"], "application/javascript") && !strings.HasPrefix(res.header["content-type"], "text/javascript") {
			t.Errorf("a .gz variant typed %q, want the original's", res.header["content-type"])
		}
		if res := ts.roundTrip(t, req("HEAD", "/page.html", "gzip")); res.status != 200 || res.header["content-encoding"] != "" {
			t.Errorf("HEAD: %d, Content-Encoding %q (HEAD is answered uncompressed)", res.status, res.header["content-encoding"])
		}
	})
}
