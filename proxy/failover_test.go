//go:build linux

package proxy_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nproxy/nproxy/internal/servertest"
	"github.com/nproxy/nproxy/proxy"
)

// TestBackendKilled stops one of three backends mid-test: idempotent
// requests see no error (retried on the next backend), and the backend
// rejoins once it is back, found by the active health check or, without
// one, after the fail timeout.
func TestBackendKilled(t *testing.T) {
	restore := proxy.SetFailTimeout(300 * time.Millisecond)
	t.Cleanup(restore)
	for _, mode := range []string{"health_check", "passive"} {
		t.Run(mode, func(t *testing.T) {
			forEachBackend(t, func(t *testing.T, backend string) {
				var bs [3]*httpBackend
				for i := range bs {
					bs[i] = startBackend(t, fmt.Sprint("b", i), nil)
				}
				extra := fmt.Sprintf("proxy_pass = %s, %s, %s\nproxy_connect_timeout = 1s\n", bs[0].addr, bs[1].addr, bs[2].addr)
				if mode == "health_check" {
					extra += "health_check = /health 200ms\n"
				}
				ps := startProxy(t, backend, extra)
				cl := ps.client(t)
				for i := 0; i < 9; i++ {
					if res := cl.do(get("/x")); res.status != 200 {
						t.Fatalf("before: request %d: %d", i, res.status)
					}
				}
				bs[1].stop()
				before := bs[1].hits.Load()
				for i := 0; i < 30; i++ {
					res := cl.do(get("/x"))
					if res.status != 200 || res.header["x-backend"] == "b1" {
						t.Fatalf("after kill: request %d: %d from %q", i, res.status, res.header["x-backend"])
					}
				}
				// A POST with a body on a new connection fails over too
				// (the connect is refused: nothing was sent).
				for i := 0; i < 3; i++ {
					res := cl.do("POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
					if res.status != 200 {
						t.Fatalf("post after kill: %d", res.status)
					}
				}
				bs[1].restart(t)
				waitFor(t, 5*time.Second, "b1 to rejoin", func() bool {
					res := cl.do(get("/x"))
					if res.status != 200 {
						t.Fatalf("while rejoining: %d", res.status)
					}
					return bs[1].hits.Load() > before
				})
			})
		})
	}
}

// refusedAddr returns a loopback address that refuses connections for
// the whole test (see servertest.RefusedAddr: a closed listener's port
// can go to the next listener bound, the proxy's own included).
func refusedAddr(t *testing.T) string { return servertest.RefusedAddr(t) }

func TestAllDown(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		ps := startProxy(t, backend, fmt.Sprintf("proxy_pass = %s, %s\n", refusedAddr(t), refusedAddr(t)))
		cl := ps.client(t)
		for i := 0; i < 5; i++ {
			start := time.Now()
			res := cl.do(get("/x"))
			if el := time.Since(start); res.status != 502 || el > 500*time.Millisecond {
				t.Fatalf("request %d: status %d after %v, want 502 at once", i, res.status, el)
			}
		}
		// Every backend down at once and back (a restart): the request
		// that finds none live gets 502 and makes them live again, so the
		// next one is served, long before the 10 s fail timeout (nginx's
		// quick recovery).
		var bs [2]*httpBackend
		for i := range bs {
			bs[i] = startBackend(t, fmt.Sprint("b", i), nil)
			bs[i].stop()
		}
		psr := startProxy(t, backend, fmt.Sprintf("proxy_pass = %s, %s\n", bs[0].addr, bs[1].addr))
		clr := psr.client(t)
		for i := 0; i < 2; i++ { // both refused, then none live
			if res := clr.do(get("/x")); res.status != 502 {
				t.Fatalf("recovery: request %d with both stopped: %d", i, res.status)
			}
		}
		bs[0].restart(t)
		bs[1].restart(t)
		if res := clr.do(get("/x")); res.status != 200 {
			t.Fatalf("recovery: first request after the restart: %d, want 200 (quick recovery)", res.status)
		}
		// A lone backend is never marked down (nginx): each request tries.
		ps1 := startProxy(t, backend, "proxy_pass = "+refusedAddr(t)+"\n")
		cl1 := ps1.client(t)
		for i := 0; i < 3; i++ {
			if res := cl1.do(get("/x")); res.status != 502 {
				t.Fatalf("single: %d", res.status)
			}
		}
	})
}

// blackhole returns the address of a listener whose accept queue is full
// and never drained: a connect to it gets no answer (the SYN is dropped).
func blackhole(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	// Shrink the backlog to nothing, then fill it.
	raw, _ := ln.(*net.TCPListener).SyscallConn()
	raw.Control(func(fd uintptr) { listenBacklog(int(fd), 0) })
	addr := ln.Addr().String()
	for i := 0; i < 8; i++ {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err != nil {
			break
		}
		t.Cleanup(func() { c.Close() })
	}
	return addr
}

func TestTimeouts(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		t.Run("connect", func(t *testing.T) {
			ps := startProxy(t, backend, "proxy_pass = "+blackhole(t)+"\nproxy_connect_timeout = 300ms\n")
			start := time.Now()
			res := ps.roundTrip(t, get("/x"))
			el := time.Since(start)
			if res.status != 504 || el < 250*time.Millisecond || el > 2*time.Second {
				t.Fatalf("status %d after %v, want 504 after the connect timeout", res.status, el)
			}
		})
		t.Run("silent backend", func(t *testing.T) {
			be := servertest.RawBackend(t, func(c net.Conn) { io.Copy(io.Discard, c) }) // reads, never answers
			ps := startProxy(t, backend, "proxy_pass = "+be+"\nproxy_timeout = 300ms\n")
			cl := ps.client(t)
			for i := 0; i < 2; i++ {
				start := time.Now()
				res := cl.do(get("/x"))
				el := time.Since(start)
				if res.status != 504 || el < 250*time.Millisecond || el > 2*time.Second {
					t.Fatalf("status %d after %v, want 504 after proxy_timeout", res.status, el)
				}
			}
		})
	})
}

// TestStalePooledConn has backends close idle keep-alive connections
// behind the proxy's back: the next request succeeds on a new connection.
func TestStalePooledConn(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		t.Run("idle timeout", func(t *testing.T) {
			// The POST follows its GET at once, so it finds the pooled
			// connection alive unless the machine stalls for the whole
			// idle timeout (a POST is never replayed): keep it long
			// enough for a loaded CI machine.
			b := startBackend(t, "b", nil, func(s *http.Server) { s.IdleTimeout = 300 * time.Millisecond })
			ps := startProxy(t, backend, "proxy_pass = "+b.addr+"\n")
			cl := ps.client(t)
			for i := 0; i < 4; i++ {
				if res := cl.do(get("/x")); res.status != 200 {
					t.Fatalf("get %d: %d", i, res.status)
				}
				if res := cl.do("POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"); res.status != 200 {
					t.Fatalf("post %d: %d", i, res.status)
				}
				time.Sleep(450 * time.Millisecond) // let the backend close its idle connection
			}
		})
		t.Run("close after each response", func(t *testing.T) {
			// A raw backend that answers one request per connection and
			// closes without saying Connection: close. closed says when
			// a connection that answered is closed.
			closed := make(chan struct{}, 64)
			be := servertest.RawBackend(t, func(c net.Conn) {
				req, err := http.ReadRequest(bufio.NewReader(c))
				if err != nil {
					return
				}
				io.Copy(io.Discard, req.Body)
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
				c.Close()
				closed <- struct{}{}
			})
			ps := startProxy(t, backend, "proxy_pass = "+be+"\n")
			cl := ps.client(t)
			for i := 0; i < 20; i++ {
				raw := get("/x")
				if i%2 == 1 {
					// A POST is never sent twice, so it cannot win a
					// race with a FIN still on its way (nor can nginx):
					// wait until the backend has closed the pooled
					// connection, which the proxy must then notice
					// before sending. A GET races the close and is
					// retried on a new connection when it loses.
					select {
					case <-closed:
					case <-time.After(5 * time.Second):
						t.Fatalf("request %d: the backend did not close the previous connection", i)
					}
				}
				if res := cl.do(raw); res.status != 200 || string(res.body) != "ok" {
					t.Fatalf("request %d: %d %q", i, res.status, res.body)
				}
				if i%2 == 1 {
					<-closed // the POST's own connection: one answer, one close
				}
			}
			// Back to back on several connections, racing the closes.
			for i := 0; i < 50; i++ {
				c := ps.client(t)
				if res := c.do(get("/y")); res.status != 200 {
					t.Fatalf("burst %d: %d", i, res.status)
				}
				c.c.Close()
			}
		})
	})
}

var _ = strings.Contains
