//go:build linux

package server_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	nethttp "net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// bodyBackend is an upstream that reads each request's body whole and
// records it: the bodies of POSTs that arrived complete, and how many
// POSTs broke off mid-body.
type bodyBackend struct {
	addr string

	mu      sync.Mutex
	bodies  []string // complete POST bodies, in arrival order
	partial int      // POSTs whose body ended early
}

func startBodyBackend(t *testing.T) *bodyBackend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &bodyBackend{addr: ln.Addr().String()}
	srv := &nethttp.Server{Handler: nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		body, err := io.ReadAll(r.Body)
		if r.Method == "POST" {
			b.mu.Lock()
			if err != nil {
				b.partial++
			} else {
				b.bodies = append(b.bodies, string(body))
			}
			b.mu.Unlock()
		}
		fmt.Fprintf(w, "%s %s %d", r.Method, r.URL.Path, len(body))
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return b
}

func (b *bodyBackend) complete() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.bodies...)
}

// TestPipelinedTakeoverHalfClose: a proxied POST whose body the client
// cuts short by half-closing (shutdown(SHUT_WR) after 100 of 1000 bytes)
// ends at once, pipelined behind another proxied request or alone, on
// both backends: the client's EOF reaches the proxy, which aborts the
// upstream exchange, and the client connection closes without waiting
// for body_timeout (60 s here; the close must come within 10 s). The
// upstream connection that carried the partial body is not reused: a
// complete POST sent next arrives alone, with its own body.
//
// On epoll the pipelined POST used to keep the connection open until
// body_timeout: its takeover started from the bytes the conn held, with
// receiving stopped by the first request's takeover, and nothing started
// it again, so the EOF was never read.
func TestPipelinedTakeoverHalfClose(t *testing.T) {
	tests := []struct {
		name      string
		pipelined bool // a GET goes first in the same write
	}{
		{name: "alone", pipelined: false},
		{name: "pipelined", pipelined: true},
	}
	forEachBackend(t, func(t *testing.T, backend string) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				up := startBodyBackend(t)
				ts := startServer(t, backend, "body_timeout = 60s\nproxy_pass = "+up.addr+"\n")
				c := ts.dial(t)
				raw := ""
				if tt.pipelined {
					raw = get("/first")
				}
				raw += "POST /cut HTTP/1.1\r\nHost: test\r\nContent-Length: 1000\r\n\r\n" + strings.Repeat("x", 100)
				if _, err := io.WriteString(c, raw); err != nil {
					t.Fatal(err)
				}
				if err := c.(*net.TCPConn).CloseWrite(); err != nil {
					t.Fatal(err)
				}
				r := bufio.NewReader(c)
				if tt.pipelined {
					if res := readResponse(t, r, false); res.status != 200 || string(res.body) != "GET /first 0" {
						t.Fatalf("first: %d %q", res.status, res.body)
					}
				}
				// Nothing answers the cut POST: the connection ends
				// (EOF or reset) well before body_timeout.
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				rest, err := io.ReadAll(r)
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					t.Fatalf("connection still open 10s after the client's half-close (body_timeout is 60s)")
				}
				if len(rest) > 0 {
					t.Fatalf("after the cut POST: %q", rest)
				}

				// A complete POST now arrives on its own, whichever
				// upstream connection carries it.
				body := strings.Repeat("y", 1000)
				res := ts.roundTrip(t, "POST /whole HTTP/1.1\r\nHost: test\r\nContent-Length: 1000\r\n\r\n"+body)
				if res.status != 200 || string(res.body) != "POST /whole 1000" {
					t.Fatalf("next POST: %d %q", res.status, res.body)
				}
				if got := up.complete(); len(got) != 1 || got[0] != body {
					t.Fatalf("backend's complete POST bodies: %d (%.40q...), want the next POST's alone", len(got), got)
				}
			})
		}
	})
}
