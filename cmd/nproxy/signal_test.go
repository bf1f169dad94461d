//go:build linux

package main

import (
	"bytes"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/nproxy/nproxy/internal/servertest"
)

// TestSignalEmbeddedDefault checks that -s finds a master running the
// embedded default (which names no pid_file) from the same --port: a
// reload that waits for its verdict, then a graceful stop.
func TestSignalEmbeddedDefault(t *testing.T) {
	servertest.ForEachBackend(t, func(t *testing.T, backend string) {
		port := strconv.Itoa(freePort(t))
		r := startNproxy(t, t.TempDir(), "--backend", backend, "--workers", "1", "--port", port)
		r.waitOutput(regexp.MustCompile(`serving .* at http://127\.0\.0\.1:` + port))

		var out, errb bytes.Buffer
		if code := run([]string{"-s", "reload", "--port", port}, &out, &errb); code != 0 {
			t.Fatalf("-s reload --port %s: exit %d: %s", port, code, errb.String())
		}
		// -s reload returned after the verdict: the master logged it.
		if !regexp.MustCompile(`reloaded: 1 workers`).MatchString(r.output()) {
			t.Fatalf("-s reload returned before the master reloaded:\n%s", r.output())
		}
		// Another port's master is not this one.
		other := strconv.Itoa(freePort(t))
		if code := run([]string{"-s", "reload", "--port", other}, &out, &errb); code != 1 || !regexp.MustCompile(`no nproxy master is running`).MatchString(errb.String()) {
			t.Fatalf("-s reload --port %s: exit %d, stderr %q", other, code, errb.String())
		}
		if code := run([]string{"-s", "quit", "--port", port}, &out, &errb); code != 0 {
			t.Fatalf("-s quit: exit %d: %s", code, errb.String())
		}
		select {
		case <-r.done:
			if code := r.cmd.ProcessState.ExitCode(); code != 0 {
				t.Fatalf("master exit code %d after -s quit", code)
			}
		case <-time.After(servertest.Timeout):
			t.Fatal("the master did not stop after -s quit")
		}
	})
}
