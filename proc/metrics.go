//go:build linux

package proc

import (
	"os"
	"time"

	"github.com/nproxy/nproxy/config"
	"github.com/nproxy/nproxy/metrics"
	"github.com/nproxy/nproxy/server"
)

// The master's part of the metrics: it maps the shared table it hands to
// its workers, lays out each configuration's series in the table's
// catalog before the workers that look them up start, and counts what
// only it sees (reloads, worker restarts).

// mapMetrics maps the shared table f for the master's own use.
func (m *master) mapMetrics(f *os.File) {
	t, err := metrics.Map(int(f.Fd()))
	if err != nil {
		m.log.Warnf("metrics: %v: reloads and restarts are not counted", err)
		return
	}
	m.table = t
}

// registerMetrics lays out cfg's series in the catalog.
func (m *master) registerMetrics(cfg *config.Config) {
	if m.table != nil {
		server.RegisterMetrics(m.table, cfg)
	}
}

// countReload counts a configuration that became current (the first
// one included: it is generation 1) or a reload that failed.
func (m *master) countReload(ok bool) {
	if m.table != nil {
		m.table.ReloadDone(ok, time.Now().Unix())
	}
}

// countRestart counts a worker replaced after an unexpected exit.
func (m *master) countRestart(cause int) {
	if m.table != nil {
		m.table.WorkerRestarted(cause)
	}
}
