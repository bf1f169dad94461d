//go:build linux

package server_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nproxy/nproxy/config"
	"github.com/nproxy/nproxy/logging"
	"github.com/nproxy/nproxy/proc"
	"github.com/nproxy/nproxy/reactor"
)

// backends lists the backends every integration test runs on: one suite,
// parameterized, not a copy per backend.
func backends(t *testing.T) []string {
	out := []string{"epoll"}
	if _, _, err := reactor.New("io_uring"); err == nil {
		out = append(out, "io_uring")
	} else {
		t.Logf("io_uring backend skipped: %v", err)
	}
	return out
}

// forEachBackend runs f as a subtest per backend.
func forEachBackend(t *testing.T, f func(t *testing.T, backend string)) {
	for _, b := range backends(t) {
		t.Run(b, func(t *testing.T) { f(t, b) })
	}
}

// testServer is a worker serving a config on a loopback port.
type testServer struct {
	addr string
	root string
	w    *proc.Worker
	done chan error
}

// startServer runs a worker with the [server] keys extra (listen and, when
// extra has none, static_root are filled in) on backend. An extra that
// names {{addr}} writes its own listen line with it.
func startServer(t *testing.T, backend, extra string) *testServer {
	t.Helper()
	return startServerGlobals(t, backend, "", extra)
}

// startServerGlobals is startServer with global keys too (one per line).
func startServerGlobals(t *testing.T, backend, globals, extra string) *testServer {
	t.Helper()
	root := t.TempDir()
	writeTree(t, root)
	fd, err := reactor.ListenTCP("127.0.0.1:0", 0)
	if err != nil {
		t.Fatal(err)
	}
	port, _ := reactor.LocalPort(fd)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	text := fmt.Sprintf("backend = %s\nworker_connections = 1000\n%s[server]\nlisten = %s\n", backend, globals, addr)
	if strings.Contains(extra, "{{addr}}") {
		// extra writes its own listen line (listen = {{addr}} proxy_protocol).
		text = fmt.Sprintf("backend = %s\nworker_connections = 1000\n%s[server]\n", backend, globals)
		extra = strings.ReplaceAll(extra, "{{addr}}", addr)
	}
	if !strings.Contains(extra, "static_root") && !strings.Contains(extra, "proxy_pass") {
		text += "static_root = " + root + "\n"
	}
	text += extra
	cfg, err := config.Parse("test.ini", []byte(text))
	if err != nil {
		t.Fatalf("config: %v\n%s", err, text)
	}
	log, _ := logging.New("stderr", logging.Warn)
	ready := make(chan struct{})
	w, err := proc.NewWorker(proc.WorkerOptions{Config: cfg, Listeners: []proc.Listener{{Addr: addr, Fd: fd}},
		Backend: backend, Log: log, Ready: func() { close(ready) }})
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{addr: addr, root: root, w: w, done: make(chan error, 1)}
	go func() { ts.done <- w.Run() }()
	select {
	case <-ready:
	case err := <-ts.done:
		t.Fatalf("worker: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("worker did not start")
	}
	t.Cleanup(func() {
		w.Stop()
		select {
		case err := <-ts.done:
			if err != nil {
				t.Errorf("worker: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("worker did not stop")
		}
		// The worker's loop closed the listening socket when it stopped:
		// closing fd again could close another test's descriptor.
	})
	return ts
}

var smallBody = bytes.Repeat([]byte("0123456789abcdef"), 64) // 1 KiB

func writeTree(t *testing.T, root string) {
	t.Helper()
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(root, "index.html"), []byte("<h1>home</h1>\n"), 0o644))
	must(os.WriteFile(filepath.Join(root, "small.txt"), smallBody, 0o644))
	big := make([]byte, 1<<20+123)
	for i := range big {
		big[i] = byte(i * 7)
	}
	must(os.WriteFile(filepath.Join(root, "big.bin"), big, 0o644))
	must(os.Mkdir(filepath.Join(root, "sub"), 0o755))
	must(os.WriteFile(filepath.Join(root, "sub", "index.html"), []byte("sub index\n"), 0o644))
}

func (ts *testServer) dial(t *testing.T) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", ts.addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() { c.Close() })
	return c
}

// response is a parsed HTTP/1.1 response.
type response struct {
	status int
	header map[string]string
	body   []byte
}

// readResponse reads one response; head reports a response to HEAD (no
// body whatever Content-Length says).
func readResponse(t *testing.T, r *bufio.Reader, head bool) *response {
	t.Helper()
	res := readResponseHead(t, r)
	if cl, ok := res.header["content-length"]; ok && !head && res.status != 304 && res.status != 204 {
		n, _ := strconv.Atoi(cl)
		res.body = make([]byte, n)
		if _, err := io.ReadFull(r, res.body); err != nil {
			t.Fatalf("body: %v", err)
		}
	}
	return res
}

// readResponseHead reads a response's status line and header fields
// (names lower-cased), not its body.
func readResponseHead(t *testing.T, r *bufio.Reader) *response {
	t.Helper()
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("status line: %v", err)
	}
	var res response
	if _, err := fmt.Sscanf(line, "HTTP/1.1 %d", &res.status); err != nil {
		t.Fatalf("status line %q: %v", line, err)
	}
	res.header = map[string]string{}
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("header: %v", err)
		}
		l = strings.TrimRight(l, "\r\n")
		if l == "" {
			break
		}
		k, v, _ := strings.Cut(l, ":")
		res.header[strings.ToLower(k)] = strings.TrimSpace(v)
	}
	return &res
}

// roundTrip sends raw on a new connection and reads one response.
func (ts *testServer) roundTrip(t *testing.T, raw string) *response {
	t.Helper()
	c := ts.dial(t)
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	return readResponse(t, bufio.NewReader(c), strings.HasPrefix(raw, "HEAD "))
}

// expectClosed checks that the server closes c (EOF or reset) in time.
func expectClosed(t *testing.T, c net.Conn, within time.Duration) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(within))
	buf := make([]byte, 4096)
	for {
		_, err := c.Read(buf)
		if err == nil {
			continue
		}
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("connection still open after %v", within)
		}
		return
	}
}

func get(path string) string {
	return "GET " + path + " HTTP/1.1\r\nHost: test\r\n\r\n"
}

func TestStatic(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		ts := startServer(t, backend, "")
		res := ts.roundTrip(t, get("/small.txt"))
		if res.status != 200 || !bytes.Equal(res.body, smallBody) {
			t.Fatalf("GET small: %d, %d bytes", res.status, len(res.body))
		}
		for _, h := range []string{"etag", "last-modified", "content-type", "date", "server"} {
			if res.header[h] == "" {
				t.Errorf("GET small: no %s header", h)
			}
		}
		etag := res.header["etag"]

		tests := []struct {
			name   string
			req    string
			status int
			body   string
			header map[string]string
		}{
			{name: "head", req: "HEAD /small.txt HTTP/1.1\r\nHost: x\r\n\r\n", status: 200, header: map[string]string{"content-length": "1024"}},
			{name: "index", req: get("/"), status: 200, body: "<h1>home</h1>\n"},
			{name: "subdir index", req: get("/sub/"), status: 200, body: "sub index\n"},
			{name: "dir redirect", req: get("/sub"), status: 301, header: map[string]string{"location": "/sub/"}},
			{name: "not found", req: get("/nope.txt"), status: 404},
			{name: "etag 304", req: "GET /small.txt HTTP/1.1\r\nHost: x\r\nIf-None-Match: " + etag + "\r\n\r\n", status: 304},
			{name: "ims 304", req: "GET /small.txt HTTP/1.1\r\nHost: x\r\nIf-Modified-Since: " + res.header["last-modified"] + "\r\n\r\n", status: 304},
			{name: "range", req: "GET /small.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=16-31\r\n\r\n", status: 206, body: "0123456789abcdef",
				header: map[string]string{"content-range": "bytes 16-31/1024"}},
			{name: "suffix range", req: "GET /small.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=-4\r\n\r\n", status: 206, body: "cdef"},
			{name: "range 416", req: "GET /small.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=5000-\r\n\r\n", status: 416,
				header: map[string]string{"content-range": "bytes */1024"}},
			{name: "healthz", req: get("/healthz"), status: 200, header: map[string]string{"content-type": "application/json"}},
			{name: "post 405", req: "POST /small.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", status: 405},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res := ts.roundTrip(t, tt.req)
				if res.status != tt.status {
					t.Fatalf("status %d, want %d", res.status, tt.status)
				}
				if tt.body != "" && string(res.body) != tt.body {
					t.Errorf("body %q, want %q", res.body, tt.body)
				}
				for k, v := range tt.header {
					if res.header[k] != v {
						t.Errorf("%s: %q, want %q", k, res.header[k], v)
					}
				}
			})
		}
	})
}

func TestLargeFile(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		ts := startServer(t, backend, "")
		want, _ := os.ReadFile(filepath.Join(ts.root, "big.bin"))
		c := ts.dial(t)
		r := bufio.NewReader(c)
		for i := 0; i < 2; i++ { // twice on one connection: sendfile then keep-alive
			io.WriteString(c, get("/big.bin"))
			res := readResponse(t, r, false)
			if res.status != 200 || !bytes.Equal(res.body, want) {
				t.Fatalf("big: status %d, %d bytes, equal=%v", res.status, len(res.body), bytes.Equal(res.body, want))
			}
		}
		res := ts.roundTrip(t, "GET /big.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=1000000-\r\n\r\n")
		if res.status != 206 || !bytes.Equal(res.body, want[1000000:]) {
			t.Fatalf("big range: status %d, %d bytes", res.status, len(res.body))
		}
	})
}

func TestTraversal(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		ts := startServer(t, backend, "")
		secret := filepath.Join(filepath.Dir(ts.root), "secret.txt")
		os.WriteFile(secret, []byte("secret"), 0o644)
		os.Symlink(secret, filepath.Join(ts.root, "link.txt"))
		for _, p := range []string{
			"/../secret.txt", "/%2e%2e/secret.txt", "/sub/../../secret.txt", "/sub/%2E%2E/%2e%2e/secret.txt",
			"/..%2fsecret.txt", "/link.txt", "/small.txt%00.html", "/%",
		} {
			res := ts.roundTrip(t, get(p))
			if res.status == 200 || bytes.Contains(res.body, []byte("secret")) {
				t.Errorf("%s: status %d body %q", p, res.status, res.body)
			}
			if res.status != 400 && res.status != 404 && res.status != 403 {
				t.Errorf("%s: status %d, want 400/403/404", p, res.status)
			}
		}
	})
}

func TestPipelining(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		ts := startServer(t, backend, "")
		c := ts.dial(t)
		io.WriteString(c, get("/small.txt")+get("/nope")+"HEAD /index.html HTTP/1.1\r\nHost: x\r\n\r\n")
		r := bufio.NewReader(c)
		for i, want := range []int{200, 404, 200} {
			res := readResponse(t, r, i == 2)
			if res.status != want {
				t.Fatalf("response %d: status %d, want %d", i, res.status, want)
			}
		}
		// The connection stays usable.
		io.WriteString(c, get("/index.html"))
		if res := readResponse(t, r, false); res.status != 200 {
			t.Fatalf("after pipeline: %d", res.status)
		}
	})
}

func TestByteByByte(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		ts := startServer(t, backend, "")
		c := ts.dial(t)
		c.(*net.TCPConn).SetNoDelay(true)
		req := "GET /small.txt HTTP/1.1\r\nHost: test\r\nUser-Agent: slow\r\n\r\n"
		for i := 0; i < len(req); i++ {
			if _, err := c.Write([]byte{req[i]}); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Millisecond)
		}
		res := readResponse(t, bufio.NewReader(c), false)
		if res.status != 200 || !bytes.Equal(res.body, smallBody) {
			t.Fatalf("status %d, %d bytes", res.status, len(res.body))
		}
	})
}

func TestKeepAliveAndBodies(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		ts := startServer(t, backend, "")
		c := ts.dial(t)
		r := bufio.NewReader(c)
		for i := 0; i < 20; i++ {
			io.WriteString(c, get("/index.html"))
			if res := readResponse(t, r, false); res.status != 200 || res.header["connection"] == "close" {
				t.Fatalf("request %d: %d %v", i, res.status, res.header)
			}
		}
		// A body the static server does not need is discarded, and the
		// next request on the connection is still found.
		io.WriteString(c, "POST /index.html HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
		readResponse(t, r, false)
		io.WriteString(c, "POST /index.html HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
		readResponse(t, r, false)
		io.WriteString(c, get("/index.html"))
		if res := readResponse(t, r, false); res.status != 200 {
			t.Fatalf("after bodies: %d", res.status)
		}
		// HTTP/1.0 closes unless asked.
		c2 := ts.dial(t)
		io.WriteString(c2, "GET /index.html HTTP/1.0\r\n\r\n")
		if res := readResponse(t, bufio.NewReader(c2), false); res.status != 200 {
			t.Fatalf("1.0: %d", res.status)
		}
		expectClosed(t, c2, 2*time.Second)
		// Connection: close is honoured.
		c3 := ts.dial(t)
		io.WriteString(c3, "GET /index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		if res := readResponse(t, bufio.NewReader(c3), false); res.header["connection"] != "close" {
			t.Fatalf("close: %v", res.header)
		}
		expectClosed(t, c3, 2*time.Second)
	})
}

func TestBadRequests(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		ts := startServer(t, backend, "max_body_size = 1k\n")
		tests := []struct {
			name   string
			req    string
			status int
		}{
			{"garbage", "HELLO\r\n\r\n", 400},
			{"no host", "GET / HTTP/1.1\r\n\r\n", 400},
			{"cl and te", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
			{"two lengths", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400},
			{"space before colon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400},
			{"obs-fold", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n", 400},
			{"version", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505},
			{"te not chunked", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
			{"too large", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n", 413},
			{"long uri", "GET /" + strings.Repeat("a", 9000) + " HTTP/1.1\r\nHost: x\r\n\r\n", 414},
			{"big header", "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("b", 9000) + "\r\n\r\n", 431},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				c := ts.dial(t)
				io.WriteString(c, tt.req)
				res := readResponse(t, bufio.NewReader(c), false)
				if res.status != tt.status {
					t.Fatalf("status %d, want %d", res.status, tt.status)
				}
				expectClosed(t, c, 7*time.Second)
			})
		}
	})
}

func TestHeaderTimeout(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		ts := startServer(t, backend, "header_timeout = 300ms\nkeepalive_timeout = 400ms\n")
		c := ts.dial(t)
		io.WriteString(c, "GET /index.html HTTP/1.1\r\nHost: sl") // and nothing more
		start := time.Now()
		expectClosed(t, c, 3*time.Second)
		t.Logf("slow header closed after %v", time.Since(start))
		// An idle keep-alive connection is closed after keepalive_timeout.
		c2 := ts.dial(t)
		io.WriteString(c2, get("/index.html"))
		r := bufio.NewReader(c2)
		readResponse(t, r, false)
		expectClosed(t, c2, 3*time.Second)
	})
}

func syscallClose(fd int) { unixClose(fd) }

// A body the server discards with broken chunked framing: the answer
// already queued still goes out, then the connection is closed, so nothing
// after the broken body can be taken for a request (smuggling).
func TestBadChunkedBodyDiscard(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		ts := startServer(t, backend, "")
		c := ts.dial(t)
		io.WriteString(c, "POST /index.html HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n"+get("/index.html"))
		r := bufio.NewReader(c)
		if res := readResponse(t, r, false); res.status != 405 {
			t.Fatalf("status %d, want 405", res.status)
		}
		c.SetReadDeadline(time.Now().Add(7 * time.Second))
		rest, err := io.ReadAll(r)
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatal("connection still open")
		}
		if len(rest) > 0 {
			t.Fatalf("answered what followed a broken body: %q", rest)
		}
	})
}
