//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nproxy/nproxy/internal/servertest"
)

// asNproxyEnv makes the test binary run as nproxy itself (master or
// worker: the master re-executes /proc/self/exe, this binary, and the
// variable is inherited), so the first-run tests need no separate build.
const asNproxyEnv = "NPROXY_TEST_AS_NPROXY"

func TestMain(m *testing.M) {
	if os.Getenv(asNproxyEnv) == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// TestHelp checks --help and -h: the help on stdout, exit 0, the most
// common invocations first.
func TestHelp(t *testing.T) {
	for _, arg := range []string{"--help", "-h", "-help"} {
		var out, errb bytes.Buffer
		if code := run([]string{arg}, &out, &errb); code != 0 || errb.Len() != 0 {
			t.Fatalf("%s: exit %d, stderr %q", arg, code, errb.String())
		}
		want := "usage:\n  nproxy                        serve the current directory on http://127.0.0.1:8080 (Ctrl-C stops it)\n" +
			"  nproxy PATH                   serve PATH instead\n"
		if !strings.HasPrefix(out.String(), want) || !strings.Contains(out.String(), "-listen") || !strings.Contains(out.String(), "-port") {
			t.Errorf("%s: help:\n%s", arg, out.String())
		}
	}
	var out, errb bytes.Buffer
	if code := run([]string{"--frobnicate"}, &out, &errb); code != 2 || out.Len() != 0 || !strings.Contains(errb.String(), "usage:") {
		t.Errorf("bad flag: exit %d, stdout %q: the usage goes to stderr with exit 2", code, out.String())
	}
}

// TestFirstRunArguments checks PATH, --listen and --port as `nproxy -t`
// sees them, without running a server.
func TestFirstRunArguments(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file.txt")
	os.WriteFile(file, nil, 0o644)
	conf := filepath.Join(dir, "n.ini")
	os.WriteFile(conf, []byte("[server]\nlisten = 127.0.0.1:8080\nstatic_root = .\n"), 0o644)
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string // regexp
	}{
		{name: "path", args: []string{"-t", dir}, code: 0},
		{name: "path first, flags after", args: []string{dir, "-t", "--port", "9000"}, code: 0},
		{name: "path after --", args: []string{"-t", "--", dir}, code: 0},
		{name: "listen without port", args: []string{"-t", "--listen", "0.0.0.0", "--port", "9000"}, code: 0},
		{name: "listen list", args: []string{"-t", "--listen", "127.0.0.1:9000, [::1]:9000"}, code: 0},
		{name: "missing path", args: []string{"-t", filepath.Join(dir, "nope")}, code: 2, stderr: `PATH ".*nope": no such file or directory`},
		{name: "file as path", args: []string{"-t", file}, code: 2, stderr: `PATH ".*file.txt": not a directory`},
		{name: "two paths", args: []string{"-t", dir, dir}, code: 2, stderr: `unexpected argument`},
		{name: "path with -c", args: []string{"-t", "-c", conf, dir}, code: 2, stderr: `PATH ".*": only without -c`},
		{name: "port with -c", args: []string{"-t", "-c", conf, "--port", "9000"}, code: 2, stderr: `--port: only without -c`},
		{name: "bad port", args: []string{"-t", "--port", "70000"}, code: 2, stderr: `--port 70000: want 1\.\.65535`},
		{name: "port twice", args: []string{"-t", "--listen", "127.0.0.1:9000", "--port", "9001"}, code: 2, stderr: `--port 9001 and --listen "127.0.0.1:9000"`},
		{name: "bad listen", args: []string{"-t", "--listen", "example.com:80"}, code: 1, stderr: `listen: .*host must be an IP address`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(tt.args, &out, &errb)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, out.String(), errb.String())
			}
			if tt.code == 0 && out.String() != "configuration ok\n" {
				t.Errorf("stdout %q", out.String())
			}
			if tt.stderr != "" && !regexp.MustCompile(tt.stderr).MatchString(errb.String()) {
				t.Errorf("stderr %q does not match %q", errb.String(), tt.stderr)
			}
		})
	}
}

func TestListenValue(t *testing.T) {
	tests := []struct {
		listen string
		port   int
		want   string
		err    bool
	}{
		{"", 0, "", false},
		{"", 9000, "127.0.0.1:9000", false},
		{"0.0.0.0", 0, "0.0.0.0:8080", false},
		{"0.0.0.0", 9000, "0.0.0.0:9000", false},
		{"[::1]", 9000, "[::1]:9000", false},
		{"[::1]:9001", 0, "[::1]:9001", false},
		{"9000", 0, "9000", false}, // a port on every address, as nginx's listen 9000
		{"127.0.0.1, [::1]", 0, "127.0.0.1:8080, [::1]:8080", false},
		{"127.0.0.1:1", 2, "", true},
		{"9000", 1, "", true},
	}
	for _, tt := range tests {
		got, err := listenValue(tt.listen, tt.port)
		if got != tt.want || (err != nil) != tt.err {
			t.Errorf("listenValue(%q, %d) = %q, %v; want %q, error %v", tt.listen, tt.port, got, err, tt.want, tt.err)
		}
	}
}

// nproxyRun is an nproxy master started by a test, in a process group of
// its own as a shell starts a command: Ctrl-C is a SIGINT to the group.
type nproxyRun struct {
	t      *testing.T
	cmd    *exec.Cmd
	stderr string // file
	done   chan struct{}
}

// startNproxy runs this binary as nproxy with args, in dir.
func startNproxy(t *testing.T, dir string, args ...string) *nproxyRun {
	t.Helper()
	r := &nproxyRun{t: t, stderr: filepath.Join(t.TempDir(), "stderr"), done: make(chan struct{})}
	f, err := os.Create(r.stderr)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r.cmd = exec.Command("/proc/self/exe", args...)
	r.cmd.Dir = dir
	// The race detector's runtime sleeps a second at exit by default
	// (atexit_sleep_ms); the master waits for its workers' exits.
	r.cmd.Env = append(os.Environ(), asNproxyEnv+"=1", "GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	r.cmd.Stdout, r.cmd.Stderr = f, f
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { r.cmd.Wait(); close(r.done) }()
	t.Cleanup(func() {
		select {
		case <-r.done:
		default:
			syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
			<-r.done
		}
		if t.Failed() {
			t.Logf("nproxy output:\n%s", r.output())
		}
	})
	return r
}

func (r *nproxyRun) output() string {
	b, _ := os.ReadFile(r.stderr)
	return string(b)
}

// waitOutput polls the output until it matches re, failing the test when
// nproxy exits first or after servertest.Timeout.
func (r *nproxyRun) waitOutput(re *regexp.Regexp) string {
	r.t.Helper()
	deadline := time.Now().Add(servertest.Timeout)
	for {
		out := r.output()
		if m := re.FindString(out); m != "" {
			return m
		}
		select {
		case <-r.done:
			r.t.Fatalf("nproxy exited before printing %q", re)
		default:
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("nproxy did not print %q within %v", re, servertest.Timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// ctrlC sends SIGINT to nproxy's process group, as a terminal does, and
// returns the exit code.
func (r *nproxyRun) ctrlC() int {
	r.t.Helper()
	if err := syscall.Kill(-r.cmd.Process.Pid, syscall.SIGINT); err != nil {
		r.t.Fatal(err)
	}
	select {
	case <-r.done:
	case <-time.After(servertest.Timeout):
		r.t.Fatalf("nproxy did not stop within %v of Ctrl-C", servertest.Timeout)
	}
	return r.cmd.ProcessState.ExitCode()
}

// freePort returns a loopback port nothing listens on right now, drawn
// below the kernel's ephemeral range and apart from package proc's (see
// proc's freeAddr): no test backend on ":0" running in parallel can take
// it before nproxy binds it.
func freePort(t *testing.T) int {
	t.Helper()
	for i := 0; i < 100; i++ {
		port := 26000 + rand.IntN(6000)
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		l.Close()
		return port
	}
	t.Fatal("no free port in 26000-31999")
	return 0
}

// firstRunTree is a directory as a fresh clone looks: no index.html, a
// .git/ and a .env, some files and a subdirectory.
func firstRunTree(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range map[string]string{
		"README.md":   "# x\n",
		"go.mod":      "module x\n",
		"cmd/main.go": "package main\n",
		".git/config": "[core]\n",
		".env":        "SECRET=1\n",
	} {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestFirstRun runs nproxy as a newcomer does, on both backends: the
// current directory, then PATH, on --port or --listen; it checks the
// banner (printed once, with the URL, root, backend and workers), the
// listing of a repository root, .git and .env hidden, and a clean Ctrl-C.
func TestFirstRun(t *testing.T) {
	tree := firstRunTree(t)
	other := t.TempDir()
	servertest.ForEachBackend(t, func(t *testing.T, backend string) {
		for _, tt := range []struct {
			name, dir, root string
			args            func(port int) []string
		}{
			{name: "current directory", dir: tree, root: tree,
				args: func(p int) []string { return []string{"--port", strconv.Itoa(p)} }},
			{name: "PATH and --listen", dir: other, root: tree,
				args: func(p int) []string { return []string{tree, "--listen", "127.0.0.1:" + strconv.Itoa(p)} }},
		} {
			t.Run(tt.name, func(t *testing.T) {
				port := freePort(t)
				r := startNproxy(t, tt.dir, append([]string{"--backend", backend, "--workers", "2"}, tt.args(port)...)...)
				url := "http://127.0.0.1:" + strconv.Itoa(port)
				banner := fmt.Sprintf("serving %s at %s (%s, 2 workers)\n", tt.root, url, backend)
				r.waitOutput(regexp.MustCompile(regexp.QuoteMeta(banner)))

				c := &http.Client{Timeout: servertest.Timeout}
				resp, err := c.Get(url + "/?format=json")
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				var entries []struct{ Name, Type string }
				if err := json.Unmarshal(body, &entries); err != nil || resp.StatusCode != 200 {
					t.Fatalf("/?format=json: status %d, %v:\n%s", resp.StatusCode, err, body)
				}
				got := fmt.Sprint(entries)
				if want := "[{README.md file} {cmd directory} {go.mod file}]"; got != want {
					t.Errorf("listing %s, want %s", got, want)
				}
				for path, want := range map[string]int{"/": 200, "/.git/config": 404, "/.env": 404, "/cmd/main.go": 200, "/healthz": 200} {
					resp, err := c.Get(url + path)
					if err != nil {
						t.Fatal(err)
					}
					resp.Body.Close()
					if resp.StatusCode != want {
						t.Errorf("%s: status %d, want %d", path, resp.StatusCode, want)
					}
				}

				if code := r.ctrlC(); code != 0 {
					t.Errorf("exit %d after Ctrl-C, want 0", code)
				}
				out := r.output()
				if n := strings.Count(out, banner); n != 1 {
					t.Errorf("banner printed %d times", n)
				}
				if strings.Contains(out, "unexpectedly") {
					t.Errorf("a worker's exit on Ctrl-C logged as unexpected")
				}
			})
		}
	})
}

// TestCtrlCNoFalseCrash stops nproxy with Ctrl-C twenty times, ten on each
// backend (twenty on one without io_uring): no worker's exit is ever
// logged as unexpected, and the exit code is 0. Issue 17 saw one in
// seven.
func TestCtrlCNoFalseCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("twenty starts and stops")
	}
	tree := firstRunTree(t)
	backends := servertest.Backends(t)
	for i := range 20 {
		backend := backends[i%len(backends)]
		t.Run(fmt.Sprintf("%02d-%s", i, backend), func(t *testing.T) {
			port := freePort(t)
			r := startNproxy(t, tree, "--backend", backend, "--workers", "2", "--port", strconv.Itoa(port))
			r.waitOutput(regexp.MustCompile(`serving .* \(` + backend + `, 2 workers\)\n`))
			if code := r.ctrlC(); code != 0 {
				t.Errorf("exit %d, want 0", code)
			}
			out := r.output()
			if strings.Contains(out, "unexpectedly") || strings.Contains(out, "[error]") {
				t.Errorf("errors logged on Ctrl-C:\n%s", out)
			}
			if strings.Contains(out, "(signalled directly;") {
				t.Logf("a worker's exit came before the master's SIGINT (logged as such, not as a crash)")
			}
		})
	}
}
