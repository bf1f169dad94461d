//go:build linux && !race

package server

import "testing"

// TestRouteMatchAllocs proves that choosing a location allocates nothing,
// whichever kind of route the path reaches.
func TestRouteMatchAllocs(t *testing.T) {
	table, _ := tableOf(t, fiftyLocations()+"[location /api/]\nproxy_pass = 127.0.0.1:2\n")
	for _, p := range append(routePaths, []byte("/api")) {
		table.match(p) // warm the regexp machine pool
		if n := testing.AllocsPerRun(1000, func() { table.match(p) }); n != 0 {
			t.Errorf("match(%q): %v allocs, want 0", p, n)
		}
	}
}
