//go:build linux

package server_test

import (
	"context"
	"io"
	"net"
	nethttp "net/http"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/nproxy/nproxy/config"
	"github.com/nproxy/nproxy/internal/promtest"
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
