//go:build linux

package bench

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// cpuFlags pins servers and load to the CPUs this test may use.
func cpuFlags(t *testing.T) []string {
	cpus := testCPUs(t)
	return []string{"--server-cpus", strconv.Itoa(cpus[0]), "--client-cpus", strconv.Itoa(cpus[1])}
}

func runMain(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = Main(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestFlagErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "unknown scenario", args: []string{"--scenario", "static-tiny"}, want: `unknown scenario "static-tiny"`},
		{name: "one backend in ab", args: []string{"--ab", "epoll"}, want: "--ab wants two different backends"},
		{name: "same backends", args: []string{"--ab", "epoll,epoll"}, want: "--ab wants two different backends"},
		{name: "bad backend", args: []string{"--ab", "epoll,kqueue"}, want: `unknown backend "kqueue"`},
		{name: "ab and backend", args: []string{"--ab", "epoll,io_uring", "--backend", "epoll"}, want: "use one of them"},
		{name: "bad reference", args: []string{"--against", "apache"}, want: `unknown reference "apache"`},
		{name: "rounds", args: []string{"--rounds", "0"}, want: "--rounds"},
		{name: "pipeline", args: []string{"--pipeline", "0"}, want: "--pipeline"},
		{name: "cpu", args: []string{"--server-cpus", "4096"}, want: "CPU 4096 is not available"},
		{name: "cpu list", args: []string{"--client-cpus", "1-0"}, want: "bad CPU range"},
		{name: "url scheme", args: []string{"--url", "ftp://127.0.0.1/"}, want: "only http:// and https://"},
		{name: "tls key", args: []string{"--tls-key", "dsa"}, want: `--tls-key: unknown key "dsa"`},
		{name: "tls curves", args: []string{"--tls-curves", "X25519:X448"}, want: `--tls-curves: tls: bad key exchange group list: "X448"`},
		{name: "tls server curves", args: []string{"--tls-server-curves", "X25519:x25519"}, want: `--tls-server-curves: tls: bad key exchange group list: "x25519": names a group listed already`},
		{name: "stray argument", args: []string{"static-small"}, want: `unexpected argument "static-small"`},
		{name: "bad flag", args: []string{"--nope"}, want: "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.args
			if !strings.Contains(strings.Join(args, " "), "cpus") {
				args = append(cpuFlags(t), args...)
			}
			code, _, stderr := runMain(args...)
			if code == 0 {
				t.Fatalf("exit 0, want an error")
			}
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr %q does not say %q", stderr, tt.want)
			}
		})
	}
}

func TestURLMode(t *testing.T) {
	srv := newTestServer(t, fixedReply(200, body(512)), false)
	code, stdout, stderr := runMain(append(cpuFlags(t), "--url", "http://"+srv.Addr()+"/a?b=c", "--requests", "300", "--connections", "3", "--pipeline", "2")...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"Requests/sec:", "300 requests in", "p99.9"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	if srv.Requests() != 300 {
		t.Errorf("server saw %d requests, want 300", srv.Requests())
	}

	bad := newTestServer(t, fixedReply(500, nil), false)
	code, stdout, stderr = runMain(append(cpuFlags(t), "--url", "http://"+bad.Addr()+"/", "--requests", "10", "--json")...)
	if code == 0 || !strings.Contains(stderr, "10 of 10 requests failed (status=10)") {
		t.Errorf("exit %d, stderr %q: want failure on status 500", code, stderr)
	}
	var rep report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil || len(rep.Runs) != 1 || rep.Runs[0].Errors.Status != 10 {
		t.Errorf("json %v: %s", err, stdout)
	}
	// As wrk words it, in the human output.
	code, stdout, _ = runMain(append(cpuFlags(t), "--url", "http://"+bad.Addr()+"/", "--requests", "10")...)
	if code == 0 || !strings.Contains(stdout, "Non-2xx responses: 10\n") {
		t.Errorf("exit %d, stdout %q: want the non-2xx count", code, stdout)
	}
}

// fakeServer makes Main start this test binary as its "nproxy".
func fakeServer(t *testing.T) []string {
	t.Setenv(fakeServerEnv, "1")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return append(cpuFlags(t), "--nproxy", exe)
}

func TestScenariosAgainstFakeServer(t *testing.T) {
	profDir := t.TempDir()
	args := append(fakeServer(t), "--scenario", "static-small,static-large,proxy,idle,churn",
		"--ab", "epoll,io_uring", "--rounds", "1", "--requests", "100", "--connections", "4",
		"--json", "--profile", profDir, "--top", "3")
	code, stdout, stderr := runMain(args...)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
	var rep report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("json: %v\n%s", err, stdout)
	}
	if rep.Machine.Kernel == "" || rep.Machine.GoVersion == "" || rep.Machine.Cores == 0 || len(rep.Command) < 3 {
		t.Errorf("machine info incomplete: %+v %v", rep.Machine, rep.Command)
	}
	if len(rep.Runs) != 10 {
		t.Fatalf("%d runs, want 5 scenarios x 2 backends", len(rep.Runs))
	}
	for _, r := range rep.Runs {
		if r.Errors.Total() != 0 || r.Requests == 0 {
			t.Errorf("%s %s: %d requests, errors %s", r.Scenario, r.Target, r.Requests, r.Errors.String())
		}
		if r.Scenario == "idle" && (r.IdleConns != 4 || r.RSSAfterKiB == 0) {
			t.Errorf("idle run: %+v", r)
		}
	}
	if len(rep.Summary) != 5 {
		t.Fatalf("summary has %d scenarios", len(rep.Summary))
	}
	for _, s := range rep.Summary {
		// The main ratio, then server CPU per request when both runs used
		// a measurable amount (10 ms ticks: a short run may show none).
		if len(s.Ratios) < 1 || s.Ratios[0].Name != "io_uring/epoll" || s.Ratios[0].Median <= 0 {
			t.Errorf("%s: ratios %+v", s.Scenario, s.Ratios)
		}
		for _, ra := range s.Ratios[min(len(s.Ratios), 1):] {
			if s.Scenario == "idle" || !strings.HasPrefix(ra.Metric, "server CPU per request") || ra.Median <= 0 {
				t.Errorf("%s: unexpected ratio %+v", s.Scenario, ra)
			}
		}
	}
	if len(rep.Profiles) != 10 {
		t.Errorf("%d profile summaries, want 10", len(rep.Profiles))
	}
	for _, p := range rep.Profiles {
		if len(p.Tops) != 2 || p.Tops[1].Kind != "allocs" || len(p.Tops[1].ByFlat) == 0 {
			t.Errorf("%s %s: profile tops %+v", p.Scenario, p.Target, p.Tops)
		}
	}
	for _, want := range []string{"[1/10] static-small nproxy-epoll round 1 ... ", "ratio io_uring/epoll", "by cumulative"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if m, _ := filepath.Glob(filepath.Join(profDir, "proxy-nproxy-epoll-allocs.pprof")); len(m) != 1 {
		t.Errorf("no merged allocs profile in %s", profDir)
	}
}

func TestMissingReferenceIsSkipped(t *testing.T) {
	args := append(fakeServer(t), "--scenario", "static-small", "--against", "nginx,haproxy",
		"--rounds", "1", "--requests", "50", "--connections", "2")
	t.Setenv("PATH", t.TempDir()) // neither nginx nor haproxy can be found
	code, stdout, stderr := runMain(args...)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
	for _, want := range []string{"skipped nginx: not installed", "skipped haproxy: not installed", "static-small"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
}

func TestServerThatDoesNotStart(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "nproxy")
	os.WriteFile(bin, []byte("#!/bin/sh\necho 'config: no way' >&2\nexit 3\n"), 0o755)
	args := append(cpuFlags(t), "--nproxy", bin, "--scenario", "static-small", "--rounds", "1", "--duration", "100ms")
	code, _, stderr := runMain(args...)
	if code == 0 || !strings.Contains(stderr, "server did not start") || !strings.Contains(stderr, "config: no way") {
		t.Errorf("exit %d, stderr:\n%s", code, stderr)
	}
}

func TestMissingProfilesAreAnError(t *testing.T) {
	args := append(fakeServer(t), "--scenario", "static-small", "--rounds", "1", "--requests", "20",
		"--connections", "2", "--profile", t.TempDir())
	t.Setenv(fakeNoProfileEnv, "1") // a server that ignores the profile contract
	code, stdout, stderr := runMain(args...)
	if code == 0 || !strings.Contains(stderr, "the nproxy workers wrote none") {
		t.Errorf("exit %d, stderr:\n%s", code, stderr)
	}
	if !strings.Contains(stdout, "static-small") {
		t.Errorf("the results are printed anyway; stdout:\n%s", stdout)
	}
}

// TestHelpDefaults checks that --help names each default once: the flag
// package adds "(default ...)" itself to a flag whose value is not its
// zero, so a usage text must not say it again.
func TestHelpDefaults(t *testing.T) {
	var errb bytes.Buffer
	if _, err := parseFlags([]string{"--help"}, &errb); err == nil {
		t.Fatal("--help: no error")
	}
	for _, line := range strings.Split(errb.String(), "\n") {
		if strings.Count(line, "(default ") > 1 {
			t.Errorf("a default given twice: %q", line)
		}
	}
	if !strings.Contains(errb.String(), "(default 10s)") {
		t.Errorf("--duration's default is not shown:\n%s", errb.String())
	}
}
