//go:build linux

package servertest

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/nproxy/nproxy/config"
	"github.com/nproxy/nproxy/logging"
	"github.com/nproxy/nproxy/proc"
	"github.com/nproxy/nproxy/reactor"
	"golang.org/x/sys/unix"
)

// Timeout bounds every wait of this package: a worker's start and stop,
// and WaitFor.
const Timeout = 10 * time.Second

// Backends lists the reactor backends a server test runs on: epoll, and
// io_uring when this kernel supports it (logged when it does not).
func Backends(t testing.TB) []string {
	out := []string{"epoll"}
	if _, _, err := reactor.New("io_uring"); err == nil {
		out = append(out, "io_uring")
	} else {
		t.Logf("io_uring backend skipped: %v", err)
	}
	return out
}

// ForEachBackend runs f as a subtest per backend.
func ForEachBackend(t *testing.T, f func(t *testing.T, backend string)) {
	for _, b := range Backends(t) {
		t.Run(b, func(t *testing.T) { f(t, b) })
	}
}

// Server is a worker serving one [server] on a loopback port.
type Server struct {
	Addr string // "127.0.0.1:PORT"
	URL  string // "http://127.0.0.1:PORT"
	W    *proc.Worker
}

// Start runs a worker on backend with the global keys globals and the
// [server] keys keys (one "key = value" per line; listen is added), and
// stops it when the test ends.
func Start(t testing.TB, backend, globals, keys string) *Server {
	t.Helper()
	fd, err := reactor.ListenTCP("127.0.0.1:0", 0)
	if err != nil {
		t.Fatal(err)
	}
	port, _ := reactor.LocalPort(fd)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	text := fmt.Sprintf("backend = %s\nworker_connections = 1000\n%s\n[server]\nlisten = %s\n%s", backend, globals, addr, keys)
	cfg, err := config.Parse("servertest.ini", []byte(text))
	if err != nil {
		t.Fatalf("config: %v\n%s", err, text)
	}
	w := RunWorker(t, cfg, backend, logging.Warn, []proc.Listener{{Addr: addr, Fd: fd}})
	return &Server{Addr: addr, URL: "http://" + addr, W: w}
}

// RunWorker runs a worker for cfg on backend with the listening sockets
// ls (which it owns from then on: its loop closes them as it stops),
// waits until it serves, and stops it when the test ends.
func RunWorker(t testing.TB, cfg *config.Config, backend string, level logging.Level, ls []proc.Listener) *proc.Worker {
	t.Helper()
	log, _ := logging.New("stderr", level)
	ready := make(chan struct{})
	w, err := proc.NewWorker(proc.WorkerOptions{Config: cfg, Listeners: ls,
		Backend: backend, Log: log, Ready: func() { close(ready) }})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- w.Run() }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("worker: %v", err)
	case <-time.After(Timeout):
		t.Fatal("worker did not start")
	}
	t.Cleanup(func() {
		w.Stop()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("worker: %v", err)
			}
		case <-time.After(Timeout):
			t.Error("worker did not stop")
		}
		// The worker's loop closed the listening sockets as it stopped.
	})
	return w
}

// Client returns an HTTP client for s with every request bounded by
// Timeout, and no transparent decompression (tests see the bytes sent).
func (s *Server) Client() *http.Client {
	return &http.Client{
		Timeout:   Timeout,
		Transport: &http.Transport{DisableCompression: true},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // tests check the 301 itself
		},
	}
}

// WaitFor polls cond until it holds, failing the test after Timeout.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(Timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, Timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// RefusedAddr returns a loopback address that refuses connections until
// the test ends: its port is held by a socket that is bound but does not
// listen (a SYN to it is answered with a reset). Closing a listener on
// port 0 and keeping its address is not enough: the kernel hands that
// port to the next bind on port 0, the test's own worker's listener
// included (a TLS one then answers a proxied plain request 400, not the
// expected 502), and to other processes' tests. The holding socket has
// no SO_REUSEADDR, so no listener of any process can bind the port, and
// connect(2) never picks a bound port as a source port, so a proxy
// cannot connect to itself there either.
func RefusedAddr(t testing.TB) string {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(os.NewSyscallError("socket", err))
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(os.NewSyscallError("bind", err))
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(os.NewSyscallError("getsockname", err))
	}
	return "127.0.0.1:" + strconv.Itoa(sa.(*unix.SockaddrInet4).Port)
}

// RawBackend starts a loopback listener whose every connection is served
// by serve (see Serve), and returns its address: a backend whose bytes a
// test writes by hand (framing, timing, errors).
func RawBackend(t testing.TB, serve func(c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return Serve(t, ln, serve)
}

// Serve serves every connection ln accepts with serve, on a goroutine of
// its own, and closes it when serve returns; ln closes when the test
// ends. It returns ln's address.
func Serve(t testing.TB, ln net.Listener, serve func(c net.Conn)) string {
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				serve(c)
			}()
		}
	}()
	return ln.Addr().String()
}
