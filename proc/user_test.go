//go:build linux

package proc_test

import (
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// procUID returns the real, effective, saved and file-system uids of pid.
func procUID(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^Uid:\s+(.*)$`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no Uid line in /proc/%d/status", pid)
	}
	return string(regexp.MustCompile(`\s+`).ReplaceAll(m[1], []byte(" ")))
}

// TestUserDrop runs a root master with user = nobody: every worker runs as
// nobody from its start (real, effective, saved uid), the master stays
// root, and the error log the master created is nobody's, again after a
// reopen (SIGUSR1) that follows a logrotate.
func TestUserDrop(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: only a root master can switch its workers to another user")
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("no user nobody: %v", err)
	}
	uid, _ := strconv.Atoi(nobody.Uid)
	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			in := newInstance(t, 2)
			// nobody must reach the root: t.TempDir's directories are 0700.
			for d := in.dir; d != "/tmp" && d != "/"; d = filepath.Dir(d) {
				os.Chmod(d, 0o755)
			}
			errLog := filepath.Join(in.dir, "error.log")
			in.rewrite(2, in.root("a", "A\n"), backend, "user = nobody\nerror_log = "+errLog+"\nlog_level = debug")
			in.run("-c", in.conf)
			in.waitServing()
			c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
			if body := get(t, c, "http://"+in.addr+"/"); body != "A\n" {
				t.Fatalf("GET / = %q", body)
			}
			// Every worker has opened the log once the master says it
			// started (a worker still starting would find the log moved
			// away below).
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
				if b, _ := os.ReadFile(errLog); regexp.MustCompile(`nproxy started:`).Match(b) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("no 'nproxy started' line within 10s")
				}
			}
			want := strconv.Itoa(uid)
			want = want + " " + want + " " + want + " " + want
			for _, pid := range in.waitChildren(2, 5*time.Second) {
				if got := procUID(t, pid); got != want {
					t.Errorf("worker %d: uids %q, want %q", pid, got, want)
				}
			}
			if got := procUID(t, in.cmd.Process.Pid); got != "0 0 0 0" {
				t.Errorf("master: uids %q, want root's", got)
			}
			owner := func() int {
				fi, err := os.Stat(errLog)
				if err != nil {
					return -1
				}
				return int(fi.Sys().(*syscall.Stat_t).Uid)
			}
			if owner() != uid {
				t.Fatalf("error log owned by %d, want nobody (%d)", owner(), uid)
			}
			// logrotate moves the file away, then asks for a reopen.
			os.Rename(errLog, errLog+".1")
			in.signal(syscall.SIGUSR1)
			deadline := time.Now().Add(5 * time.Second)
			for owner() != uid {
				if time.Now().After(deadline) {
					t.Fatalf("after SIGUSR1: error log owned by %d, want nobody (%d)", owner(), uid)
				}
				time.Sleep(10 * time.Millisecond)
			}
			// A reload starts workers as nobody too.
			in.signal(syscall.SIGHUP)
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
				if b, _ := os.ReadFile(errLog); regexp.MustCompile(`reloaded:`).Match(b) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("no reload within 10s")
				}
			}
			kids := in.waitChildren(2, 5*time.Second)
			for _, pid := range kids {
				if got := procUID(t, pid); got != want {
					t.Errorf("worker %d after a reload: uids %q, want %q", pid, got, want)
				}
			}
			// logrotate moved the log and the reopen has not come yet when
			// a worker dies: its replacement, which cannot create the log
			// in this root-owned directory, gets it from the master.
			os.Rename(errLog, errLog+".2")
			syscall.Kill(kids[0], syscall.SIGKILL)
			for deadline := time.Now().Add(10 * time.Second); owner() != uid; time.Sleep(10 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("after a respawn: error log owned by %d, want nobody (%d): the new worker could not open it", owner(), uid)
				}
			}
			in.waitServing()
		})
	}
}
