//go:build linux

package proc_test

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// fakeNotify is the service manager's side of NOTIFY_SOCKET: a datagram
// socket whose messages a test reads in order.
type fakeNotify struct {
	t    *testing.T
	conn *net.UnixConn
	name string // NOTIFY_SOCKET's value
	seen []string
}

// newFakeNotify listens on a socket file in dir, or on an abstract name
// when abstract is set (NOTIFY_SOCKET=@name).
func newFakeNotify(t *testing.T, dir string, abstract bool) *fakeNotify {
	t.Helper()
	name := filepath.Join(dir, "notify.sock")
	if abstract {
		name = fmt.Sprintf("@nproxy-test-notify-%d-%d", os.Getpid(), rand.Int64())
	}
	// net turns a leading '@' into the abstract namespace, as systemd
	// and sd_notify do.
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &fakeNotify{t: t, conn: conn, name: name}
}

// next returns the next message that has every one of lines (regexps
// matched against whole lines), skipping others; it fails the test after
// 10 s.
func (n *fakeNotify) next(lines ...string) string {
	n.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	buf := make([]byte, 4096)
	for {
		n.conn.SetReadDeadline(deadline)
		k, err := n.conn.Read(buf)
		if err != nil {
			n.t.Fatalf("no message with %q: %v; messages so far: %q", lines, err, n.seen)
		}
		msg := string(buf[:k])
		n.seen = append(n.seen, msg)
		ok := true
		for _, l := range lines {
			if !regexp.MustCompile(`(?m)^` + l + `$`).MatchString(msg) {
				ok = false
			}
		}
		if ok {
			return msg
		}
	}
}

// TestSdNotify runs a master under a fake service manager and checks what
// it is told: READY=1 once every worker accepts, RELOADING=1 with
// MONOTONIC_USEC then READY=1 around a good and a refused reload, STATUS=
// lines, and STOPPING=1; the workers do not inherit NOTIFY_SOCKET.
func TestSdNotify(t *testing.T) {
	for _, backend := range backends(t) {
		for _, abstract := range []bool{false, true} {
			name := backend + "/path"
			if abstract {
				name = backend + "/abstract"
			}
			t.Run(name, func(t *testing.T) { testSdNotify(t, backend, abstract) })
		}
	}
}

func testSdNotify(t *testing.T, backend string, abstract bool) {
	in := newInstance(t, 2)
	in.rewrite(2, in.root("a", "A\n"), backend, "")
	n := newFakeNotify(t, in.dir, abstract)
	in.env = []string{"NOTIFY_SOCKET=" + n.name}
	in.run("-c", in.conf)

	msg := n.next("READY=1", `STATUS=serving `+regexp.QuoteMeta(in.addr)+` \(`+backend+`, 2 workers\)`)
	// READY=1 comes once every worker accepts: no polling needed.
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	if body := get(t, c, "http://"+in.addr+"/"); body != "A\n" {
		t.Fatalf("after %q: GET / = %q", msg, body)
	}
	for _, pid := range in.waitChildren(2, 5*time.Second) {
		env, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains("\x00"+string(env), "\x00NOTIFY_SOCKET=") {
			t.Errorf("worker %d inherited NOTIFY_SOCKET", pid)
		}
	}

	// A good reload.
	in.rewrite(2, in.root("b", "B\n"), backend, "")
	in.signal(syscall.SIGHUP)
	msg = n.next("RELOADING=1", `MONOTONIC_USEC=\d+`)
	usec, _ := strconv.ParseInt(regexp.MustCompile(`MONOTONIC_USEC=(\d+)`).FindStringSubmatch(msg)[1], 10, 64)
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	if now := ts.Nano() / 1000; usec > now || now-usec > 10e6 {
		t.Errorf("MONOTONIC_USEC=%d, CLOCK_MONOTONIC is %d µs now", usec, now)
	}
	n.next("READY=1", `STATUS=serving .*`)
	// The new workers accept; an old one may still take a connection
	// until it has handled its SIGTERM (they share the slot's socket).
	for deadline := time.Now().Add(5 * time.Second); get(t, c, "http://"+in.addr+"/") != "B\n"; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the new root never answered after the reload's READY=1")
		}
	}

	// A refused reload ends with READY=1 too, and says why.
	os.WriteFile(in.conf, []byte("worker_processes = 2\n[server]\nlisten = "+in.addr+"\nbogus = 1\n"), 0o644)
	in.signal(syscall.SIGHUP)
	n.next("RELOADING=1", `MONOTONIC_USEC=\d+`)
	n.next("READY=1", `STATUS=reload failed: invalid configuration: .*nproxy\.ini:4: bogus: unknown key.*previous configuration`)

	in.signal(syscall.SIGTERM)
	n.next("STOPPING=1", `STATUS=draining`)
	if code := in.waitExit(10 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}

// get returns the body of a GET that must answer 200.
func get(t *testing.T, c *http.Client, url string) string {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	return string(body)
}

// TestSdNotifyBadSocket checks that a NOTIFY_SOCKET the master cannot
// use stops the start with a reason, rather than leaving the service
// manager waiting.
func TestSdNotifyBadSocket(t *testing.T) {
	in := newInstance(t, 1)
	in.env = []string{"NOTIFY_SOCKET=relative.sock"}
	in.run("-c", in.conf)
	if code := in.waitExit(10 * time.Second); code == 0 || !strings.Contains(in.log(), "NOTIFY_SOCKET") {
		t.Fatalf("exit %d, log:\n%s", code, in.log())
	}
}

// TestSdNotifyStartFails checks that a start refused before any worker
// runs (here: its listen address is taken) tells the service manager why
// with STATUS=failed to start and the key's FILE:LINE, on both backends,
// then exits 1.
func TestSdNotifyStartFails(t *testing.T) {
	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			taken, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer taken.Close()
			in := newInstance(t, 1)
			in.addr = taken.Addr().String()
			writeConfig(t, in.conf, in.addr, in.root("a", "A\n"), 1, "pid_file = "+in.pidFile+"\nbackend = "+backend)
			n := newFakeNotify(t, in.dir, false)
			in.env = []string{"NOTIFY_SOCKET=" + n.name}
			in.run("-c", in.conf)
			n.next(`STATUS=failed to start: .*nproxy\.ini:5: listen ` + regexp.QuoteMeta(in.addr) + `: bind: address already in use.*`)
			if code := in.waitExit(10 * time.Second); code != 1 {
				t.Fatalf("exit code %d, want 1", code)
			}
		})
	}
}
