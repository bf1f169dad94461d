//go:build linux

package proxy_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// TestProxyKeepalive checks proxy_keepalive against a running worker on
// both backends: 0 closes every upstream connection after its response;
// 1 keeps one idle connection per backend, so of two requests served
// side by side, only one connection is kept for the next pair.
func TestProxyKeepalive(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		t.Run("off", func(t *testing.T) {
			var conns atomic.Int64
			a := startBackend(t, "a", nil, countConns(&conns))
			ps := startProxy(t, backend, "proxy_pass = "+a.addr+"\nproxy_keepalive = 0\n")
			cl := ps.client(t)
			for i := 0; i < 3; i++ {
				if res := cl.do(get("/x")); res.status != 200 {
					t.Fatalf("request %d: status %d", i, res.status)
				}
			}
			if n := conns.Load(); n != 3 {
				t.Errorf("backend saw %d connections for 3 requests, want 3 (proxy_keepalive = 0)", n)
			}
		})
		t.Run("one", func(t *testing.T) {
			var conns, arrived atomic.Int64
			pair := make(chan struct{})
			// The backend holds each odd request until the even one
			// arrives, so both of a pair are in flight at once and need
			// two upstream connections.
			a := startBackend(t, "a", func(w http.ResponseWriter, r *http.Request) {
				if arrived.Add(1)%2 == 1 {
					select {
					case <-pair:
					case <-time.After(10 * time.Second):
					}
				} else {
					select {
					case pair <- struct{}{}:
					case <-time.After(10 * time.Second):
					}
				}
				io.WriteString(w, "a")
			}, countConns(&conns))
			ps := startProxy(t, backend, "proxy_pass = web\n[upstream web]\nserver = "+a.addr+"\nproxy_keepalive = 1\n")
			c1, c2 := ps.dial(t), ps.dial(t)
			r1, r2 := bufio.NewReader(c1), bufio.NewReader(c2)
			for round := 0; round < 2; round++ {
				for _, c := range []net.Conn{c1, c2} {
					if _, err := io.WriteString(c, get("/x")); err != nil {
						t.Fatal(err)
					}
				}
				for _, r := range []*bufio.Reader{r1, r2} {
					if res := readResponse(t, r, false); res.status != 200 || string(res.body) != "a" {
						t.Fatalf("round %d: status %d body %q", round, res.status, res.body)
					}
				}
			}
			// Round one opens two connections and keeps one; round two
			// reuses it and opens one more.
			if n := conns.Load(); n != 3 {
				t.Errorf("backend saw %d connections for two pairs, want 3 (one kept idle between them)", n)
			}
		})
	})
}

// countConns is a backend option counting the connections it accepts.
func countConns(n *atomic.Int64) func(*http.Server) {
	return func(srv *http.Server) {
		srv.ConnState = func(_ net.Conn, st http.ConnState) {
			if st == http.StateNew {
				n.Add(1)
			}
		}
	}
}
