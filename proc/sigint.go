//go:build linux

package proc

import (
	"os"
	"syscall"
)

// takeSignals handles the signals that are already waiting, before the
// loop handles an event.
//
// Ctrl-C makes the terminal send SIGINT to its whole foreground process
// group: the master and every worker at once. A worker stops at once and
// exits 0, and its exit can reach the loop while the master's own SIGINT
// waits in sigs too; select picks at random among ready cases, so the
// exit was sometimes handled first and logged as a crash ("exited
// unexpectedly", once in seven Ctrl-C in the issue 17 report). Taking the
// waiting signals first handles them in the order they happened.
func (m *master) takeSignals(sigs <-chan os.Signal) {
	for {
		select {
		case sig := <-sigs:
			m.signal(sig.(syscall.Signal))
		default:
			return
		}
	}
}

// stoppedOnSignal reports whether a worker ended the way it does when it
// is told to stop (SIGINT, SIGTERM): exit status 0, which it has no other
// reason to return. A worker that exits so without the master having
// retired it was signalled directly; in practice by Ctrl-C, whose SIGINT
// reaches the master a moment later (see takeSignals), so it is no crash.
func stoppedOnSignal(ps *os.ProcessState) bool {
	return ps != nil && ps.Exited() && ps.ExitCode() == 0
}
