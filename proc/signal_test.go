//go:build linux

package proc_test

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestFinding14SighupRightAfterPidFile sends SIGHUP the instant the pid
// file exists: `nproxy -s reload` may do exactly that, so the master must
// catch its signals before it writes the file. Finding 14 of issue 9: the
// handlers were installed after the pid file, and Go's default action for
// an uncaught SIGHUP killed the master. Several rounds, because the window
// is short.
func TestFinding14SighupRightAfterPidFile(t *testing.T) {
	for round := range 5 {
		t.Run(strconv.Itoa(round), func(t *testing.T) {
			in := newInstance(t, 1)
			in.run("-c", in.conf)
			in.waitFileExists(in.pidFile, 10*time.Second)
			in.signal(syscall.SIGHUP)

			// The master handled the signal: it reloads once the first
			// generation is up, and keeps serving.
			in.waitLog("reloaded:", 10*time.Second)
			in.waitServing()
			if !alive(in.cmd.Process.Pid) {
				t.Fatalf("master %d is gone after SIGHUP", in.cmd.Process.Pid)
			}
		})
	}
}

// waitFileExists polls, without pausing, until path exists; the master
// exiting first fails the test.
func (in *instance) waitFileExists(path string, timeout time.Duration) {
	in.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		select {
		case <-in.done:
			in.t.Fatalf("master exited before %s existed: %v\n%s", path, in.waitErr, in.log())
		default:
		}
		if time.Now().After(deadline) {
			in.t.Fatalf("%s does not exist after %v", path, timeout)
		}
	}
}

// waitLog polls the master's output until it contains want; the master
// exiting first fails the test.
func (in *instance) waitLog(want string, timeout time.Duration) {
	in.t.Helper()
	deadline := time.Now().Add(timeout)
	for !strings.Contains(in.log(), want) {
		select {
		case <-in.done:
			in.t.Fatalf("master exited before logging %q: %v\n%s", want, in.waitErr, in.log())
		default:
		}
		if time.Now().After(deadline) {
			in.t.Fatalf("master did not log %q within %v:\n%s", want, timeout, in.log())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
