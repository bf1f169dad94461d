//go:build linux

package proxy_test

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/nproxy/nproxy/config"
)

// fakeDNS answers the workers' lookups (config.LookupNetIP) for one
// name, with addresses the test changes while the worker runs: no real
// DNS is asked.
type fakeDNS struct {
	name string

	mu    sync.Mutex
	addrs []netip.Addr
	err   error
	calls int // lookups of name answered
}

// useFakeDNS makes name resolve to addrs until the test ends; call it
// before startProxy, so that the worker is stopped before it is undone.
func useFakeDNS(t *testing.T, name string, addrs ...string) *fakeDNS {
	f := &fakeDNS{name: name}
	f.set(addrs...)
	saved := config.LookupNetIP
	t.Cleanup(func() { config.LookupNetIP = saved })
	config.LookupNetIP = f.lookup
	return f
}

func (f *fakeDNS) lookup(_ context.Context, host string) ([]netip.Addr, error) {
	if host != f.name {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.err != nil {
		return nil, f.err
	}
	return append([]netip.Addr(nil), f.addrs...), nil
}

// set makes the name resolve to addrs from the next lookup on.
func (f *fakeDNS) set(addrs ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.addrs, f.err = nil, nil
	for _, a := range addrs {
		f.addrs = append(f.addrs, netip.MustParseAddr(a))
	}
}

// fail makes the next lookups fail as a DNS server that does not answer.
func (f *fakeDNS) fail() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = &net.DNSError{Err: "i/o timeout", Name: f.name, IsTimeout: true}
}

// lookups returns how many lookups were answered.
func (f *fakeDNS) lookups() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// waitLookups waits until two more lookups are answered: the answer of
// the first was then applied (a worker starts a lookup only when the
// previous one's answer is in).
func (f *fakeDNS) waitLookups(t *testing.T) {
	t.Helper()
	n := f.lookups()
	waitFor(t, 20*time.Second, "two more lookups", func() bool { return f.lookups() >= n+2 })
}

// twoAddrBackends starts backends a on 127.0.0.1:P and b on 127.0.0.2:P
// (one port, two loopback addresses: what one name with two A records
// reaches) and returns them with P.
func twoAddrBackends(t *testing.T, ha, hb http.HandlerFunc, cfg ...func(*http.Server)) (a, b *httpBackend, port string) {
	t.Helper()
	for try := 0; try < 20; try++ {
		a = startBackend(t, "a", ha, cfg...)
		_, port, _ = net.SplitHostPort(a.addr)
		if b = startBackendOn(t, "127.0.0.2:"+port, "b", hb, cfg...); b != nil {
			return a, b, port
		}
		a.stop()
	}
	t.Skip("no port free on both 127.0.0.1 and 127.0.0.2")
	return nil, nil, ""
}

// TestResolveEveryAddress checks that a name becomes one backend per
// address it resolves to, inline in proxy_pass and in an [upstream]
// group, on both backends: round-robin over app.test's two addresses
// serves from both in turn.
func TestResolveEveryAddress(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		useFakeDNS(t, "app.test", "127.0.0.1", "127.0.0.2")
		a, b, port := twoAddrBackends(t, nil, nil)
		ps := startProxy(t, backend, "proxy_pass = app.test:"+port+"\n"+
			"[location /group/]\nproxy_pass = web\n"+
			"[upstream web]\nserver = app.test:"+port+" weight=2\n")
		for _, path := range []string{"/x", "/group/x"} {
			seen := map[string]int{}
			for i := 0; i < 4; i++ {
				res := ps.roundTrip(t, get(path))
				if res.status != 200 {
					t.Fatalf("%s: status %d", path, res.status)
				}
				seen[res.header["x-backend"]]++
			}
			if seen["a"] != 2 || seen["b"] != 2 {
				t.Errorf("%s: backends seen %v, want a (127.0.0.1) and b (127.0.0.2) twice each", path, seen)
			}
		}
		if a.hits.Load() != 4 || b.hits.Load() != 4 {
			t.Errorf("hits a=%d b=%d, want 4 each", a.hits.Load(), b.hits.Load())
		}
	})
}

// TestResolveIntervalMoves checks resolve_interval on both backends: when
// the name's answer changes from 127.0.0.1 to 127.0.0.2, requests move to
// the new address with none failing, a request in flight on the old one
// finishes, and the old address's connections are closed: the pooled
// one at once, the busy one when its response ends.
func TestResolveIntervalMoves(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		dns := useFakeDNS(t, "app.test", "127.0.0.1")
		release := make(chan struct{})
		slow := func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/slow" {
				<-release
			}
			w.Write([]byte("ok"))
		}
		var connsMu sync.Mutex
		openedOnA, closedOnA := 0, 0
		a, _, port := twoAddrBackends(t, slow, slow, func(srv *http.Server) {
			srv.ConnState = func(c net.Conn, st http.ConnState) {
				if !c.LocalAddr().(*net.TCPAddr).IP.Equal(net.IPv4(127, 0, 0, 1)) {
					return
				}
				connsMu.Lock()
				defer connsMu.Unlock()
				switch st {
				case http.StateNew:
					openedOnA++
				case http.StateClosed, http.StateHijacked:
					closedOnA++
				}
			}
		})
		defer func() {
			select {
			case <-release:
			default:
				close(release)
			}
		}()
		ps := startProxy(t, backend, "proxy_pass = app.test:"+port+"\n", withGlobals("resolve_interval = 1s\n"))
		cl := ps.client(t)
		for i := 0; i < 3; i++ {
			if res := cl.do(get("/x")); res.status != 200 || res.header["x-backend"] != "a" {
				t.Fatalf("before: status %d from %q, want a", res.status, res.header["x-backend"])
			}
		}
		// A request held by a while the answer changes.
		slowDone := make(chan *response, 1)
		slowCl := ps.client(t)
		go func() {
			raw := get("/slow")
			if _, err := slowCl.c.Write([]byte(raw)); err != nil {
				slowDone <- nil
				return
			}
			res, err := readResponseErr(slowCl.r, false)
			if err != nil {
				res = nil
			}
			slowDone <- res
		}()
		waitFor(t, 10*time.Second, "the slow request to reach a", func() bool { return a.hits.Load() == 4 })

		dns.set("127.0.0.2")
		moved := false
		for i := 0; i < 2000 && !moved; i++ {
			res := cl.do(get("/x"))
			if res.status != 200 {
				t.Fatalf("request %d while the answer changes: status %d", i, res.status)
			}
			moved = res.header["x-backend"] == "b"
			if !moved {
				time.Sleep(10 * time.Millisecond)
			}
		}
		if !moved {
			t.Fatal("requests never moved to 127.0.0.2")
		}
		for i := 0; i < 4; i++ {
			if res := cl.do(get("/x")); res.status != 200 || res.header["x-backend"] != "b" {
				t.Fatalf("after: status %d from %q, want b only", res.status, res.header["x-backend"])
			}
		}
		waitFor(t, 10*time.Second, "a's pooled connection to be closed", func() bool {
			connsMu.Lock()
			defer connsMu.Unlock()
			return closedOnA >= 1
		})
		close(release)
		select {
		case res := <-slowDone:
			if res == nil || res.status != 200 || res.header["x-backend"] != "a" {
				t.Fatalf("the request in flight on the drained address: %+v, want 200 from a", res)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the request in flight on the drained address did not finish")
		}
		// Its connection is closed, not pooled: every connection to the
		// drained address ends.
		waitFor(t, 10*time.Second, "every connection to a to be closed", func() bool {
			connsMu.Lock()
			defer connsMu.Unlock()
			return closedOnA == openedOnA
		})
	})
}

// TestResolveFailureKeepsSet checks that a name whose lookups start
// failing keeps its last addresses, on both backends: both still serve.
func TestResolveFailureKeepsSet(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		dns := useFakeDNS(t, "app.test", "127.0.0.1", "127.0.0.2")
		_, _, port := twoAddrBackends(t, nil, nil)
		ps := startProxy(t, backend, "proxy_pass = app.test:"+port+"\n", withGlobals("resolve_interval = 1s\n"))
		dns.fail()
		dns.waitLookups(t)
		seen := map[string]int{}
		for i := 0; i < 4; i++ {
			res := ps.roundTrip(t, get("/x"))
			if res.status != 200 {
				t.Fatalf("status %d after failed lookups", res.status)
			}
			seen[res.header["x-backend"]]++
		}
		if seen["a"] != 2 || seen["b"] != 2 {
			t.Errorf("after failed lookups: backends seen %v, want both addresses twice each", seen)
		}
		// It resolves again, to one of them: that one alone serves.
		dns.set("127.0.0.2")
		dns.waitLookups(t)
		for i := 0; i < 3; i++ {
			if res := ps.roundTrip(t, get("/x")); res.status != 200 || res.header["x-backend"] != "b" {
				t.Fatalf("resolved again: status %d from %q, want b", res.status, res.header["x-backend"])
			}
		}
	})
}
