//go:build linux

package proxy_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nproxy/nproxy/internal/servertest"
	"github.com/nproxy/nproxy/reactor"
)

// Tests of issue 9's findings about the session: each named after the
// finding it reproduces, each on both reactor backends.

// TestFinding4StalledUploadIs408 has two clients send part of a body and
// stall. body_timeout ends each with 408, the backends are not blamed
// (proxy_timeout, shorter, does not fire while the backend waits for the
// client), and the next requests are served by both backends.
func TestFinding4StalledUploadIs408(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		a := startBackend(t, "a", nil)
		b := startBackend(t, "b", nil)
		ps := startProxy(t, backend, "proxy_pass = "+a.addr+", "+b.addr+"\nbody_timeout = 400ms\nproxy_timeout = 150ms\n")
		clients := make([]*client, 2)
		for i := range clients {
			clients[i] = ps.client(t)
			io.WriteString(clients[i].c, "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\npartial")
		}
		for i, cl := range clients {
			start := time.Now()
			res := readResponse(t, cl.r, false)
			if res.status != 408 {
				t.Fatalf("client %d: status %d, want 408", i, res.status)
			}
			if el := time.Since(start); el > 3*time.Second {
				t.Fatalf("client %d: 408 after %v", i, el)
			}
			if _, err := cl.r.ReadByte(); err == nil {
				t.Errorf("client %d: connection still open after the 408", i)
			}
		}
		seen := map[string]bool{}
		for i := 0; i < 4; i++ {
			res := ps.roundTrip(t, get("/after"))
			if res.status != 200 {
				t.Fatalf("request %d after the stalls: %d, want 200 (a backend was blamed for a slow client)", i, res.status)
			}
			seen[res.header["x-backend"]] = true
		}
		if !seen["a"] || !seen["b"] {
			t.Errorf("backends serving after the stalls: %v, want both", seen)
		}
	})
}

// TestFinding5LargeHeadsKeepBuffers proxies requests whose upstream head
// is larger than the largest pooled buffer (the Host header goes out twice)
// and checks that the pooled buffers are all given back.
func TestFinding5LargeHeadsKeepBuffers(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		b := startBackend(t, "b", nil)
		ps := startProxy(t, backend, "proxy_pass = "+b.addr+"\n")
		// A client head just under 64 KiB whose Host is near the 8 KiB
		// line limit: the upstream head (Host again in X-Forwarded-Host)
		// is larger than a pooled buffer.
		host := strings.Repeat("h", 8000)
		var hdr strings.Builder
		for i := 0; i < 7; i++ {
			hdr.WriteString("X-Pad-" + string(rune('a'+i)) + ": " + strings.Repeat("p", 7600) + "\r\n")
		}
		raw := "GET /big HTTP/1.1\r\nHost: " + host + "\r\n" + hdr.String() + "\r\n"
		cl := ps.client(t)
		round := func() {
			for i := 0; i < 100; i++ {
				if res := cl.do(raw); res.status != 200 {
					t.Fatalf("request %d: status %d", i, res.status)
				}
			}
		}
		round()
		before := mappedBufferBytes()
		for i := 0; i < 3; i++ {
			round()
		}
		if after := mappedBufferBytes(); after > before {
			t.Errorf("off-heap buffers grew from %d to %d bytes over 300 requests", before, after)
		}
	})
}

// TestFinding8PostNotReplayed: a backend that reads a request and closes
// without answering gets a POST once; it is never replayed on the next
// backend (nginx's rule for non-idempotent methods), while a GET is.
func TestFinding8PostNotReplayed(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		var swallowed atomic.Int64
		closer := servertest.RawBackend(t, func(c net.Conn) {
			r := bufio.NewReader(c)
			req, err := http.ReadRequest(r)
			if err != nil {
				return
			}
			io.Copy(io.Discard, req.Body)
			swallowed.Add(1)
		})
		good := startBackend(t, "good", nil)
		ps := startProxy(t, backend, "proxy_pass = "+closer+", "+good.addr+"\n")
		for i := 0; i < 4; i++ {
			before := good.hits.Load()
			res := ps.roundTrip(t, "POST /pay HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
			if res.status == 502 {
				if n := good.hits.Load(); n != before {
					t.Fatalf("POST answered 502 yet also reached the second backend")
				}
				return // the POST went to the closer first and was not replayed
			}
			if res.status != 200 {
				t.Fatalf("POST: status %d", res.status)
			}
		}
		if swallowed.Load() > 0 {
			t.Fatalf("the closing backend took a POST, yet it was answered 200: replayed")
		}
		t.Fatal("round-robin never sent a POST to the closing backend")
	})
	forEachBackend(t, func(t *testing.T, backend string) {
		closer := servertest.RawBackend(t, func(c net.Conn) {
			r := bufio.NewReader(c)
			if req, err := http.ReadRequest(r); err == nil {
				io.Copy(io.Discard, req.Body)
			}
		})
		good := startBackend(t, "good", nil)
		ps := startProxy(t, backend, "proxy_pass = "+closer+", "+good.addr+"\n")
		for i := 0; i < 4; i++ {
			if res := ps.roundTrip(t, get("/idempotent")); res.status != 200 {
				t.Fatalf("GET %d: status %d, want 200 (replayed on the next backend)", i, res.status)
			}
		}
	})
}

// TestFinding12Unrequested101: a 101 answering a request that did not ask
// to upgrade is a 502, and that upstream connection never carries another
// request.
func TestFinding12Unrequested101(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		var reused atomic.Int64
		addr := servertest.RawBackend(t, func(c net.Conn) {
			r := bufio.NewReader(c)
			switched := false
			for {
				req, err := http.ReadRequest(r)
				if err != nil {
					return
				}
				io.Copy(io.Discard, req.Body)
				if switched {
					reused.Add(1)
				}
				if req.URL.Path == "/switch" {
					io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: evil\r\n\r\n")
					switched = true
					continue
				}
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			}
		})
		ps := startProxy(t, backend, "proxy_pass = "+addr+"\n")
		if res := ps.roundTrip(t, get("/switch")); res.status != 502 {
			t.Fatalf("unrequested 101: status %d, want 502", res.status)
		}
		for i := 0; i < 5; i++ {
			if res := ps.roundTrip(t, get("/next")); res.status != 200 {
				t.Fatalf("request %d after the 101: status %d", i, res.status)
			}
		}
		if n := reused.Load(); n != 0 {
			t.Fatalf("%d requests went down the connection that switched protocols", n)
		}
	})
}

// TestFinding13ChunkedRequestErrors: a malformed chunked body of a proxied
// request is answered 400 and one over max_body_size 413 (finding 17),
// each with the connection closed and the backend not blamed.
func TestFinding13ChunkedRequestErrors(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		b := startBackend(t, "b", nil)
		ps := startProxy(t, backend, "proxy_pass = "+b.addr+"\nmax_body_size = 1k\n")
		cases := []struct {
			name string
			raw  string
			want int
		}{
			{name: "bad size", raw: "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", want: 400},
			{name: "missing CRLF after data", raw: "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n", want: 400},
			{name: "over max_body_size", raw: "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n" + strings.Repeat("a", 0x800) + "\r\n0\r\n\r\n", want: 413},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				c := ps.dial(t)
				io.WriteString(c, tc.raw)
				r := bufio.NewReader(c)
				res := readResponse(t, r, false)
				if res.status != tc.want {
					t.Fatalf("status %d, want %d", res.status, tc.want)
				}
				if _, err := r.ReadByte(); err == nil {
					t.Error("connection still open after the error")
				}
			})
		}
		if res := ps.roundTrip(t, get("/ok")); res.status != 200 {
			t.Fatalf("after the errors: status %d", res.status)
		}
	})
}

// mappedBufferBytes is the off-heap buffer memory the worker's pools have
// mapped.
func mappedBufferBytes() int64 { return reactor.MappedBufferBytes() }
