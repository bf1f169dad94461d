//go:build linux

package proc_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/nproxy/nproxy/internal/promtest"
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
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// bin is the nproxy binary TestMain builds once for every test.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "nproxy-proc-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "nproxy")
	if prebuilt := os.Getenv("NPROXY_TEST_BIN"); prebuilt != "" {
		// Another build (an older commit, a release) under the same
		// tests: do they fail where it is known to be wrong?
		bin = prebuilt
	} else if out, err := exec.Command("go", "build", "-o", bin, "github.com/nproxy/nproxy/cmd/nproxy").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// instance is one running nproxy master started by a test.
type instance struct {
	t       *testing.T
	dir     string // config, pid file, logs
	conf    string
	pidFile string
	addr    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{} // closed when the master exited
	waitErr error
	// env is added to the test's environment for the master.
	env []string
	// files are handed to the master as descriptors 3, 4, ...
	files []*os.File
	// listenPID starts the master with LISTEN_PID set to its own pid,
	// as a service manager does for socket activation.
	listenPID bool
}

// freeAddr returns a loopback address nothing listens on right now, for
// a master started later to bind. The port is drawn below the kernel's
// ephemeral range (ip_local_port_range starts at 32768), from a range of
// this package's own: a port handed out by ":0" (another package's test
// backend, running in parallel) or taken by an outgoing connection can
// never be it.
func freeAddr(t *testing.T) string {
	t.Helper()
	for i := 0; i < 100; i++ {
		addr := fmt.Sprintf("127.0.0.1:%d", 20000+rand.IntN(6000))
		l, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		l.Close()
		return addr
	}
	t.Fatal("no free port in 20000-25999")
	return ""
}

// writeConfig writes an nproxy config for addr serving root.
// NPROXY_TEST_BACKEND chooses the backend unless extraGlobals does.
func writeConfig(t *testing.T, path, addr, root string, workers int, extraGlobals string) {
	if b := os.Getenv("NPROXY_TEST_BACKEND"); b != "" && !strings.Contains(extraGlobals, "backend =") {
		extraGlobals += "\nbackend = " + b
	}
	t.Helper()
	conf := fmt.Sprintf("worker_processes = %d\n%s\n[server]\nlisten = %s\nstatic_root = %s\n", workers, extraGlobals, addr, root)
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
}

// start runs a master with a config of workers workers serving a fresh
// root holding index.html = "A\n", and waits until it answers.
func start(t *testing.T, workers int) *instance {
	t.Helper()
	in := newInstance(t, workers)
	in.run("-c", in.conf)
	in.waitServing()
	return in
}

// newInstance prepares, without running it, a master with a config of
// workers workers and a pid file, serving a fresh root holding
// index.html = "A\n".
func newInstance(t *testing.T, workers int) *instance {
	t.Helper()
	dir := t.TempDir()
	in := &instance{t: t, dir: dir, conf: filepath.Join(dir, "nproxy.ini"), pidFile: filepath.Join(dir, "nproxy.pid"),
		addr: freeAddr(t), logPath: filepath.Join(dir, "stderr.log"), done: make(chan struct{})}
	root := in.root("a", "A\n")
	writeConfig(t, in.conf, in.addr, root, workers, "pid_file = "+in.pidFile)
	return in
}

// root makes directory name under the instance's dir with index.html.
func (in *instance) root(name, index string) string {
	root := filepath.Join(in.dir, name)
	if err := os.MkdirAll(root, 0o755); err != nil {
		in.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "index.html"), []byte(index), 0o644); err != nil {
		in.t.Fatal(err)
	}
	return root
}

func (in *instance) run(args ...string) {
	t := in.t
	log, err := os.Create(in.logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	in.cmd = exec.Command(bin, args...)
	if in.listenPID {
		// The shell's pid is the master's once it execs.
		in.cmd = exec.Command("/bin/sh", append([]string{"-c", `LISTEN_PID=$$ exec "$0" "$@"`, bin}, args...)...)
	}
	in.cmd.Dir = in.dir
	in.cmd.Stdout, in.cmd.Stderr = log, log
	if in.env != nil {
		in.cmd.Env = append(os.Environ(), in.env...)
	}
	in.cmd.ExtraFiles = in.files
	if err := in.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { in.waitErr = in.cmd.Wait(); close(in.done) }()
	t.Cleanup(func() {
		select {
		case <-in.done:
		default:
			in.cmd.Process.Signal(syscall.SIGINT)
			select {
			case <-in.done:
			case <-time.After(5 * time.Second):
				in.cmd.Process.Kill()
				<-in.done
			}
		}
		if t.Failed() {
			t.Logf("nproxy output:\n%s", in.log())
		}
	})
}

func (in *instance) log() string {
	b, _ := os.ReadFile(in.logPath)
	return string(b)
}

// waitServing polls /healthz until it answers 200.
func (in *instance) waitServing() {
	in.t.Helper()
	c := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-in.done:
			in.t.Fatalf("nproxy exited before serving: %v\n%s", in.waitErr, in.log())
		default:
		}
		if resp, err := c.Get("http://" + in.addr + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	in.t.Fatalf("nproxy does not answer on %s\n%s", in.addr, in.log())
}

// waitExit waits for the master to exit and returns its exit code.
func (in *instance) waitExit(timeout time.Duration) int {
	in.t.Helper()
	select {
	case <-in.done:
	case <-time.After(timeout):
		in.t.Fatalf("master did not exit within %v", timeout)
	}
	return in.cmd.ProcessState.ExitCode()
}

func (in *instance) signal(sig syscall.Signal) {
	if err := in.cmd.Process.Signal(sig); err != nil {
		in.t.Fatal(err)
	}
}

// procStat returns the parent pid and the state letter of pid from
// /proc/PID/stat; ok is false when the process is gone.
func procStat(pid int) (ppid int, state byte, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, false
	}
	// The command name, in parentheses, may hold spaces and parentheses:
	// the fields that follow start after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 {
		return 0, 0, false
	}
	ppid, _ = strconv.Atoi(f[1])
	return ppid, f[0][0], true
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	_, state, ok := procStat(pid)
	return ok && state != 'Z'
}

// children lists the live child processes of pid.
func children(pid int) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, state, ok := procStat(p); ok && ppid == pid && state != 'Z' {
			out = append(out, p)
		}
	}
	return out
}

// waitChildren polls until the master has n children and returns them.
func (in *instance) waitChildren(n int, timeout time.Duration) []int {
	in.t.Helper()
	deadline := time.Now().Add(timeout)
	var kids []int
	for time.Now().Before(deadline) {
		if kids = children(in.cmd.Process.Pid); len(kids) == n {
			return kids
		}
		time.Sleep(10 * time.Millisecond)
	}
	in.t.Fatalf("master has children %v, want %d", kids, n)
	return nil
}

// healthPid makes one request to /healthz with c and returns the pid
// that answered.
func healthPid(c *http.Client, addr string) (int, error) {
	resp, err := c.Get("http://" + addr + "/healthz")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var h struct {
		PID int `json:"pid"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		return 0, err
	}
	return h.PID, nil
}

func contains(list []int, x int) bool {
	for _, v := range list {
		if v == x {
			return true
		}
	}
	return false
}

func TestTwoWorkersServe(t *testing.T) {
	in := start(t, 2)
	kids := in.waitChildren(2, 5*time.Second)
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	seen := map[int]int{}
	for range 200 {
		pid, err := healthPid(c, in.addr)
		if err != nil {
			t.Fatal(err)
		}
		if !contains(kids, pid) {
			t.Fatalf("answer from pid %d, not one of the workers %v", pid, kids)
		}
		seen[pid]++
	}
	if len(seen) != 2 {
		t.Fatalf("200 connections served by %v, want both workers %v", seen, kids)
	}
	t.Logf("connections per worker: %v", seen)
}

// loadResult counts a client loop's outcomes.
type loadResult struct {
	ok, failed atomic.Int64
	mu         sync.Mutex
	failures   []string
}

func (r *loadResult) fail(format string, args ...any) {
	r.failed.Add(1)
	r.mu.Lock()
	if len(r.failures) < 10 {
		r.failures = append(r.failures, fmt.Sprintf(format, args...))
	}
	r.mu.Unlock()
}

func TestWorkerKilledIsRespawned(t *testing.T) {
	in := start(t, 2)
	kids := in.waitChildren(2, 5*time.Second)
	victim := kids[0]

	// Clients keep one keep-alive connection each and remember which
	// worker served it last: a failure is only allowed on the victim's.
	var res loadResult
	var badFailures atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			last := 0
			for {
				select {
				case <-stop:
					return
				default:
				}
				pid, err := healthPid(c, in.addr)
				if err != nil {
					res.fail("%v (connection last served by %d)", err, last)
					if last != victim {
						badFailures.Add(1)
					}
					last = 0
					continue
				}
				res.ok.Add(1)
				last = pid
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	var fresh int
	deadline := time.Now().Add(time.Second)
	for fresh == 0 && time.Now().Before(deadline) {
		for _, p := range children(in.cmd.Process.Pid) {
			if !contains(kids, p) {
				fresh = p
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	if fresh == 0 {
		t.Fatalf("no new worker within 1s of killing %d", victim)
	}
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	t.Logf("requests: %d ok, %d failed %v", res.ok.Load(), res.failed.Load(), res.failures)
	if n := badFailures.Load(); n > 0 {
		t.Fatalf("%d requests failed on connections of surviving workers: %v", n, res.failures)
	}
	if res.ok.Load() == 0 {
		t.Fatal("no request succeeded")
	}
	if !strings.Contains(in.log(), "killed by signal 9") {
		t.Errorf("log does not record the death:\n%s", in.log())
	}
	// The new worker serves.
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for range 100 {
		if pid, err := healthPid(c, in.addr); err == nil && pid == fresh {
			return
		}
	}
	t.Fatalf("the new worker %d serves no connection", fresh)
}

func TestReloadUnderLoad(t *testing.T) {
	in := start(t, 2)
	oldKids := in.waitChildren(2, 5*time.Second)
	rootB := in.root("b", "B\n")

	var res loadResult
	var sawB atomic.Bool
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// net/http retries an idempotent request whose reused
			// connection closed before any response byte (the race of
			// a drain closing an idle keep-alive connection while the
			// request is in flight), as browsers and nginx do.
			c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := c.Get("http://" + in.addr + "/index.html")
				if err != nil {
					res.fail("%v", err)
					continue
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				switch {
				case err != nil:
					res.fail("reading body: %v", err)
				case resp.StatusCode != 200:
					res.fail("status %d", resp.StatusCode)
				case string(body) == "B\n":
					sawB.Store(true)
					res.ok.Add(1)
				case string(body) == "A\n":
					res.ok.Add(1)
				default:
					res.fail("body %q", body)
				}
			}
		}()
	}
	time.Sleep(time.Second)
	writeConfig(t, in.conf, in.addr, rootB, 2, "pid_file = "+in.pidFile)
	in.signal(syscall.SIGHUP)
	time.Sleep(2 * time.Second)
	close(stop)
	wg.Wait()
	t.Logf("requests: %d ok, %d failed", res.ok.Load(), res.failed.Load())
	if res.failed.Load() != 0 {
		t.Fatalf("%d requests failed across the reload: %v", res.failed.Load(), res.failures)
	}
	if !sawB.Load() {
		t.Fatal("the new static_root never answered")
	}
	newKids := in.waitChildren(2, 5*time.Second)
	for _, p := range newKids {
		if contains(oldKids, p) {
			t.Fatalf("old worker %d still running after the reload (old %v, now %v)", p, oldKids, newKids)
		}
	}

	// An invalid configuration changes nothing and is logged.
	bad := "worker_processes = 2\npid_file = " + in.pidFile + "\n[server]\nlisten = " + in.addr + "\nstatic_root = " + rootB + "\nbogus_key = 1\n"
	if err := os.WriteFile(in.conf, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	in.signal(syscall.SIGHUP)
	want := regexp.MustCompile(regexp.QuoteMeta(in.conf) + `:6: .*bogus_key`)
	deadline := time.Now().Add(5 * time.Second)
	for !want.MatchString(in.log()) {
		if time.Now().After(deadline) {
			t.Fatalf("invalid reload not logged as FILE:LINE: message:\n%s", in.log())
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	if kids := children(in.cmd.Process.Pid); len(kids) != 2 || !contains(kids, newKids[0]) || !contains(kids, newKids[1]) {
		t.Fatalf("workers changed after an invalid reload: %v, were %v", kids, newKids)
	}
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + in.addr + "/index.html")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "B\n" {
		t.Fatalf("after an invalid reload: body %q, want the running config's \"B\\n\"", body)
	}
}

func TestGracefulStopFinishesSlowRequest(t *testing.T) {
	in := start(t, 1)
	const size = 64 << 20
	big := make([]byte, size)
	for i := range big {
		big[i] = byte(i)
	}
	if err := os.WriteFile(filepath.Join(in.dir, "a", "big.bin"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	// A small receive buffer keeps most of the file on the server's side
	// while the client reads slowly.
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	conn, err := d.Dial("tcp", in.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	fmt.Fprintf(conn, "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReaderSize(conn, 4096)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.ContentLength != size {
		t.Fatalf("Content-Length %d, want %d", resp.ContentLength, size)
	}
	first := make([]byte, 1<<20)
	if _, err := io.ReadFull(resp.Body, first); err != nil {
		t.Fatal(err)
	}
	in.signal(syscall.SIGTERM)
	time.Sleep(500 * time.Millisecond)
	select {
	case <-in.done:
		t.Fatal("master exited with a request in flight")
	default:
	}
	rest, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("after %d bytes: %v", len(first)+len(rest), err)
	}
	if got := append(first, rest...); !bytes.Equal(got, big) {
		t.Fatalf("got %d bytes, want the %d of the file", len(got), size)
	}
	if code := in.waitExit(10 * time.Second); code != 0 {
		t.Fatalf("master exit code %d, want 0", code)
	}
	if _, err := os.Stat(in.pidFile); !os.IsNotExist(err) {
		t.Fatalf("pid file left behind: %v", err)
	}
}

func TestWorkersExitWithMaster(t *testing.T) {
	in := start(t, 2)
	kids := in.waitChildren(2, 5*time.Second)
	in.cmd.Process.Kill()
	deadline := time.Now().Add(time.Second)
	for _, p := range kids {
		for alive(p) {
			if time.Now().After(deadline) {
				t.Fatalf("worker %d still alive 1s after its master was killed", p)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// runCmd runs the binary to completion and returns its exit code, stdout
// and stderr.
func runCmd(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("nproxy %v did not finish", args)
	}
	return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
}

func TestConfigTest(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.ini")
	writeConfig(t, good, "127.0.0.1:1", dir, 1, "")
	bad := filepath.Join(dir, "bad.ini")
	if err := os.WriteFile(bad, []byte("worker_processes = lots\n[server]\nlisten = 127.0.0.1:1\nstatic_root = /nonexistent/dir\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr *regexp.Regexp
	}{
		{name: "good", args: []string{"-t", "-c", good}, wantCode: 0, wantStdout: "configuration ok\n"},
		{name: "embedded", args: []string{"-t"}, wantCode: 0, wantStdout: "configuration ok\n"},
		{name: "bad", args: []string{"-t", "-c", bad}, wantCode: 1,
			wantStderr: regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(bad) + `:1: .*\n` + regexp.QuoteMeta(bad) + `:4: `)},
		{name: "signal without pid_file", args: []string{"-s", "reload", "-c", good}, wantCode: 1,
			wantStderr: regexp.MustCompile(`-s needs pid_file`)},
		{name: "bad signal", args: []string{"-s", "bogus", "-c", good}, wantCode: 1,
			wantStderr: regexp.MustCompile(`want stop, quit, reload or reopen`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCmd(t, dir, tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit code %d, want %d (stderr %q)", code, tt.wantCode, stderr)
			}
			if stdout != tt.wantStdout {
				t.Errorf("stdout %q, want %q", stdout, tt.wantStdout)
			}
			if tt.wantStderr != nil && !tt.wantStderr.MatchString(stderr) {
				t.Errorf("stderr %q does not match %v", stderr, tt.wantStderr)
			}
		})
	}
}

func TestSecondMasterRefused(t *testing.T) {
	in := start(t, 1)
	code, _, stderr := runCmd(t, in.dir, "-c", in.conf)
	if code == 0 || !strings.Contains(stderr, "another nproxy master is running") {
		t.Fatalf("second master: exit %d, stderr %q; want a refusal", code, stderr)
	}
	// The first one is untouched, and -s reaches it through the pid file.
	in.waitServing()
	if code, _, stderr := runCmd(t, in.dir, "-s", "quit", "-c", in.conf); code != 0 {
		t.Fatalf("-s quit: exit %d: %s", code, stderr)
	}
	if code := in.waitExit(10 * time.Second); code != 0 {
		t.Fatalf("master exit code %d after -s quit", code)
	}
	if code, _, stderr := runCmd(t, in.dir, "-s", "reload", "-c", in.conf); code == 0 || !strings.Contains(stderr, "no nproxy master is running") {
		t.Fatalf("-s with no master: exit %d, stderr %q", code, stderr)
	}
}

func TestDefaultConfig(t *testing.T) {
	if c, err := net.DialTimeout("tcp", "127.0.0.1:8080", time.Second); err == nil {
		c.Close()
		t.Skip("127.0.0.1:8080 is in use")
	}
	dir := t.TempDir()
	in := &instance{t: t, dir: dir, addr: "127.0.0.1:8080", logPath: filepath.Join(dir, "stderr.log"), done: make(chan struct{})}
	index := fmt.Sprintf("default config test %d\n", time.Now().UnixNano())
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte(index), 0o644); err != nil {
		t.Fatal(err)
	}
	in.run("--workers", "2")
	in.waitServing()
	in.waitChildren(2, 5*time.Second)
	resp, err := http.Get("http://127.0.0.1:8080/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != index {
		t.Fatalf("GET / = %q, want the cwd's index.html %q", body, index)
	}
	in.signal(syscall.SIGINT)
	if code := in.waitExit(5 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGINT, want 0", code)
	}
}

// TestMetricsSumWorkers checks that /metrics on any worker counts the
// requests of every worker (the master's shared table), and what only
// the master sees: reloads, good and bad, the configuration generation,
// and a worker killed and replaced.
func TestMetricsSumWorkers(t *testing.T) {
	in := newInstance(t, 2)
	f, err := os.OpenFile(in.conf, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("metrics = on\n")
	f.Close()
	in.run("-c", in.conf)
	in.waitServing()
	kids := in.waitChildren(2, 5*time.Second)
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	get := func(path string) []byte {
		t.Helper()
		res, err := c.Get("http://" + in.addr + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		return body
	}
	scrape := func() promtest.Page {
		t.Helper()
		body := get("/metrics")
		p, err := promtest.Parse(body)
		if err != nil {
			t.Fatalf("/metrics: %v\n%s", err, body)
		}
		return p
	}
	value := func(p promtest.Page, name string, ls promtest.Labels) float64 {
		t.Helper()
		v, ok := p.Sum(name, ls)
		if !ok {
			t.Fatalf("no %s{%s}", name, ls)
		}
		return v
	}
	const n = 100
	for range n {
		get("/index.html")
	}
	base := 0.0              // waitServing's requests, and n
	for i := 0; i < 4; i++ { // whichever worker answers, it sees all of them
		p := scrape()
		got := value(p, "nproxy_http_requests_total", "code=2xx")
		if i == 0 {
			if got < n {
				t.Fatalf("2xx counter %v after %d requests over 2 workers", got, n)
			}
			base = got
		}
		// Each earlier scrape is a 2xx too.
		if got != base+float64(i) {
			t.Fatalf("2xx counter %v at scrape %d, want %v", got, i, base+float64(i))
		}
		if got := value(p, "nproxy_config_generation", ""); got != 1 {
			t.Fatalf("generation %v at the start, want 1", got)
		}
	}

	// A good reload, then a bad one.
	in.signal(syscall.SIGHUP)
	waitMetric(t, scrape, "nproxy_config_reloads_total", "result=ok", 1)
	in.waitChildren(2, 5*time.Second)
	f, _ = os.OpenFile(in.conf, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("bogus_key = 1\n")
	f.Close()
	in.signal(syscall.SIGHUP)
	waitMetric(t, scrape, "nproxy_config_reloads_total", "result=failed", 1)
	p := scrape()
	if got := value(p, "nproxy_config_generation", ""); got != 2 {
		t.Errorf("generation %v after one good reload, want 2", got)
	}
	// Counters went on across the reload.
	if got := value(p, "nproxy_http_requests_total", "code=2xx"); got < n+4 {
		t.Errorf("2xx counter %v after the reload, want at least %d", got, n+4)
	}

	// A worker killed is replaced, and counted.
	kids = in.waitChildren(2, 5*time.Second)
	syscall.Kill(kids[0], syscall.SIGKILL)
	waitMetric(t, scrape, "nproxy_worker_restarts_total", "cause=signal", 1)
}

// waitMetric polls /metrics until name{ls} is want.
func waitMetric(t *testing.T, scrape func() promtest.Page, name string, ls promtest.Labels, want float64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		v, _ := scrape().Sum(name, ls)
		if v == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s{%s} = %v, want %v", name, ls, v, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
