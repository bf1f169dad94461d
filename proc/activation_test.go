//go:build linux

package proc_test

import (
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// listenerFile returns a listening socket on addr as a file to hand
// down, as a service manager opens it (without SO_REUSEPORT: a master
// that bound the address itself would fail).
func listenerFile(t *testing.T, addr string) *os.File {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	f, err := l.(*net.TCPListener).File()
	l.Close() // f holds the socket
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// TestSocketActivation hands a master two listening sockets the way
// systemd does (LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES): the one bound to
// the listen address is served by every worker, across a reload, and
// the stray one is closed with a warning.
func TestSocketActivation(t *testing.T) {
	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			in := newInstance(t, 2)
			in.rewrite(2, in.root("a", "A\n"), backend, "")
			stray := freeAddr(t)
			in.files = []*os.File{listenerFile(t, in.addr), listenerFile(t, stray)}
			in.env = []string{"LISTEN_FDS=2", "LISTEN_FDNAMES=web:stray"}
			in.listenPID = true
			in.run("-c", in.conf)
			in.waitServing()
			for _, want := range []string{
				`listen ` + regexp.QuoteMeta(in.addr) + `: the service manager's socket, fd 3 \("web"\), shared by the workers`,
				`socket activation: fd 4 \("stray"\) is bound to ` + regexp.QuoteMeta(stray) + `, which no listen names: closed`,
			} {
				if !regexp.MustCompile(want).MatchString(in.log()) {
					t.Errorf("log lacks %q:\n%s", want, in.log())
				}
			}
			// Not File.Fd: it would make the socket, shared with the
			// workers, blocking.
			var st syscall.Stat_t
			rc, err := in.files[0].SyscallConn()
			if err != nil {
				t.Fatal(err)
			}
			rc.Control(func(fd uintptr) { err = syscall.Fstat(int(fd), &st) })
			if err != nil {
				t.Fatal(err)
			}
			adopted := "socket:[" + strconv.FormatUint(st.Ino, 10) + "]"
			// Our copies close: the stray socket is gone, the adopted one
			// lives in the master and its workers.
			for _, f := range in.files {
				f.Close()
			}
			if c, err := net.DialTimeout("tcp", stray, time.Second); err == nil {
				c.Close()
				t.Errorf("the stray socket %s still accepts", stray)
			}
			kids := in.waitChildren(2, 5*time.Second)
			c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
			for range 20 {
				pid, err := healthPid(c, in.addr)
				if err != nil {
					t.Fatal(err)
				}
				if !contains(kids, pid) {
					t.Fatalf("answer from pid %d, not one of the workers %v", pid, kids)
				}
			}
			for _, pid := range kids {
				if !holds(pid, adopted) {
					t.Errorf("worker %d does not serve the adopted socket %s", pid, adopted)
				}
				env, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
				if strings.Contains("\x00"+string(env), "\x00LISTEN_") {
					t.Errorf("worker %d inherited the LISTEN_ variables", pid)
				}
			}
			in.reloadAndWait()
			if body := get(t, c, "http://"+in.addr+"/"); body != "A\n" {
				t.Fatalf("after a reload: GET / = %q", body)
			}
		})
	}
}

// holds reports whether process pid has a descriptor open on link, as
// /proc/PID/fd shows it ("socket:[INODE]").
func holds(pid int, link string) bool {
	dir := "/proc/" + strconv.Itoa(pid) + "/fd"
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if l, err := os.Readlink(dir + "/" + e.Name()); err == nil && l == link {
			return true
		}
	}
	return false
}

// TestSocketActivationNotASocket checks that a descriptor that is no
// listening TCP socket stops the start with a reason.
func TestSocketActivationNotASocket(t *testing.T) {
	in := newInstance(t, 1)
	f, err := os.Open(in.conf)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	in.files = []*os.File{f}
	in.env = []string{"LISTEN_FDS=1"}
	in.listenPID = true
	in.run("-c", in.conf)
	if code := in.waitExit(10 * time.Second); code == 0 || !strings.Contains(in.log(), "socket activation: fd 3") {
		t.Fatalf("exit %d, log:\n%s", code, in.log())
	}
}
