//go:build linux

package proc_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Tests of issue 11, section 1: a reload (SIGHUP) or a graceful stop
// (SIGTERM) loses no request, even on keep-alive connections that send
// request after request with no pause.

// backends lists the backends this machine can run, for subtests.
func backends(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("nproxy --version: %v\n%s", err, out)
	}
	list := []string{"epoll"}
	if strings.Contains(string(out), "io_uring: yes") {
		list = append(list, "io_uring")
	} else {
		t.Logf("io_uring is not usable here: epoll only")
	}
	return list
}

// startBackend runs a master on backend with workers workers and the
// extra global keys, serving the instance's root "a".
func startBackend(t *testing.T, backend string, workers int, extra string) *instance {
	t.Helper()
	in := newInstance(t, workers)
	in.rewrite(workers, in.root("a", "A\n"), backend, extra)
	in.run("-c", in.conf)
	in.waitServing()
	return in
}

// rewrite writes the instance's config anew.
func (in *instance) rewrite(workers int, root, backend, extra string) {
	in.t.Helper()
	writeConfig(in.t, in.conf, in.addr, root, workers, "pid_file = "+in.pidFile+"\nbackend = "+backend+"\n"+extra)
}

// reloadAndWait sends SIGHUP and waits until the master logged one more
// "reloaded:" line than before.
func (in *instance) reloadAndWait() {
	in.t.Helper()
	n := strings.Count(in.log(), "reloaded:")
	in.signal(syscall.SIGHUP)
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(in.log(), "reloaded:") <= n {
		if time.Now().After(deadline) {
			in.t.Fatalf("no reload within 10s:\n%s", in.log())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// drainTally counts what keep-alive clients saw. Every connection ends
// one of three ways: a response said Connection: close (closed), the
// server ended it while it was idle with a clean EOF (idleEOF), or an
// error (failed: a request without its response, a reset).
type drainTally struct {
	requests, closed, idleEOF, refused atomic.Int64
	bodies                             sync.Map // response bodies seen
	loadResult
}

func (d *drainTally) String() string {
	d.mu.Lock()
	failures := strings.Join(d.failures, "; ")
	d.mu.Unlock()
	return fmt.Sprintf("%d requests; connections ended by Connection: close %d, idle EOF %d, refused %d; %d failed: %s",
		d.requests.Load(), d.closed.Load(), d.idleEOF.Load(), d.refused.Load(), d.failed.Load(), failures)
}

// request is the request the keep-alive clients send.
const request = "GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n"

// exchange sends one request on a keep-alive connection and reads the
// whole response; it reports whether the response said Connection: close.
func exchange(conn net.Conn, br *bufio.Reader, d *drainTally) (closed bool, err error) {
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, request); err != nil {
		return false, fmt.Errorf("write: %w", err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return false, fmt.Errorf("reading the response: %w", err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return false, fmt.Errorf("reading the body: %w", err)
	}
	if resp.StatusCode != 200 {
		return false, fmt.Errorf("status %d", resp.StatusCode)
	}
	d.requests.Add(1)
	d.bodies.Store(string(body), true)
	return resp.Close, nil
}

// tightLoop keeps one keep-alive connection busy, sending the next request
// as soon as the previous response is read, and opens a new connection
// when the server closes one with Connection: close, until stop is closed
// (or, once final is closed, until its connection ends).
func tightLoop(addr string, d *drainTally, stop, final <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		case <-final:
			return
		default:
		}
		conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			select {
			case <-final: // the listening sockets are closing
				d.refused.Add(1)
				return
			default:
			}
			d.fail("dial: %v", err)
			continue
		}
		br := bufio.NewReader(conn)
		for {
			select {
			case <-stop:
				conn.Close()
				return
			default:
			}
			closed, err := exchange(conn, br, d)
			if err != nil {
				d.fail("%v", err)
				break
			}
			if closed {
				d.closed.Add(1)
				break
			}
		}
		conn.Close()
	}
}

// sleeper makes one request on a keep-alive connection, then waits without
// sending for the server to end the connection: it must end with a clean
// EOF (a FIN, not a reset) once the drain's idle grace has passed.
//
// A connection that a draining worker took from its listening socket's
// queue is answered with Connection: close; the sleeper then tries again.
func sleeper(addr string, d *drainTally, wg *sync.WaitGroup) {
	defer wg.Done()
	var conn net.Conn
	var br *bufio.Reader
	for {
		var err error
		conn, err = net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			d.fail("sleeper dial: %v", err)
			return
		}
		br = bufio.NewReader(conn)
		closed, err := exchange(conn, br, d)
		if err != nil {
			d.fail("sleeper's request: %v", err)
			conn.Close()
			return
		}
		if !closed {
			break
		}
		d.closed.Add(1)
		conn.Close()
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(60 * time.Second))
	n, err := br.Read(make([]byte, 1))
	if n == 0 && errors.Is(err, io.EOF) {
		d.idleEOF.Add(1)
		return
	}
	d.fail("idle connection ended with %d bytes, %v; want a clean EOF", n, err)
}

// TestReloadKeepAliveLossless is issue 11's wrk run as a test: keep-alive
// connections in tight loops across three reloads and a graceful stop,
// on each backend. No request may fail; every connection ends with a
// Connection: close response, or by a clean EOF while it was idle.
func TestReloadKeepAliveLossless(t *testing.T) {
	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			in := startBackend(t, backend, 2, "drain_idle_grace = 300ms")
			in.waitChildren(2, 5*time.Second)
			var d drainTally
			stop, final := make(chan struct{}), make(chan struct{})
			var loops, sleepers sync.WaitGroup
			for range 16 {
				loops.Add(1)
				go func() { defer loops.Done(); tightLoop(in.addr, &d, stop, final) }()
			}
			defer close(stop)
			for round := range 3 {
				for range 2 {
					sleepers.Add(1)
					go sleeper(in.addr, &d, &sleepers)
				}
				time.Sleep(300 * time.Millisecond)
				root := in.root(fmt.Sprintf("r%d", round), fmt.Sprintf("R%d\n", round))
				in.rewrite(2, root, backend, "drain_idle_grace = 300ms")
				in.reloadAndWait()
			}
			time.Sleep(300 * time.Millisecond)
			// The graceful stop: the loops end with their connection.
			close(final)
			in.signal(syscall.SIGTERM)
			if code := in.waitExit(20 * time.Second); code != 0 {
				t.Fatalf("master exit code %d, want 0", code)
			}
			loops.Wait()
			sleepers.Wait()
			t.Log(&d)
			if d.failed.Load() != 0 {
				t.Fatalf("%s", &d)
			}
			if _, ok := d.bodies.Load("R2\n"); !ok {
				t.Errorf("the last reload's root never answered")
			}
			if d.idleEOF.Load() != 6 {
				t.Errorf("%d idle connections ended with a clean EOF, want all 6", d.idleEOF.Load())
			}
		})
	}
}

// TestReloadTightConnectionSeesClose follows one keep-alive connection that
// sends request after request across a reload: the old worker must answer
// its next request, saying Connection: close, and never end it with an
// EOF or a reset instead.
func TestReloadTightConnectionSeesClose(t *testing.T) {
	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			in := startBackend(t, backend, 1, "")
			conn, err := net.DialTimeout("tcp", in.addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			br := bufio.NewReader(conn)
			var d drainTally
			if closed, err := exchange(conn, br, &d); err != nil || closed {
				t.Fatalf("first request: closed %v, %v", closed, err)
			}
			reloaded := make(chan struct{})
			go func() {
				defer close(reloaded)
				in.signal(syscall.SIGHUP)
			}()
			deadline := time.Now().Add(10 * time.Second)
			for {
				closed, err := exchange(conn, br, &d)
				if err != nil {
					t.Fatalf("after %d requests: %v; want a Connection: close response", d.requests.Load(), err)
				}
				if closed {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("no Connection: close within 10s of the reload (%d requests)", d.requests.Load())
				}
			}
			<-reloaded
			// The old worker lingers: the connection ends with a clean
			// EOF, not a reset.
			conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			if n, err := br.Read(make([]byte, 1)); n != 0 || !errors.Is(err, io.EOF) {
				t.Fatalf("after Connection: close: %d bytes, %v; want a clean EOF", n, err)
			}
			t.Logf("%d requests before Connection: close", d.requests.Load())
		})
	}
}

// churn makes requests on new connections, one each (Connection: close),
// until stop is closed.
func churn(addr string, d *drainTally, stop <-chan struct{}) {
	const req = "GET /index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
	for {
		select {
		case <-stop:
			return
		default:
		}
		conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			d.fail("dial: %v", err)
			continue
		}
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(conn, req); err != nil {
			d.fail("write: %v", err)
			conn.Close()
			continue
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			d.fail("reading the response: %v", err)
			conn.Close()
			continue
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		conn.Close()
		if err != nil || resp.StatusCode != 200 {
			d.fail("status %d, body: %v", resp.StatusCode, err)
			continue
		}
		d.requests.Add(1)
	}
}

// TestReloadShrinkKeepsQueued lowers worker_processes by a reload under a
// stream of new connections, then raises it again: no connection queued
// on the sockets of the dropped slots, nor any other, may be reset, and
// after the second reload new connections reach every worker.
func TestReloadShrinkKeepsQueued(t *testing.T) {
	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			in := startBackend(t, backend, 4, "")
			in.waitChildren(4, 5*time.Second)
			var d drainTally
			stop := make(chan struct{})
			var wg sync.WaitGroup
			for range 8 {
				wg.Add(1)
				go func() { defer wg.Done(); churn(in.addr, &d, stop) }()
			}
			for range 16 {
				wg.Add(1)
				go func() { defer wg.Done(); tightLoop(in.addr, &d, stop, nil) }()
			}
			time.Sleep(300 * time.Millisecond)
			in.rewrite(1, in.root("b", "B\n"), backend, "")
			in.reloadAndWait()
			in.waitChildren(1, 10*time.Second)
			time.Sleep(300 * time.Millisecond)
			// Back to three: the kept sockets become slots again, and
			// new connections reach every worker.
			in.rewrite(3, in.root("c", "C\n"), backend, "")
			in.reloadAndWait()
			kids := in.waitChildren(3, 10*time.Second)
			time.Sleep(300 * time.Millisecond)
			close(stop)
			wg.Wait()
			t.Log(&d)
			if d.failed.Load() != 0 {
				t.Fatalf("%s", &d)
			}
			for _, body := range []string{"B\n", "C\n"} {
				if _, ok := d.bodies.Load(body); !ok {
					t.Errorf("the configuration answering %q never answered", body)
				}
			}
			c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
			seen := map[int]int{}
			for range 300 {
				pid, err := healthPid(c, in.addr)
				if err != nil {
					t.Fatal(err)
				}
				if !contains(kids, pid) {
					t.Fatalf("answer from pid %d, not one of the workers %v", pid, kids)
				}
				seen[pid]++
			}
			if len(seen) != 3 {
				t.Fatalf("300 new connections reached workers %v, want all of %v", seen, kids)
			}
		})
	}
}

// TestReloadProxiedKeepAlive runs keep-alive loops of proxied requests
// (downloads and uploads) across reloads: the proxy writes its own
// response heads, and a response that began before the drain said
// keep-alive, so the connection must stay open for its next request
// (answered with Connection: close) instead of closing under it.
func TestReloadProxiedKeepAlive(t *testing.T) {
	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			up := startFaultBackend(t)
			in := newInstance(t, 2)
			extra := "proxy_pass = " + up.addr + "\nproxy_prefix = /api/\n"
			conf := func() {
				in.rewrite(2, in.root("a", "A\n"), backend, "")
				f, err := os.OpenFile(in.conf, os.O_APPEND|os.O_WRONLY, 0)
				if err != nil {
					t.Fatal(err)
				}
				f.WriteString(extra)
				f.Close()
			}
			conf()
			in.run("-c", in.conf)
			in.waitServing()
			log := newFaultLog()
			stop := make(chan struct{})
			var wg sync.WaitGroup
			for range 4 {
				wg.Add(2)
				go func() {
					defer wg.Done()
					keepAliveLoop(in.addr, "download", log, stop, func(c net.Conn, br *bufio.Reader) (bool, error) {
						return keepAliveGet(c, br, "/api/dl", len(faultDownload))
					})
				}()
				go func() { defer wg.Done(); keepAliveLoop(in.addr, "upload", log, stop, upload) }()
			}
			for range 2 {
				time.Sleep(300 * time.Millisecond)
				in.reloadAndWait()
			}
			time.Sleep(300 * time.Millisecond)
			close(stop)
			wg.Wait()
			t.Logf("downloads %d of %d, uploads %d of %d", log.done["download"], log.sent["download"], log.done["upload"], log.sent["upload"])
			for i, f := range log.failures {
				if i == 10 {
					break
				}
				t.Errorf("%s: %s", f.kind, f.err)
			}
			if log.done["download"] == 0 || log.done["upload"] == 0 {
				t.Fatal("no proxied request completed")
			}
		})
	}
}
