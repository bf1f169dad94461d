//go:build linux

package server_test

import (
	"bufio"
	"fmt"
	"io"
	nethttp "net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestH2spec runs h2spec, the HTTP/2 conformance tester (all of its
// generic, http2 and hpack sections: 145 cases), against a live worker on
// each backend: over h2c with prior knowledge and over TLS with ALPN h2,
// on a static route and on a proxied one. Every case must pass.
//
// h2spec is built from source with the Go toolchain that runs the test,
// in a module of its own (testdata/h2spec: versions pinned by its go.mod,
// hashes by its go.sum), so that its dependencies stay out of nproxy's
// go.mod and CI needs nothing installed by hand. Building it needs the
// module proxy, or a module cache that has it: without either the test
// is skipped, saying so, and fails on any other build error.
func TestH2spec(t *testing.T) {
	bin := buildH2spec(t)
	up := httptest.NewServer(nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "hello from the backend\n")
	}))
	t.Cleanup(up.Close)
	upAddr := strings.TrimPrefix(up.URL, "http://")
	forEachBackend(t, func(t *testing.T, backend string) {
		static := startServer(t, backend, "http2 = on\n")
		proxied := startServer(t, backend, "http2 = on\nproxy_pass = "+upAddr+"\n")
		tlsSrv := startTLS(t, backend, []tlsSite{{names: "a.test", extra: "[location /p/]\nproxy_pass = " + upAddr + "\n"}})
		for _, c := range []struct {
			name, addr, path string
			tls              bool
		}{
			{"h2c/static", static.addr, "/small.txt", false},
			{"h2c/proxied", proxied.addr, "/p/x", false},
			{"tls/static", tlsSrv.addr, "/", true},
			{"tls/proxied", tlsSrv.addr, "/p/x", true},
		} {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				runH2spec(t, bin, c.addr, c.path, c.tls)
			})
		}
	})
}

// TestH2cNotHTTP1: on an address offering h2c, a first line that is
// neither the preface nor an HTTP/1.x request line closes the connection
// without an answer (as a bad preface does, RFC 9113 §3.4); a malformed
// HTTP/1.1 request is still answered 400.
func TestH2cNotHTTP1(t *testing.T) {
	ts := startServer(t, "epoll", "http2 = on\n")
	c := ts.dial(t)
	io.WriteString(c, "INVALID CONNECTION PREFACE\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if b, err := io.ReadAll(c); len(b) != 0 || isTimeout(err) {
		t.Fatalf("bad preface: got %q, %v; want a close without an answer", b, err)
	}
	c = ts.dial(t)
	io.WriteString(c, "GET /a b HTTP/1.1\r\nHost: x\r\n\r\n")
	if res := readResponse(t, bufio.NewReader(c), false); res.status != 400 {
		t.Fatalf("malformed HTTP/1.1 request: %d, want 400", res.status)
	}
}

// runH2spec runs every h2spec case against addr and fails on any that
// does not pass, with h2spec's account of it.
func runH2spec(t *testing.T, bin, addr, path string, tls bool) {
	host, port, _ := strings.Cut(addr, ":")
	args := []string{"-h", host, "-p", port, "-P", path, "-o", "3"}
	if tls {
		args = append(args, "-t", "-k")
	}
	out, err := exec.Command(bin, args...).CombinedOutput()
	m := regexp.MustCompile(`(?m)^(\d+) tests, (\d+) passed, (\d+) skipped, (\d+) failed$`).FindSubmatch(out)
	if m == nil || err != nil || string(m[1]) != string(m[2]) || string(m[4]) != "0" {
		report := out
		if i := strings.Index(string(out), "Failures:"); i >= 0 {
			report = out[i:]
		}
		t.Fatalf("h2spec %s: %v\n%s", strings.Join(args, " "), err, report)
	}
	t.Logf("h2spec %s: %s", strings.Join(args, " "), m[0])
}

var h2spec struct {
	once sync.Once
	bin  string
	skip string
	err  error
}

// buildH2spec builds h2spec once per test binary and returns its path.
func buildH2spec(t *testing.T) string {
	h2spec.once.Do(func() {
		dir, err := os.MkdirTemp("", "nproxy-h2spec")
		if err != nil {
			h2spec.err = err
			return
		}
		h2spec.bin = filepath.Join(dir, "h2spec")
		goBin, err := exec.LookPath("go")
		if err != nil {
			goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		src, _ := filepath.Abs("testdata/h2spec")
		cmd := exec.Command(goBin, "build", "-o", h2spec.bin, "github.com/summerwind/h2spec/cmd/h2spec")
		cmd.Dir = src
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=readonly", "GOWORK=off", "CGO_ENABLED=0")
		out, err := cmd.CombinedOutput()
		if err != nil {
			if unreachable(string(out)) {
				h2spec.skip = fmt.Sprintf("h2spec cannot be built: the Go module proxy is unreachable and the module cache does not have it:\n%s", out)
				return
			}
			h2spec.err = fmt.Errorf("building h2spec in %s: %v\n%s", src, err, out)
		}
	})
	if h2spec.skip != "" {
		t.Skip(h2spec.skip)
	}
	if h2spec.err != nil {
		t.Fatal(h2spec.err)
	}
	return h2spec.bin
}

// unreachable reports whether a go command's output says that it could
// not download a module: no network, no proxy, or GOPROXY=off.
func unreachable(out string) bool {
	for _, s := range []string{"dial tcp", "no such host", "lookup ", "connection refused", "network is unreachable",
		"i/o timeout", "TLS handshake timeout", "proxyconnect", "GOPROXY=off", "GOFLAGS=-mod=vendor", "connection reset"} {
		if strings.Contains(out, s) {
			return true
		}
	}
	return false
}
