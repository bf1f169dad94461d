//go:build linux && !race

package proxy

import (
	"testing"
	"time"

	"github.com/nproxy/nproxy/config"
)

// TestBackupPickAlloc checks that a pick that falls through to the
// backups (every primary tried) allocates nothing, with either balancer.
func TestBackupPickAlloc(t *testing.T) {
	for _, balance := range []string{"round_robin", "least_conn"} {
		g := optionsGroup(t, balance,
			config.Upstream{Addr: "10.0.0.1:80"},
			config.Upstream{Addr: "10.0.0.2:80", Down: true},
			config.Upstream{Addr: "10.0.0.3:80", Backup: true},
			config.Upstream{Addr: "10.0.0.4:80", Backup: true})
		now := int64(time.Hour)
		var picked *backend
		allocs := testing.AllocsPerRun(100, func() { picked = g.pick(1, now) })
		if allocs != 0 || picked == nil || !picked.backup {
			t.Errorf("%s: %v allocations per pick, picked %+v (want a backup)", balance, allocs, picked)
		}
	}
}
