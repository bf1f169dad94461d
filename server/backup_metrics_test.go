//go:build linux

package server_test

import (
	"testing"

	"github.com/nproxy/nproxy/internal/promtest"
)

// TestMetricsDownBackend checks nproxy_upstream_up of a backend marked
// down in the configuration (proxy_pass = A, B down) on both backends:
// 0 from the start, while the primary serving the requests reads 1, and
// a backup that is up reads 1 too.
func TestMetricsDownBackend(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		a := newStatusBackend(t, 200)
		off := newStatusBackend(t, 200)
		spare := newStatusBackend(t, 200)
		ts := startServer(t, backend, "metrics = on\n[location /api/]\nproxy_pass = "+a+", "+off+" down, "+spare+" backup\n")
		for range 3 {
			if res := ts.roundTrip(t, get("/api/x")); res.status != 200 {
				t.Fatalf("GET /api/x: %d", res.status)
			}
		}
		p := scrape(t, ts)
		for addr, want := range map[string]float64{a: 1, off: 0, spare: 1} {
			if got, found := p.Sum("nproxy_upstream_up", promtest.Labels("backend="+addr)); !found || got != want {
				t.Errorf("nproxy_upstream_up of %s = %v (found %v), want %v", addr, got, found, want)
			}
		}
		if got, _ := p.Sum("nproxy_upstream_requests_total", promtest.Labels("backend="+off)); got != 0 {
			t.Errorf("the down backend had %v attempts", got)
		}
		if got, _ := p.Sum("nproxy_upstream_requests_total", promtest.Labels("backend="+a)); got != 3 {
			t.Errorf("the primary had %v attempts, want 3", got)
		}
	})
}
