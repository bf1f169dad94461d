//go:build linux

package proxy_test

import (
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nproxy/nproxy/proxy"
)

// TestUpstreamGroup checks [upstream NAME] and proxy_pass = NAME against
// a running worker on both backends: a [server] using a two-backend group
// spreads its requests over both, and a [location] using another group
// (defined after it) reaches only that group's backend.
func TestUpstreamGroup(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		a := startBackend(t, "a", nil)
		b := startBackend(t, "b", nil)
		ps := startProxy(t, backend, "proxy_pass = web\n"+
			"[location /solo/]\nproxy_pass = solo\n"+
			"[upstream web]\nserver = "+a.addr+"\nserver = "+b.addr+"\nbalance = round_robin\n"+
			"[upstream solo]\nserver = "+b.addr+"\n")
		seen := map[string]int{}
		for i := 0; i < 4; i++ {
			res := ps.roundTrip(t, get("/x"))
			if res.status != 200 {
				t.Fatalf("status %d", res.status)
			}
			seen[res.header["x-backend"]]++
		}
		if seen["a"] != 2 || seen["b"] != 2 {
			t.Errorf("group web: backends seen %v, want a and b twice each", seen)
		}
		for i := 0; i < 3; i++ {
			if res := ps.roundTrip(t, get("/solo/x")); res.status != 200 || res.header["x-backend"] != "b" {
				t.Fatalf("group solo: status %d from %q, want b", res.status, res.header["x-backend"])
			}
		}
	})
}

// TestUpstreamGroupSharedPool checks that the routes naming one
// [upstream] group share its keep-alive pool in a worker, as nginx's
// upstream{} blocks do: requests for two [location]s and the [server]
// itself, one after the other, reach the backend over one connection.
func TestUpstreamGroupSharedPool(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		var conns atomic.Int64
		a := startBackend(t, "a", nil, func(srv *http.Server) {
			srv.ConnState = func(_ net.Conn, st http.ConnState) {
				if st == http.StateNew {
					conns.Add(1)
				}
			}
		})
		ps := startProxy(t, backend, "proxy_pass = web\n"+
			"[location /one/]\nproxy_pass = web\nadd_header = X-Route one\n"+
			"[location /two/]\nproxy_pass = web\nproxy_timeout = 30s\n"+
			"[upstream web]\nserver = "+a.addr+"\n")
		cl := ps.client(t)
		for _, path := range []string{"/one/x", "/two/x", "/x", "/one/y", "/two/y"} {
			if res := cl.do(get(path)); res.status != 200 || string(res.body) != "a" {
				t.Fatalf("%s: status %d body %q", path, res.status, res.body)
			}
		}
		if n := a.hits.Load(); n != 5 {
			t.Errorf("backend saw %d requests, want 5", n)
		}
		if n := conns.Load(); n != 1 {
			t.Errorf("backend saw %d connections, want 1 shared by every route of the group", n)
		}
	})
}

// TestUpstreamGroupSharedHealth checks that the routes naming one group
// share its backends' health: a backend found down through one
// [location] is skipped by another until fail_timeout passes, even
// once it is back.
func TestUpstreamGroupSharedHealth(t *testing.T) {
	defer proxy.SetFailTimeout(time.Minute)()
	forEachBackend(t, func(t *testing.T, backend string) {
		a := startBackend(t, "a", nil)
		b := startBackend(t, "b", nil)
		ps := startProxy(t, backend, "[location /one/]\nproxy_pass = web\n"+
			"[location /two/]\nproxy_pass = web\n"+
			"[upstream web]\nserver = "+a.addr+"\nserver = "+b.addr+"\n")
		b.stop()
		// Round-robin over two backends: one of the two requests tries
		// b, is refused, is retried on a, and marks b down.
		for i := 0; i < 2; i++ {
			if res := ps.roundTrip(t, get("/one/x")); res.status != 200 || res.header["x-backend"] != "a" {
				t.Fatalf("/one/: status %d from %q, want a", res.status, res.header["x-backend"])
			}
		}
		b.restart(t)
		for i := 0; i < 4; i++ {
			if res := ps.roundTrip(t, get("/two/x")); res.status != 200 || res.header["x-backend"] != "a" {
				t.Fatalf("/two/ request %d: status %d from %q, want a (b is down for the whole group)", i, res.status, res.header["x-backend"])
			}
		}
		if n := b.hits.Load(); n != 0 {
			t.Errorf("b served %d requests while down", n)
		}
	})
}
