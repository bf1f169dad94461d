//go:build linux

package proc

import (
	"strconv"
	"strings"
)

// A reload's course, as the master tells it to whoever waits for it: the
// service manager (notify.go) sees RELOADING=1 when a reload begins and
// READY=1 when it is over, whichever way it ended.

// reloadStarted marks the start of a reload.
func (m *master) reloadStarted() {
	m.notifyf("RELOADING=1", "MONOTONIC_USEC="+monotonicUsec(), statusLine("reloading "+m.src.Name()))
}

// reloadSucceeded marks a reload whose new generation g took over.
func (m *master) reloadSucceeded(g *generation) {
	m.notifyf("READY=1", statusLine(m.servingStatus(g)))
}

// reloadFailed logs a refused reload (why, after the detail lines the
// caller logged) and marks its end: the running configuration goes on.
func (m *master) reloadFailed(why string, detail ...string) {
	m.log.Errorf("reload failed: %s: keeping the running configuration", why)
	status := "reload failed: " + why
	if len(detail) > 0 {
		status += ": " + detail[0]
	}
	m.notifyf("READY=1", statusLine(status+"; serving the previous configuration"))
}

// servingStatus is the STATUS= text of a running generation.
func (m *master) servingStatus(g *generation) string {
	n := strconv.Itoa(len(g.slots)) + " workers"
	if len(g.slots) == 1 {
		n = "1 worker"
	}
	return "serving " + strings.Join(g.addrs, ", ") + " (" + g.backend + ", " + n + ")"
}

// notifyf sends lines to the service manager, logging a failure.
func (m *master) notifyf(lines ...string) {
	if err := m.notify.send(lines...); err != nil {
		m.log.Warnf("%v", err)
	}
}
