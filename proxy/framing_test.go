//go:build linux

package proxy_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nproxy/nproxy/internal/servertest"
)

// framingBackend answers the paths the framing tests use.
func framingBackend(t *testing.T) *httpBackend {
	return startBackend(t, "f", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/echo":
			body, _ := io.ReadAll(r.Body)
			w.Header().Set("X-Request-Chunked", fmt.Sprint(len(r.TransferEncoding) > 0))
			w.Header().Set("X-Request-Trailer", r.Trailer.Get("X-Sum"))
			w.Write(body)
		case "/chunked":
			// Flushed pieces without Content-Length: chunked, with a
			// trailer announced up front.
			w.Header().Set("Trailer", "X-Sum")
			for i := 0; i < 5; i++ {
				fmt.Fprintf(w, "piece %d;", i)
				w.(http.Flusher).Flush()
			}
			w.Header().Set("X-Sum", "5 pieces")
		case "/204":
			w.WriteHeader(204)
		case "/304":
			w.WriteHeader(304)
		default:
			w.Write([]byte("hello"))
		}
	})
}

func TestChunked(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		b := framingBackend(t)
		ps := startProxy(t, backend, "proxy_pass = "+b.addr+"\n")
		cl := ps.client(t)

		// A chunked request body is decoded and forwarded chunked, framed
		// by the proxy; its trailer fields are dropped, as nginx drops
		// them (finding 13: a trailer must not smuggle framing fields).
		res := cl.do("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n" +
			"5\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 11\r\n\r\n")
		if res.status != 200 || string(res.body) != "hello world" || res.header["x-request-chunked"] != "true" {
			t.Fatalf("chunked request: %d %q %v", res.status, res.body, res.header)
		}
		if res.header["x-request-trailer"] != "" {
			t.Errorf("request trailer: %q, want it dropped", res.header["x-request-trailer"])
		}

		// A chunked response reaches an HTTP/1.1 client chunked, with
		// its trailer.
		res = cl.do(get("/chunked"))
		want := "piece 0;piece 1;piece 2;piece 3;piece 4;"
		if res.status != 200 || !res.chunked || string(res.body) != want {
			t.Fatalf("chunked response: %d chunked=%v %q", res.status, res.chunked, res.body)
		}
		if res.trailer["x-sum"] != "5 pieces" || res.header["trailer"] != "X-Sum" {
			t.Errorf("trailer %v, Trailer header %q", res.trailer, res.header["trailer"])
		}
		// The connection is still good.
		if res := cl.do(get("/plain")); res.status != 200 || string(res.body) != "hello" {
			t.Fatalf("after chunked: %d %q", res.status, res.body)
		}

		// HTTP/1.0: de-chunked, delimited by close, trailer dropped.
		c := ps.dial(t)
		io.WriteString(c, "GET /chunked HTTP/1.0\r\n\r\n")
		raw, err := io.ReadAll(c)
		if err != nil {
			t.Fatal(err)
		}
		head, body, _ := strings.Cut(string(raw), "\r\n\r\n")
		lh := strings.ToLower(head)
		if !strings.HasPrefix(head, "HTTP/1.1 200") || body != want || strings.Contains(lh, "transfer-encoding") ||
			strings.Contains(lh, "content-length") || strings.Contains(lh, "trailer") || !strings.Contains(lh, "connection: close") {
			t.Fatalf("HTTP/1.0 response:\n%s", raw)
		}
	})
}

func TestNoBodyResponses(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		b := framingBackend(t)
		ps := startProxy(t, backend, "proxy_pass = "+b.addr+"\n")
		cl := ps.client(t)
		for i := 0; i < 2; i++ {
			res := cl.do("HEAD /plain HTTP/1.1\r\nHost: x\r\n\r\n")
			if res.status != 200 || res.header["content-length"] != "5" {
				t.Fatalf("HEAD: %d %v", res.status, res.header)
			}
			if res := cl.do(get("/204")); res.status != 204 {
				t.Fatalf("204: %d", res.status)
			}
			if res := cl.do(get("/304")); res.status != 304 {
				t.Fatalf("304: %d", res.status)
			}
			// Nothing stray between responses: the next one parses.
			if res := cl.do(get("/plain")); res.status != 200 || string(res.body) != "hello" {
				t.Fatalf("after: %d %q", res.status, res.body)
			}
		}
	})
}

// TestExpectContinue has a backend answer 100 Continue before it reads the
// body; the client sends the body only after it sees the 100.
func TestExpectContinue(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		b := framingBackend(t) // net/http sends 100 when the handler reads
		ps := startProxy(t, backend, "proxy_pass = "+b.addr+"\n")
		cl := ps.client(t)
		for i := 0; i < 2; i++ {
			io.WriteString(cl.c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
			cl.c.SetReadDeadline(time.Now().Add(3 * time.Second))
			interim := readResponse(t, cl.r, false)
			if interim.status != 100 {
				t.Fatalf("first response %d, want 100", interim.status)
			}
			io.WriteString(cl.c, "hello")
			if res := readResponse(t, cl.r, false); res.status != 200 || string(res.body) != "hello" {
				t.Fatalf("final: %d %q", res.status, res.body)
			}
		}
	})
}

// TestSmuggling: a request with both Content-Length and Transfer-Encoding
// is refused and never reaches the backend; a backend response with both
// reaches the client with Transfer-Encoding only.
func TestSmuggling(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		b := framingBackend(t)
		ps := startProxy(t, backend, "proxy_pass = "+b.addr+"\n")
		for _, raw := range []string{
			"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
			"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n",
			"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nhello",
		} {
			if res := ps.roundTrip(t, raw); res.status != 400 {
				t.Errorf("status %d, want 400 for %q", res.status, raw)
			}
		}
		if n := b.hits.Load(); n != 0 {
			t.Errorf("backend saw %d requests, want 0", n)
		}
		addr := servertest.RawBackend(t, func(c net.Conn) {
			http.ReadRequest(bufio.NewReader(c))
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
		})
		ps2 := startProxy(t, backend, "proxy_pass = "+addr+"\n")
		c := ps2.client(t)
		res := c.do(get("/x"))
		if res.status != 200 || string(res.body) != "abc" || res.header["content-length"] != "" {
			t.Fatalf("CL+TE response: %d %q %v", res.status, res.body, res.header)
		}
	})
}

// TestForwardedHeaders checks what the backend receives.
func TestForwardedHeaders(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		got := make(chan http.Header, 4)
		b := startBackend(t, "h", func(w http.ResponseWriter, r *http.Request) {
			h := r.Header.Clone()
			h.Set("Host", r.Host)
			got <- h
			w.Header().Set("Connection", "X-Secret")
			w.Header().Set("X-Secret", "hop")
			w.Header().Set("Keep-Alive", "timeout=5")
			w.Write([]byte("ok"))
		})
		ps := startProxy(t, backend, "proxy_pass = "+b.addr+"\n")
		cl := ps.client(t)
		res := cl.do("GET /h HTTP/1.1\r\nHost: example.com\r\nConnection: keep-alive, X-Drop\r\nX-Drop: 1\r\n" +
			"Keep-Alive: timeout=9\r\nTE: trailers\r\nUpgrade: h2c\r\nProxy-Connection: keep-alive\r\n" +
			"X-Forwarded-For: 10.0.0.1\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: evil\r\nVia: 1.0 first\r\nX-Keep: yes\r\n\r\n")
		if res.status != 200 {
			t.Fatalf("status %d", res.status)
		}
		h := <-got
		for _, name := range []string{"X-Drop", "Keep-Alive", "Te", "Upgrade", "Proxy-Connection"} {
			if v := h.Get(name); v != "" {
				t.Errorf("%s forwarded: %q", name, v)
			}
		}
		want := map[string]string{
			"Host": "example.com", "X-Keep": "yes", "X-Forwarded-For": "10.0.0.1, 127.0.0.1",
			"X-Forwarded-Proto": "http", "X-Forwarded-Host": "example.com", "Via": "1.0 first, 1.1 nproxy",
		}
		for k, v := range want {
			if h.Get(k) != v {
				t.Errorf("%s: %q, want %q", k, h.Get(k), v)
			}
		}
		// Response hop-by-hop fields are dropped too.
		if res.header["x-secret"] != "" || res.header["keep-alive"] != "" {
			t.Errorf("response hop-by-hop forwarded: %v", res.header)
		}
		// Without X-Forwarded-For, it is the client's address alone.
		cl.do(get("/h"))
		if h := <-got; h.Get("X-Forwarded-For") != "127.0.0.1" || h.Get("Via") != "1.1 nproxy" {
			t.Errorf("plain: XFF %q Via %q", h.Get("X-Forwarded-For"), h.Get("Via"))
		}
		// HTTP/1.0 without Host: the backend still gets one.
		c := ps.dial(t)
		io.WriteString(c, "GET /h HTTP/1.0\r\n\r\n")
		readResponse(t, bufio.NewReader(c), false)
		if h := <-got; h.Get("Host") != b.addr {
			t.Errorf("1.0 Host %q, want %q", h.Get("Host"), b.addr)
		}
	})
}

// TestKeepAliveMixed runs many requests on one client connection, proxied
// and static alternately (proxy_prefix = /api/), pipelined too.
func TestKeepAliveMixed(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		b := startBackend(t, "api", func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			w.Write([]byte("api:" + r.URL.Path))
		})
		ps := startProxy(t, backend, "proxy_pass = "+b.addr+"\nproxy_prefix = /api/\nstatic_root = STATIC\n")
		cl := ps.client(t)
		for i := 0; i < 100; i++ {
			var res *response
			switch i % 3 {
			case 0:
				res = cl.do(get(fmt.Sprintf("/api/%d", i)))
				if string(res.body) != fmt.Sprintf("api:/api/%d", i) {
					t.Fatalf("request %d: %q", i, res.body)
				}
			case 1:
				res = cl.do(fmt.Sprintf("POST /api/p%d HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", i))
			case 2:
				res = cl.do(get("/index.html"))
				if string(res.body) != "static home\n" {
					t.Fatalf("static %d: %q", i, res.body)
				}
			}
			if res.status != 200 || res.header["connection"] == "close" {
				t.Fatalf("request %d: %d %v", i, res.status, res.header)
			}
		}
		// Pipelined: proxied, static, proxied in one write.
		io.WriteString(cl.c, get("/api/a")+get("/index.html")+get("/api/b"))
		for i, want := range []string{"api:/api/a", "static home\n", "api:/api/b"} {
			if res := readResponse(t, cl.r, false); res.status != 200 || string(res.body) != want {
				t.Fatalf("pipelined %d: %d %q", i, res.status, res.body)
			}
		}
		if n := b.hits.Load(); n != 69 {
			t.Errorf("backend saw %d requests, want 69", n)
		}
	})
}

var _ = bytes.Equal
