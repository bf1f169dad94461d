//go:build linux

package proxy

import (
	"fmt"
	"testing"
	"time"

	"github.com/nproxy/nproxy/config"
	"github.com/nproxy/nproxy/logging"
)

// optionsGroup builds a group of ups (IP addresses only: no lookup) with
// balance's balancers, without a loop: enough for pick and the health
// bookkeeping.
func optionsGroup(t *testing.T, balance string, ups ...config.Upstream) *Group {
	t.Helper()
	log, _ := logging.New("stderr", logging.Error)
	g := &Group{log: log, keepalive: 8}
	for _, up := range ups {
		h, err := newUpstreamHost(up)
		if err != nil {
			t.Fatal(err)
		}
		addrs, err := h.addrsAtLoad(nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, ip := range addrs {
			h.backends = append(h.backends, g.newBackend(h, ip))
		}
		g.hosts = append(g.hosts, h)
	}
	g.rebuild()
	if balance == "least_conn" {
		g.bal, g.backupBal = &leastConn{}, &leastConn{}
	} else {
		g.bal, g.backupBal = roundRobin{}, roundRobin{}
	}
	return g
}

// picks counts, by address, what n picks with tried choose (none: "").
func picks(g *Group, n int, tried uint64, now int64) map[string]int {
	got := map[string]int{}
	for i := 0; i < n; i++ {
		if b := g.pick(tried, now); b != nil {
			got[b.addr]++
		} else {
			got[""]++
		}
	}
	return got
}

// TestBackupPick checks that a backup is picked only when no primary may
// take the request: every primary down, or every one already tried for
// it; and that a backend marked down in the configuration is never
// picked, with either balancer.
func TestBackupPick(t *testing.T) {
	const a, b, c, d = "10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80", "10.0.0.4:80"
	for _, balance := range []string{"round_robin", "least_conn"} {
		t.Run(balance, func(t *testing.T) {
			g := optionsGroup(t, balance,
				config.Upstream{Addr: a, Weight: 1},
				config.Upstream{Addr: b, Weight: 2},
				config.Upstream{Addr: c, Weight: 1, Backup: true},
				config.Upstream{Addr: d, Weight: 5, Down: true})
			now := int64(time.Hour)
			if got := picks(g, 30, 0, now); got[a] == 0 || got[b] == 0 || len(got) != 2 {
				t.Fatalf("primaries up: picks %v, want only %s and %s", got, a, b)
			}
			// Both primaries tried for this request: the backup.
			tried := uint64(1)<<g.backends[0].index | uint64(1)<<g.backends[1].index
			if got := picks(g, 5, tried, now); got[c] != 5 {
				t.Errorf("primaries tried: picks %v, want %s", got, c)
			}
			// One primary tried: the other, never the backup.
			if got := picks(g, 5, 1<<g.backends[0].index, now); got[b] != 5 {
				t.Errorf("one primary tried: picks %v, want %s", got, b)
			}
			// Both primaries down (one failure each, the default
			// max_fails=1): the backup; every backend tried: none.
			g.backends[0].failed(now)
			g.backends[1].failed(now)
			if got := picks(g, 5, 0, now); got[c] != 5 {
				t.Errorf("primaries down: picks %v, want %s", got, c)
			}
			if got := picks(g, 1, tried|1<<g.backends[2].index, now); got[""] != 1 {
				t.Errorf("all tried: picks %v, want none", got)
			}
			// The primaries back after fail_timeout: the backup rests.
			later := now + int64(failTimeout)
			if got := picks(g, 10, 0, later); got[c] != 0 || got[d] != 0 {
				t.Errorf("primaries back: picks %v, want no backup, never %s", got, d)
			}
			// A down backend stays out even when a probe passes, and
			// quick recovery does not bring it back.
			g.backends[3].succeeded()
			g.recoverAll()
			if g.backends[3].up(later) {
				t.Errorf("%s (down) is up after a passing probe and recoverAll", d)
			}
			if got := picks(g, 20, 0, later); got[d] != 0 {
				t.Errorf("picks %v: %s is down in the configuration", got, d)
			}
		})
	}
}

// TestMaxFailsFailTimeout checks max_fails=N (N failures in a row mark
// the backend down; a success between them starts the count again),
// max_fails=0 (never down), and fail_timeout (down for exactly that long,
// the line's own or the default).
func TestMaxFailsFailTimeout(t *testing.T) {
	g := optionsGroup(t, "round_robin",
		config.Upstream{Addr: "10.0.0.1:80", Weight: 1, MaxFails: 3, FailTimeout: 30 * time.Second},
		config.Upstream{Addr: "10.0.0.2:80", Weight: 1, MaxFails: config.NoMaxFails},
		config.Upstream{Addr: "10.0.0.3:80", Weight: 1})
	three, never, dflt := g.backends[0], g.backends[1], g.backends[2]
	now := int64(time.Hour)

	three.failed(now)
	three.failed(now)
	three.succeeded()
	three.failed(now)
	three.failed(now)
	if !three.up(now) {
		t.Fatal("max_fails=3: down after two failures in a row")
	}
	three.failed(now)
	if three.up(now) {
		t.Fatal("max_fails=3: up after three failures in a row")
	}
	if until := now + int64(30*time.Second); three.up(until-1) || !three.up(until) {
		t.Errorf("fail_timeout=30s: down until %d, want %d", three.downUntil, until)
	}

	for i := 0; i < 2000; i++ {
		never.failed(now)
	}
	if !never.up(now) {
		t.Error("max_fails=0: marked down by failures")
	}
	// A failed health probe still holds it down (probes are not
	// counted failures).
	never.fails, never.probed = never.maxFails, true
	never.setDown(now + int64(time.Second))
	if never.up(now) {
		t.Error("max_fails=0: a failed probe did not mark it down")
	}

	dflt.failed(now)
	if until := now + int64(failTimeout); dflt.up(until-1) || !dflt.up(until) {
		t.Errorf("default: down until %d, want %d (max_fails=1, the default fail_timeout)", dflt.downUntil, until)
	}
}

// TestSingleWithBackup checks which backend counts as a group's only
// one (never marked down by failures): the only primary that is not
// down when there is no backup; with a backup its failures count, so
// that the backup takes over.
func TestSingleWithBackup(t *testing.T) {
	const p, q, bk = "10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"
	for _, tc := range []struct {
		name   string
		ups    []config.Upstream
		single bool // the first backend's
	}{
		{name: "alone", ups: []config.Upstream{{Addr: p}}, single: true},
		{name: "two primaries", ups: []config.Upstream{{Addr: p}, {Addr: q}}},
		{name: "other down", ups: []config.Upstream{{Addr: p}, {Addr: q, Down: true}}, single: true},
		{name: "with a backup", ups: []config.Upstream{{Addr: p}, {Addr: bk, Backup: true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := optionsGroup(t, "round_robin", tc.ups...)
			first := g.backends[0]
			now := int64(time.Hour)
			for i := 0; i < 3; i++ {
				first.failed(now)
			}
			if first.single != tc.single || first.up(now) != tc.single {
				t.Errorf("single %v, up after failures %v; want %v", first.single, first.up(now), tc.single)
			}
			for _, b := range g.backends[1:] {
				if b.single {
					t.Errorf("%s is single too", b.addr)
				}
			}
		})
	}
}

// TestQuickRecoveryWithBackups checks that a group is "all down" only
// when its backups are down too, and that quick recovery brings back
// primaries and backups (not one down in the configuration).
func TestQuickRecoveryWithBackups(t *testing.T) {
	g := optionsGroup(t, "round_robin",
		config.Upstream{Addr: "10.0.0.1:80"},
		config.Upstream{Addr: "10.0.0.2:80", Down: true},
		config.Upstream{Addr: "10.0.0.3:80", Backup: true})
	now := int64(time.Hour)
	g.backends[0].failed(now)
	if !g.anyUp(now) {
		t.Fatal("the backup is up: the group is not all down")
	}
	g.backends[2].failed(now)
	if g.anyUp(now) {
		t.Fatal("primary and backup failed: the group is still up")
	}
	g.recoverAll()
	for i, want := range []bool{true, false, true} {
		if b := g.backends[i]; b.up(now) != want {
			t.Errorf("after recovery: %s up %v, want %v", b.addr, b.up(now), want)
		}
	}
	if got := fmt.Sprint(picks(g, 2, 0, now)); got != "map[10.0.0.1:80:2]" {
		t.Errorf("after recovery: picks %s, want the primary", got)
	}
}
