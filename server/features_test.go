//go:build linux

package server_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	nethttp "net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Integration tests of the routing-chain features: rewrite, rate limit,
// /metrics, access log. They run on both backends.

// waitFor polls cond every 20 ms for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRewrite(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		ts := startServer(t, backend, "rewrite = ^/old/(.*)$ /$1\n"+
			"rewrite = ^/h$ /healthz\n"+
			"rewrite = ^/small.txt$ /index.html\n"+ // never reached from /old/small.txt: one rewrite per request
			"rewrite = ^/esc/(.*)$ /../$1\n"+
			"rewrite = ^/dir$ /sub/./\n")
		tests := []struct {
			name   string
			path   string
			status int
			body   string
		}{
			{name: "capture", path: "/old/small.txt", status: 200, body: string(smallBody)},
			{name: "query kept", path: "/old/small.txt?v=1", status: 200, body: string(smallBody)},
			{name: "first match only", path: "/small.txt", status: 200, body: "<h1>home</h1>\n"},
			{name: "to healthz", path: "/h", status: 200},
			{name: "no match", path: "/sub/", status: 200, body: "sub index\n"},
			{name: "renormalized", path: "/dir", status: 200, body: "sub index\n"},
			{name: "escape refused", path: "/esc/etc/passwd", status: 400},
			{name: "missing target", path: "/old/nope", status: 404},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res := ts.roundTrip(t, get(tt.path))
				if res.status != tt.status {
					t.Fatalf("GET %s: status %d, want %d", tt.path, res.status, tt.status)
				}
				if tt.body != "" && string(res.body) != tt.body {
					t.Errorf("GET %s: body %q, want %q", tt.path, res.body, tt.body)
				}
			})
		}
	})
}

func TestRateLimit(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		// 2 r/s with a burst of 2: three requests at once pass, the
		// fourth is refused unless 500 ms went by, which four loopback
		// requests on one connection do not take.
		ts := startServer(t, backend, "rate_limit = 2r/s\nrate_burst = 2\n")
		c := ts.dial(t)
		r := bufio.NewReader(c)
		send := func(path string) *response {
			t.Helper()
			if _, err := io.WriteString(c, get(path)); err != nil {
				t.Fatal(err)
			}
			return readResponse(t, r, false)
		}
		for i := 0; i < 3; i++ {
			if res := send("/small.txt"); res.status != 200 {
				t.Fatalf("request %d: status %d, want 200", i, res.status)
			}
		}
		// /healthz is exempt: a load balancer's probe is never refused.
		if res := send("/healthz"); res.status != 200 {
			t.Fatalf("/healthz past the burst: status %d, want 200", res.status)
		}
		res := send("/small.txt")
		if res.status != 429 {
			t.Fatalf("request past the burst: status %d, want 429", res.status)
		}
		if ra, err := strconv.Atoi(res.header["retry-after"]); err != nil || ra < 1 {
			t.Errorf("Retry-After %q, want whole seconds >= 1", res.header["retry-after"])
		}
		// The connection stays usable, and the bucket refills.
		waitFor(t, "the bucket to refill", func() bool {
			time.Sleep(100 * time.Millisecond)
			return send("/small.txt").status == 200
		})
	})
}

func TestMetricsOffIs404(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		ts := startServer(t, backend, "")
		if res := ts.roundTrip(t, get("/metrics")); res.status != 404 {
			t.Errorf("/metrics without metrics = on: status %d, want 404", res.status)
		}
	})
}

// combinedRE parses a combined-format line.
var combinedRE = regexp.MustCompile(`^(\S+) - - \[([^\]]+)\] "([^"]*)" (\d{3}) (\d+) "([^"]*)" "([^"]*)"$`)

func TestAccessLog(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		// A backend for the proxied line.
		up := newBackend(t, "hello")
		logPath := filepath.Join(t.TempDir(), "access.log")
		root := t.TempDir()
		writeTree(t, root)
		ts := startServer(t, backend, "static_root = "+root+"\n"+
			"proxy_pass = "+up+"\nproxy_prefix = /api/\naccess_log = "+logPath+"\n")
		ts.roundTrip(t, "GET /small.txt HTTP/1.1\r\nHost: x\r\nReferer: http://r.example/\r\nUser-Agent: test\"agent\r\n\r\n")
		ts.roundTrip(t, get("/nope"))
		ts.roundTrip(t, "HEAD /small.txt HTTP/1.1\r\nHost: x\r\n\r\n")
		ts.roundTrip(t, get("/api/x"))
		ts.roundTrip(t, "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: zz\r\n\r\n")

		var lines []string
		waitFor(t, "5 lines in the access log", func() bool {
			b, _ := os.ReadFile(logPath)
			lines = strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
			return len(lines) >= 5
		})
		want := []struct{ request, status, bytes, referer, agent string }{
			{"GET /small.txt HTTP/1.1", "200", strconv.Itoa(len(smallBody)), "http://r.example/", `test\x22agent`},
			{"GET /nope HTTP/1.1", "404", "", "-", "-"},
			{"HEAD /small.txt HTTP/1.1", "200", "0", "-", "-"},
			{"GET /api/x HTTP/1.1", "200", "5", "-", "-"},
			// A head refused in its header fields is logged with the
			// request line it came with, as nginx logs it.
			{"GET / HTTP/1.1", "400", "", "-", "-"},
		}
		if len(lines) != len(want) {
			t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), strings.Join(lines, "\n"))
		}
		for i, w := range want {
			m := combinedRE.FindStringSubmatch(lines[i])
			if m == nil {
				t.Errorf("line %d %q is not in combined format", i, lines[i])
				continue
			}
			if m[1] != "127.0.0.1" {
				t.Errorf("line %d: address %q", i, m[1])
			}
			if _, err := time.Parse("02/Jan/2006:15:04:05 -0700", m[2]); err != nil {
				t.Errorf("line %d: time %q: %v", i, m[2], err)
			}
			if m[3] != w.request || m[4] != w.status || (w.bytes != "" && m[5] != w.bytes) || m[6] != w.referer || m[7] != w.agent {
				t.Errorf("line %d = %q\nwant request %q status %s bytes %q referer %q agent %q", i, lines[i], w.request, w.status, w.bytes, w.referer, w.agent)
			}
		}
	})
}

// newBackend starts an HTTP server answering every request with body.
func newBackend(t *testing.T, body string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &nethttp.Server{Handler: nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		io.WriteString(w, body)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// TestAccessLogReopen rotates the log as logrotate does (rename, then
// SIGUSR1) and checks that later lines go to a new file at the path.
func TestAccessLogReopen(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		logPath := filepath.Join(t.TempDir(), "access.log")
		ts := startServer(t, backend, "access_log = "+logPath+"\n")
		ts.roundTrip(t, get("/before"))
		waitFor(t, "the first line", func() bool {
			b, _ := os.ReadFile(logPath)
			return strings.Contains(string(b), "/before")
		})
		if err := os.Rename(logPath, logPath+".1"); err != nil {
			t.Fatal(err)
		}
		// The server watches SIGUSR1 while it has an access log, so the
		// signal cannot kill the test process.
		if err := syscall.Kill(os.Getpid(), syscall.SIGUSR1); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the log to be reopened", func() bool {
			_, err := os.Stat(logPath)
			return err == nil
		})
		ts.roundTrip(t, get("/after"))
		waitFor(t, "the line after the reopen", func() bool {
			b, _ := os.ReadFile(logPath)
			return strings.Contains(string(b), "/after")
		})
		if b, _ := os.ReadFile(logPath + ".1"); strings.Contains(string(b), "/after") {
			t.Error("a line after the reopen went to the rotated file")
		}
	})
}
