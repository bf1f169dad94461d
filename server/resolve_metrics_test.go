//go:build linux

package server_test

import (
	"context"
	"io"
	"net"
	nethttp "net/http"
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nproxy/nproxy/config"
	"github.com/nproxy/nproxy/internal/promtest"
	"golang.org/x/sys/unix"
)

// TestMetricsResolvedName checks the backend series of a host name on
// both backends: the addresses the name resolves to count in the one
// series of the name as written, before and after resolve_interval
// moves it to another address (a backend added while the worker runs),
// so the series do not grow as addresses change. The resolver is a fake
// (config.LookupNetIP).
func TestMetricsResolvedName(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		var mu sync.Mutex
		answer := []netip.Addr{netip.MustParseAddr("127.0.0.1")}
		lookups := 0
		saved := config.LookupNetIP
		t.Cleanup(func() { config.LookupNetIP = saved })
		config.LookupNetIP = func(_ context.Context, host string) ([]netip.Addr, error) {
			mu.Lock()
			defer mu.Unlock()
			if host != "app.test" {
				return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
			}
			lookups++
			return append([]netip.Addr(nil), answer...), nil
		}
		port := twoAddrStatusBackends(t)
		name := "app.test:" + port
		ts := startServerGlobals(t, backend, "resolve_interval = 1s\n", "metrics = on\n[location /api/]\nproxy_pass = "+name+"\n")
		send := func(n int) {
			t.Helper()
			for range n {
				if res := ts.roundTrip(t, get("/api/x")); res.status != 200 {
					t.Fatalf("GET /api/x: %d", res.status)
				}
			}
		}
		check := func(when string, requests float64) {
			t.Helper()
			p := scrape(t, ts)
			if got := len(p["nproxy_upstream_requests_total"].GetMetric()); got != 1 {
				t.Errorf("%s: %d nproxy_upstream_requests_total series, want 1 (the name's)", when, got)
			}
			if got, found := p.Sum("nproxy_upstream_requests_total", promtest.Labels("upstream="+name+",backend="+name)); got != requests {
				t.Errorf("%s: requests of %s = %v (found %v), want %v", when, name, got, found, requests)
			}
			if got, _ := p.Sum("nproxy_upstream_up", promtest.Labels("backend="+name)); got != 1 {
				t.Errorf("%s: nproxy_upstream_up of %s = %v, want 1", when, name, got)
			}
		}
		send(4)
		check("127.0.0.1", 4)

		mu.Lock()
		answer = []netip.Addr{netip.MustParseAddr("127.0.0.2")}
		n := lookups
		mu.Unlock()
		deadline := time.Now().Add(20 * time.Second)
		for {
			mu.Lock()
			done := lookups >= n+2 // the first answer applied
			mu.Unlock()
			if done {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the worker did not resolve the name again")
			}
			time.Sleep(10 * time.Millisecond)
		}
		send(4)
		check("moved to 127.0.0.2", 8)
	})
}

// twoAddrStatusBackends serves 200 on 127.0.0.1:P and 127.0.0.2:P and
// returns P.
func twoAddrStatusBackends(t *testing.T) string {
	t.Helper()
	h := nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		w.Header().Set("Content-Length", "3")
		io.WriteString(w, "up\n")
	})
	for try := 0; try < 20; try++ {
		a, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		_, port, _ := net.SplitHostPort(a.Addr().String())
		b, err := net.Listen("tcp", "127.0.0.2:"+port)
		if err != nil {
			a.Close()
			continue
		}
		for _, ln := range []net.Listener{a, b} {
			srv := &nethttp.Server{Handler: h}
			go srv.Serve(ln)
			t.Cleanup(func() { srv.Close() })
		}
		return port
	}
	t.Skip("no port free on both 127.0.0.1 and 127.0.0.2")
	return ""
}

// TestMetricsResolvedNameUp checks nproxy_upstream_up of a name with two
// addresses on both backends: it stays 1 while one address serves and
// the other refuses (held down after its failed connect), and reads 0
// once both are down.
func TestMetricsResolvedNameUp(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		saved := config.LookupNetIP
		t.Cleanup(func() { config.LookupNetIP = saved })
		config.LookupNetIP = func(_ context.Context, host string) ([]netip.Addr, error) {
			if host != "app.test" {
				return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
			}
			return []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.2")}, nil
		}
		// 127.0.0.1:P serves; 127.0.0.2:P is bound without listening,
		// so that a connect to it is refused.
		var ln net.Listener
		var port string
		for try := 0; try < 20 && port == ""; try++ {
			var err error
			if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
				t.Fatal(err)
			}
			_, p, _ := net.SplitHostPort(ln.Addr().String())
			n, _ := strconv.Atoi(p)
			fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := unix.Bind(fd, &unix.SockaddrInet4{Port: n, Addr: [4]byte{127, 0, 0, 2}}); err != nil {
				unix.Close(fd)
				ln.Close()
				continue
			}
			t.Cleanup(func() { unix.Close(fd) })
			port = p
		}
		if port == "" {
			t.Skip("no port free on both 127.0.0.1 and 127.0.0.2")
		}
		srv := &nethttp.Server{Handler: nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
			w.Header().Set("Content-Length", "3")
			io.WriteString(w, "up\n")
		})}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
		name := "app.test:" + port
		ts := startServer(t, backend, "metrics = on\n[location /api/]\nproxy_pass = "+name+"\n")
		for range 4 {
			if res := ts.roundTrip(t, get("/api/x")); res.status != 200 {
				t.Fatalf("GET /api/x: %d, want 200 (a refused connect is tried on the other address)", res.status)
			}
		}
		p := scrape(t, ts)
		if got, _ := p.Sum("nproxy_upstream_errors_total", promtest.Labels("backend="+name+",kind=connect")); got < 1 {
			t.Fatalf("connect errors of %s: %v, want the refused address's", name, got)
		}
		if got, _ := p.Sum("nproxy_upstream_up", promtest.Labels("backend="+name)); got != 1 {
			t.Errorf("nproxy_upstream_up of %s = %v with one address serving, want 1", name, got)
		}
		srv.Close()
		if res := ts.roundTrip(t, get("/api/x")); res.status != 502 {
			t.Fatalf("GET /api/x with both addresses refusing: %d, want 502", res.status)
		}
		p = scrape(t, ts)
		if got, _ := p.Sum("nproxy_upstream_up", promtest.Labels("backend="+name)); got != 0 {
			t.Errorf("nproxy_upstream_up of %s = %v with both addresses down, want 0", name, got)
		}
		// The next request finds no live address: 502, and both are
		// live again for the one after (quick recovery).
		if res := ts.roundTrip(t, get("/api/x")); res.status != 502 {
			t.Fatalf("GET /api/x with no live address: %d, want 502", res.status)
		}
		p = scrape(t, ts)
		if got, _ := p.Sum("nproxy_upstream_up", promtest.Labels("backend="+name)); got != 1 {
			t.Errorf("nproxy_upstream_up of %s = %v after the quick recovery, want 1", name, got)
		}
	})
}
