//go:build linux

package proxy_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nproxy/nproxy/proxy"
)

// gunzip decompresses b.
func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("gzip header: %v", err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	return out
}

// textBody is n bytes of text that compresses (words from a small
// vocabulary in a random order).
func textBody(n int, seed int64) []byte {
	words := []string{"proxy ", "backend ", "gzip ", "stream ", "chunk ", "worker ", "loop ", "nginx\n"}
	r := rand.New(rand.NewSource(seed))
	var b bytes.Buffer
	for b.Len() < n {
		b.WriteString(words[r.Intn(len(words))])
	}
	return b.Bytes()[:n]
}

// TestProxyGzip checks gzip = on for proxied responses on both backends:
// what is compressed (a text body with Content-Length, a chunked one, a
// 2 MiB one, a close-delimited one, one to an HTTP/1.0 client) decompresses to the backend's
// bytes, goes chunked (close-delimited to HTTP/1.0) with Vary, a weak
// ETag and no Content-Length, and leaves the connection reusable;
// what is not (no Accept-Encoding, already encoded, a type not listed,
// a range, below gzip_min_length) goes through unchanged; and a large
// body of a type not compressed keeps its splice path.
func TestProxyGzip(t *testing.T) {
	var splices atomic.Int64
	defer proxy.OnSplice(func() { splices.Add(1) })()
	small := textBody(100<<10, 1)
	big := textBody(2<<20, 2)
	image := bytes.Repeat([]byte{0x89, 'P', 'N', 'G'}, 128<<10) // 512 KiB
	forEachBackend(t, func(t *testing.T, backend string) {
		splices.Store(0)
		be := startBackend(t, "a", func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			switch r.URL.Path {
			case "/small":
				h.Set("Content-Type", "text/html; charset=utf-8")
				h.Set("ETag", `"v1"`)
				h.Set("Content-Length", strconv.Itoa(len(small)))
				w.Write(small)
			case "/chunked":
				h.Set("Content-Type", "application/json")
				for i := 0; i < len(small); i += 30 << 10 {
					w.Write(small[i:min(i+30<<10, len(small))])
					w.(http.Flusher).Flush()
				}
			case "/big":
				h.Set("Content-Type", "text/plain")
				h.Set("Content-Length", strconv.Itoa(len(big)))
				w.Write(big)
			case "/encoded":
				h.Set("Content-Type", "text/html")
				h.Set("Content-Encoding", "br")
				w.Write(small[:1000])
			case "/image":
				h.Set("Content-Type", "image/png")
				h.Set("Content-Length", strconv.Itoa(len(image)))
				w.Write(image)
			case "/range":
				h.Set("Content-Type", "text/html")
				h.Set("Content-Range", fmt.Sprintf("bytes 0-999/%d", len(small)))
				w.WriteHeader(206)
				w.Write(small[:1000])
			case "/tiny":
				h.Set("Content-Type", "text/html")
				w.Write(small[:50])
			case "/closed": // close-delimited
				c, bw, err := w.(http.Hijacker).Hijack()
				if err != nil {
					return
				}
				bw.WriteString("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n")
				bw.Write(small)
				bw.Flush()
				c.Close()
			case "/trailers":
				h.Set("Content-Type", "text/plain")
				h.Set("Trailer", "Grpc-Status")
				w.Write(small[:1000])
				h.Set("Grpc-Status", "0")
			}
		})
		ps := startProxy(t, backend, "proxy_pass = "+be.addr+"\ngzip = on\ngzip_min_length = 100\n")
		gz := "Accept-Encoding: gzip, br\r\n"
		tests := []struct {
			name, path, accept string
			gzip               bool
			want               []byte
			status             int
			trailer            string // Grpc-Status's value, when the backend sends it
		}{
			{name: "length", path: "/small", accept: gz, gzip: true, want: small},
			{name: "chunked", path: "/chunked", accept: gz, gzip: true, want: small},
			{name: "2 MiB", path: "/big", accept: gz, gzip: true, want: big},
			{name: "close-delimited", path: "/closed", accept: gz, gzip: true, want: small},
			{name: "no Accept-Encoding", path: "/small", want: small},
			{name: "gzip;q=0", path: "/small", accept: "Accept-Encoding: gzip;q=0\r\n", want: small},
			{name: "already encoded", path: "/encoded", accept: gz, want: small[:1000]},
			{name: "type not listed", path: "/image", accept: gz, want: image},
			{name: "range", path: "/range", accept: gz, want: small[:1000], status: 206},
			{name: "below gzip_min_length", path: "/tiny", accept: gz, want: small[:50]},
			{name: "trailers announced", path: "/trailers", accept: gz, want: small[:1000], trailer: "0"},
		}
		cl := ps.client(t)
		for _, tt := range tests {
			res := cl.do("GET " + tt.path + " HTTP/1.1\r\nHost: t\r\n" + tt.accept + "\r\n")
			if want := max(tt.status, 200); res.status != want {
				t.Fatalf("%s: status %d, want %d", tt.name, res.status, want)
			}
			body := res.body
			if tt.gzip {
				if res.header["content-encoding"] != "gzip" || !res.chunked || res.header["content-length"] != "" ||
					!strings.Contains(res.header["vary"], "Accept-Encoding") || tt.path == "/small" && res.header["etag"] != `W/"v1"` ||
					res.header["connection"] == "close" {
					t.Fatalf("%s: head %v, want gzip, chunked, Vary, a weak ETag, no Content-Length, the connection kept", tt.name, res.header)
				}
				body = gunzip(t, body)
			} else if res.header["content-encoding"] == "gzip" {
				t.Fatalf("%s: compressed: %v", tt.name, res.header)
			}
			if !bytes.Equal(body, tt.want) {
				t.Fatalf("%s: body of %d bytes differs from the backend's %d", tt.name, len(body), len(tt.want))
			}
			if got := res.trailer["grpc-status"]; got != tt.trailer {
				t.Fatalf("%s: trailer Grpc-Status %q, want %q", tt.name, got, tt.trailer)
			}
		}
		if n := splices.Load(); n == 0 {
			t.Errorf("the 512 KiB image/png was not spliced")
		}

		// HEAD: the head the GET gets, without a body; the connection
		// goes on (the next request reads its own response).
		res := cl.do("HEAD /small HTTP/1.1\r\nHost: t\r\n" + gz + "\r\n")
		if h := res.header; res.status != 200 || h["content-encoding"] != "gzip" || h["content-length"] != "" ||
			h["transfer-encoding"] != "" || !strings.Contains(h["vary"], "Accept-Encoding") || h["etag"] != `W/"v1"` || h["connection"] == "close" {
			t.Fatalf("HEAD with gzip: %d %v, want the GET's head: gzip, Vary, a weak ETag, no Content-Length", res.status, h)
		}
		res = cl.do("HEAD /small HTTP/1.1\r\nHost: t\r\n\r\n")
		if h := res.header; h["content-encoding"] != "" || h["content-length"] != strconv.Itoa(len(small)) || h["etag"] != `"v1"` {
			t.Fatalf("HEAD without Accept-Encoding: %v, want the backend's head", h)
		}
		res = cl.do("HEAD /tiny HTTP/1.1\r\nHost: t\r\n" + gz + "\r\n")
		if h := res.header; h["content-encoding"] != "" {
			t.Fatalf("HEAD below gzip_min_length: %v, want no gzip", h)
		}
		if res := cl.do("GET /small HTTP/1.1\r\nHost: t\r\n" + gz + "\r\n"); !bytes.Equal(gunzip(t, res.body), small) {
			t.Fatalf("GET after the HEADs: body differs")
		}

		// HTTP/1.0: the compressed body ends with the connection.
		c := ps.dial(t)
		io.WriteString(c, "GET /small HTTP/1.0\r\nAccept-Encoding: gzip\r\n\r\n")
		res = readResponse(t, bufio.NewReader(c), false)
		if res.header["content-encoding"] != "gzip" || res.chunked || !bytes.Equal(gunzip(t, res.body), small) {
			t.Errorf("HTTP/1.0: %v, chunked %v", res.header, res.chunked)
		}
	})
}

// TestProxyGzipStreams checks that a compressed response streams: the
// client decompresses the first part of the body while the backend
// still holds the rest back.
func TestProxyGzipStreams(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		release := make(chan struct{})
		first, rest := textBody(20<<10, 3), textBody(20<<10, 4)
		be := startBackend(t, "a", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Write(first)
			w.(http.Flusher).Flush()
			select {
			case <-release:
			case <-time.After(10 * time.Second):
			}
			w.Write(rest)
		})
		ps := startProxy(t, backend, "proxy_pass = "+be.addr+"\ngzip = on\n")
		tr := &http.Transport{DisableCompression: true}
		defer tr.CloseIdleConnections()
		req, _ := http.NewRequest("GET", "http://"+ps.addr+"/", nil)
		req.Header.Set("Accept-Encoding", "gzip")
		resp, err := (&http.Client{Transport: tr, Timeout: 20 * time.Second}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.Header.Get("Content-Encoding") != "gzip" {
			t.Fatalf("not compressed: %v", resp.Header)
		}
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			close(release)
			t.Fatal(err)
		}
		got := make([]byte, len(first))
		if _, err := io.ReadFull(zr, got); err != nil || !bytes.Equal(got, first) {
			close(release)
			t.Fatalf("first part before the backend sent the rest: %v", err)
		}
		close(release)
		tail, err := io.ReadAll(zr)
		if err != nil || !bytes.Equal(tail, rest) {
			t.Fatalf("rest: %d bytes, %v", len(tail), err)
		}
	})
}
