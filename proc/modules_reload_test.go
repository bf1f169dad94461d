//go:build linux

package proc_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// buildWASM builds the package main pkg as a WebAssembly module at out,
// with the go command running the tests.
func buildWASM(t *testing.T, pkg, out string) {
	t.Helper()
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, b)
	}
}

// moduleTally counts what the keep-alive clients of
// TestReloadSwapsWASMModule saw: responses by the module that marked
// them (X-Module), and failures.
type moduleTally struct {
	byModule sync.Map // "a", "b" -> *atomic.Int64
	loadResult
}

func (m *moduleTally) count(mark string) int64 {
	if v, ok := m.byModule.Load(mark); ok {
		return v.(*atomic.Int64).Load()
	}
	return 0
}

// moduleClient sends GET /index.html on keep-alive connections until
// stop is closed or it made limit requests, opening a new connection
// when a response says Connection: close. Every response must be a
// whole 200 "A\n" marked by one of the modules; last is the mark of the
// latest one.
func moduleClient(addr string, tally *moduleTally, last *atomic.Value, stop <-chan struct{}, limit int) {
	var conn net.Conn
	var br *bufio.Reader
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	for n := 0; n < limit; n++ {
		select {
		case <-stop:
			return
		default:
		}
		if conn == nil {
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				tally.fail("dial: %v", err)
				return
			}
			conn, br = c, bufio.NewReader(c)
		}
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(conn, request); err != nil {
			tally.fail("write: %v", err)
			return
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			tally.fail("reading a response: %v", err)
			return
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		mark := resp.Header.Get("X-Module")
		switch {
		case err != nil:
			tally.fail("reading a body: %v", err)
			return
		case resp.StatusCode != 200 || string(body) != "A\n":
			tally.fail("status %d, body %q", resp.StatusCode, body)
		case mark != "a" && mark != "b" || len(resp.Header.Values("X-Module")) != 1:
			tally.fail("X-Module %q: want the mark of one module", resp.Header.Values("X-Module"))
		default:
			tally.ok.Add(1)
			v, _ := tally.byModule.LoadOrStore(mark, new(atomic.Int64))
			v.(*atomic.Int64).Add(1)
			last.Store(mark)
		}
		if resp.Close {
			conn.Close()
			conn = nil
		}
	}
}

// waitLog waits up to a minute for the master's log to hold n lines
// with text: a reload or a start compiles the WebAssembly module in the
// master and in every new worker, which takes seconds on a loaded
// machine.
func waitLog(t *testing.T, in *instance, text string, n int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for strings.Count(in.log(), text) < n {
		select {
		case <-in.done:
			t.Fatalf("the master exited:\n%s", in.log())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q line within a minute:\n%s", text, in.log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestReloadSwapsWASMModule swaps a WebAssembly module by reloading the
// configuration under load, on each backend: a real master with two
// workers, keep-alive clients in tight loops, SIGHUP with a config that
// names another .wasm file (and then the first again). Every request
// must get a whole response marked by one of the two modules, and every
// client must move to the new module's behaviour after each reload.
func TestReloadSwapsWASMModule(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.wasm"), filepath.Join(dir, "b.wasm")
	buildWASM(t, "github.com/nproxy/nproxy/modules/testdata/probe", a)
	buildWASM(t, "github.com/nproxy/nproxy/modules/examples/secheaders", b)
	modules := map[string]string{
		"a": "module = " + a + " respadd=X-Module:a\n", // the probe, adding a field
		"b": "module = " + b + " X-Module=b\n",         // secheaders, setting one
	}
	const clients, limit = 8, 200000
	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			in := newInstance(t, 2)
			root := in.root("a", "A\n")
			in.rewrite(2, root, backend, modules["a"])
			in.run("-c", in.conf)
			// Every process compiles the module before it serves: allow
			// a loaded machine more than waitServing's 10 s.
			waitLog(t, in, "nproxy started:", 1)
			in.waitServing()

			var tally moduleTally
			lasts := make([]atomic.Value, clients)
			stop := make(chan struct{})
			var wg sync.WaitGroup
			for i := range clients {
				wg.Add(1)
				go func() { defer wg.Done(); moduleClient(in.addr, &tally, &lasts[i], stop, limit) }()
			}
			stopped := false
			halt := func() {
				if !stopped {
					stopped = true
					close(stop)
					wg.Wait()
				}
			}
			defer halt()

			// switched waits until every client's latest response is
			// want's: each one's old worker ended its connection with
			// Connection: close, and the new connection reached a new
			// worker.
			switched := func(want string) {
				t.Helper()
				deadline := time.Now().Add(30 * time.Second)
				for {
					n := 0
					for i := range lasts {
						if v, _ := lasts[i].Load().(string); v == want {
							n++
						}
					}
					if n == clients {
						return
					}
					if time.Now().After(deadline) {
						t.Fatalf("%d of %d clients answered by module %s 30s after the reload; %d failed: %v", n, clients, want, tally.failed.Load(), tally.failures)
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
			switched("a")
			for _, next := range []string{"b", "a"} {
				before := tally.ok.Load()
				in.rewrite(2, root, backend, modules[next])
				n := strings.Count(in.log(), "reloaded:")
				in.signal(syscall.SIGHUP)
				waitLog(t, in, "reloaded:", n+1)
				switched(next)
				if tally.ok.Load() == before {
					t.Fatalf("no request answered across the reload to %s", next)
				}
			}
			halt()
			in.signal(syscall.SIGTERM)
			if code := in.waitExit(20 * time.Second); code != 0 {
				t.Fatalf("master exit code %d, want 0\n%s", code, in.log())
			}
			t.Logf("%d requests: %d by a, %d by b; %d failed", tally.ok.Load()+tally.failed.Load(), tally.count("a"), tally.count("b"), tally.failed.Load())
			if tally.failed.Load() != 0 {
				t.Fatalf("%d failed: %s", tally.failed.Load(), strings.Join(tally.failures, "; "))
			}
			for _, line := range strings.Split(in.log(), "\n") {
				if strings.Contains(line, "[error]") && strings.Contains(line, "module") {
					t.Errorf("a module failed: %s", line)
				}
			}
		})
	}
}
