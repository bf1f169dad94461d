//go:build linux

package proc_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestUpstreamErrorLog: a request whose backend refuses the connection
// is logged once, with the backend's address, the reason and the
// client's address (nginx's ", client: ADDR"), on both backends. (The
// error log's rate limit is logging's TestRateLimit.)
func TestUpstreamErrorLog(t *testing.T) {
	for _, backend := range backends(t) {
		for _, format := range []string{"text", "json"} {
			t.Run(backend+"/"+format, func(t *testing.T) { testUpstreamErrorLog(t, backend, format) })
		}
	}
}

// testUpstreamErrorLog runs TestUpstreamErrorLog on backend with
// error_log_format = format: in json, every line of the log is one JSON
// object, the worker's as the master's.
func testUpstreamErrorLog(t *testing.T, backend, format string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := ln.Addr().String()
	ln.Close()
	in := newInstance(t, 1)
	conf := fmt.Sprintf("worker_processes = 1\nbackend = %s\npid_file = %s\nerror_log_format = %s\n[server]\nlisten = %s\nproxy_pass = %s\n",
		backend, in.pidFile, format, in.addr, refused)
	if err := os.WriteFile(in.conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	in.run("-c", in.conf)
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	// The master answers once its worker is up: poll, bounded.
	var res *http.Response
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, err = c.Get("http://" + in.addr + "/x")
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != 502 {
		t.Fatalf("status %d, want 502", res.StatusCode)
	}
	msg := `proxy: connect to ` + regexp.QuoteMeta(refused) + `: .*connection refused, client: 127\.0\.0\.1`
	want := regexp.MustCompile(`\[error\] \d+: ` + msg + `\n`)
	if format == "json" {
		want = regexp.MustCompile(`\{"time":"[^"]+","level":"error","pid":\d+,"msg":"` + msg + `"\}\n`)
	}
	// The master writes "nproxy started" once every worker is ready,
	// which races the worker's error line: wait for both.
	deadline = time.Now().Add(5 * time.Second)
	for !want.MatchString(in.log()) || !strings.Contains(in.log(), "nproxy started") {
		if time.Now().After(deadline) {
			t.Fatalf("no upstream error line with the client's address, or no start line:\n%s", in.log())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := strings.Count(in.log(), "connect to "+refused); n != 1 {
		t.Errorf("%d lines about the refused connect, want 1:\n%s", n, in.log())
	}
	if format == "json" {
		// Every log line, the master's and the worker's, is JSON; the
		// start banner on standard error is not a log line.
		text := regexp.MustCompile(`^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[`)
		n := 0
		for _, l := range strings.Split(strings.TrimSpace(in.log()), "\n") {
			if text.MatchString(l) {
				t.Errorf("a text line in a json error log: %q", l)
			}
			if strings.HasPrefix(l, "{") {
				var m map[string]any
				if err := json.Unmarshal([]byte(l), &m); err != nil {
					t.Errorf("not a JSON line: %q", l)
				}
				n++
			}
		}
		if n < 3 {
			t.Errorf("%d JSON lines, want the master's start lines and the worker's error", n)
		}
	}
}

// TestStaticRefusedLog: a static file the file system refuses to open to
// the workers' user (a root master, user = nobody, a file only root may
// read) is answered 403 and logged once with its path, the client's
// address and the request, as nginx words it; so is a directory without
// an index file. Both backends.
func TestStaticRefusedLog(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: only a root master can run its workers as nobody, whom a root-only file refuses")
	}
	if _, err := user.Lookup("nobody"); err != nil {
		t.Skipf("no user nobody: %v", err)
	}
	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			in := newInstance(t, 1)
			for d := in.dir; d != "/tmp" && d != "/"; d = filepath.Dir(d) {
				os.Chmod(d, 0o755) // nobody must reach the root: t.TempDir's directories are 0700
			}
			root := in.root("a", "A\n")
			if err := os.WriteFile(filepath.Join(root, "secret.txt"), []byte("s"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(filepath.Join(root, "sub"), 0o755); err != nil {
				t.Fatal(err)
			}
			in.rewrite(1, root, backend, "user = nobody")
			in.run("-c", in.conf)
			in.waitServing()
			c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
			for _, p := range []string{"/secret.txt", "/sub/"} {
				res, err := c.Get("http://" + in.addr + p)
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				if res.StatusCode != 403 {
					t.Fatalf("GET %s: %d, want 403", p, res.StatusCode)
				}
			}
			for _, want := range []string{
				`[error] \d+: static: open\(\) "` + regexp.QuoteMeta(root) + `/secret.txt" failed \(permission denied\), client: 127\.0\.0\.1, server: _, request: "GET /secret.txt HTTP/1.1", host: "` + regexp.QuoteMeta(in.addr) + `"\n`,
				`[error] \d+: static: directory index of "` + regexp.QuoteMeta(root) + `/sub/" is forbidden, client: 127\.0\.0\.1, server: _, request: "GET /sub/ HTTP/1.1"`,
			} {
				re := regexp.MustCompile(`\` + want)
				deadline := time.Now().Add(5 * time.Second)
				for !re.MatchString(in.log()) {
					if time.Now().After(deadline) {
						t.Fatalf("no line matching %s in:\n%s", want, in.log())
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
			if n := strings.Count(in.log(), "secret.txt\" failed"); n != 1 {
				t.Errorf("%d lines about secret.txt, want 1", n)
			}
		})
	}
}
