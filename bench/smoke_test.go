//go:build linux

package bench

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// buildNproxy builds cmd/nproxy into a temp dir, or skips the test while
// the server does not build.
func buildNproxy(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the server: not in -short")
	}
	bin := filepath.Join(t.TempDir(), "nproxy")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/nproxy/nproxy/cmd/nproxy").CombinedOutput()
	if err != nil {
		t.Skipf("server not built yet: go build ./cmd/nproxy failed: %v\n%s", err, out)
	}
	return bin
}

// TestSmokeEveryScenario runs each scenario for about a second against the
// real server. It checks that everything starts, answers validly and stops;
// it asserts no figure.
func TestSmokeEveryScenario(t *testing.T) {
	bin := buildNproxy(t)
	tests := []struct {
		scenario string
		extra    []string
	}{
		{scenario: "static-small"},
		{scenario: "static-large"},
		{scenario: "proxy"},
		{scenario: "idle", extra: []string{"--connections", "200"}},
		{scenario: "churn"},
		{scenario: "tls-small"},
		{scenario: "tls-handshake-ecdsa"},
		{scenario: "tls-handshake-rsa"},
		{scenario: "tls-resume"},
		{scenario: "tls-large"},
		{scenario: "tls-idle", extra: []string{"--connections", "200"}},
	}
	for _, tt := range tests {
		t.Run(tt.scenario, func(t *testing.T) {
			args := append(cpuFlags(t), "--nproxy", bin, "--scenario", tt.scenario, "--rounds", "1", "--duration", "1s")
			code, stdout, stderr := runMain(append(args, tt.extra...)...)
			if code != 0 {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
			}
			if !strings.Contains(stdout, tt.scenario) {
				t.Errorf("no %s line in:\n%s", tt.scenario, stdout)
			}
			t.Logf("\n%s", stdout)
		})
	}
}

// TestSmokeAB runs the A/B alternation once per backend.
func TestSmokeAB(t *testing.T) {
	bin := buildNproxy(t)
	args := append(cpuFlags(t), "--nproxy", bin, "--scenario", "static-small", "--ab", "epoll,io_uring",
		"--rounds", "1", "--duration", "1s")
	code, stdout, stderr := runMain(args...)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "ratio io_uring/epoll") {
		t.Errorf("no ratio in:\n%s", stdout)
	}
}
