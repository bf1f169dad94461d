//go:build linux

package server

import (
	"strings"
	"testing"
)

// BenchmarkRouteMatch50 measures choosing a location among the 50 of
// fiftyLocations, for a path reaching each kind of route.
func BenchmarkRouteMatch50(b *testing.B) {
	table, _ := tableOf(b, fiftyLocations())
	for _, p := range routePaths {
		b.Run(strings.TrimPrefix(string(p), "/"), func(b *testing.B) {
			for b.Loop() {
				table.match(p)
			}
		})
	}
}
