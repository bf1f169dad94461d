//go:build linux

package proc

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/nproxy/nproxy/config"
)

// TestWorkerLogFilesSkipsSyslog: a syslog: destination is no file for
// the master to create and hand over to the workers' user (user = NAME);
// only the file logs are.
func TestWorkerLogFilesSkipsSyslog(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "access.log")
	src := "error_log = syslog:server=127.0.0.1:5140\n" +
		"[server]\nlisten = 127.0.0.1:8080\nstatic_root = " + dir + "\naccess_log = syslog:server=unix:" + filepath.Join(dir, "log.sock") + "\n" +
		"[server]\nlisten = 127.0.0.1:8081\nstatic_root = " + dir + "\naccess_log = " + file + "\n"
	cfg, err := config.Parse(filepath.Join(dir, "nproxy.ini"), []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if got := workerLogFiles(cfg); !slices.Equal(got, []string{file}) {
		t.Errorf("workerLogFiles = %q, want only %q", got, file)
	}
}
