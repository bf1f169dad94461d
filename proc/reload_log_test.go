//go:build linux

package proc_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nproxy/nproxy/internal/testcert"
)

// openBy lists the processes among pids that hold path open.
func openBy(pids []int, path string) []int {
	var out []int
	for _, pid := range pids {
		dir := "/proc/" + strconv.Itoa(pid) + "/fd"
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if target, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil && target == path {
				out = append(out, pid)
				break
			}
		}
	}
	return out
}

// waitFileHas polls path until it contains want n times.
func (in *instance) waitFileHas(path, want string, n int, timeout time.Duration) {
	in.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		b, _ := os.ReadFile(path)
		if strings.Count(string(b), want) >= n {
			return
		}
		if time.Now().After(deadline) {
			in.t.Fatalf("%s does not contain %q %d times within %v:\n%s\nstderr:\n%s", path, want, n, timeout, b, in.log())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestReloadClosesOldErrorLog changes error_log by a reload: afterwards no
// process of the instance holds the old file open (the master's old
// logger used to stay open for the master's life).
func TestReloadClosesOldErrorLog(t *testing.T) {
	in := newInstance(t, 1)
	root := in.root("a", "A\n")
	one, two := filepath.Join(in.dir, "one.log"), filepath.Join(in.dir, "two.log")
	writeConfig(t, in.conf, in.addr, root, 1, "pid_file = "+in.pidFile+"\nerror_log = "+one)
	in.run("-c", in.conf)
	in.waitServing()
	in.waitFileHas(one, "nproxy started", 1, 10*time.Second)
	master := in.cmd.Process.Pid
	if got := openBy([]int{master}, one); len(got) != 1 {
		t.Fatalf("the master does not hold %s open before the reload", one)
	}
	writeConfig(t, in.conf, in.addr, root, 1, "pid_file = "+in.pidFile+"\nerror_log = "+two)
	in.signal(syscall.SIGHUP)
	in.waitFileHas(two, "reloaded:", 1, 10*time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for {
		pids := append([]int{master}, children(master)...)
		holders := openBy(pids, one)
		if len(holders) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still open in %v (master %d) after the reload", one, holders, master)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(openBy([]int{master}, two)) != 1 {
		t.Fatalf("the master does not log to %s after the reload", two)
	}
}

// TestConfigWarningsLogged starts and reloads a master whose certificate
// expires in 10 days: the configuration's warning is logged at warn level
// at the start and again at the reload (it used to reach only nproxy -t).
func TestConfigWarningsLogged(t *testing.T) {
	in := newInstance(t, 1)
	cert, key := testcert.Write(t, in.dir, testcert.Options{NotAfter: time.Now().Add(10 * 24 * time.Hour)})
	conf := fmt.Sprintf("worker_processes = 1\npid_file = %s\n[server]\nlisten = %s\nstatic_root = %s\ntls_cert = %s\ntls_key = %s\n",
		in.pidFile, in.addr, in.root("a", "A\n"), cert, key)
	if err := os.WriteFile(in.conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	in.run("-c", in.conf)
	in.waitFileHas(in.logPath, "nproxy started", 1, 10*time.Second)
	in.signal(syscall.SIGHUP)
	in.waitFileHas(in.logPath, "reloaded:", 1, 10*time.Second)
	var warned int
	for _, line := range strings.Split(in.log(), "\n") {
		if strings.Contains(line, "[warn]") && strings.Contains(line, "tls_cert") && strings.Contains(line, "expires in") {
			warned++
		}
	}
	if warned != 2 {
		t.Fatalf("%d warn lines about the expiring certificate, want 2 (start, reload):\n%s", warned, in.log())
	}
}
