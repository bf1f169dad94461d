//go:build linux

package proxy_test

import "testing"

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
