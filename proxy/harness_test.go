//go:build linux

package proxy_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nproxy/nproxy/config"
	"github.com/nproxy/nproxy/internal/testcert"
	"github.com/nproxy/nproxy/logging"
	"github.com/nproxy/nproxy/proc"
	"github.com/nproxy/nproxy/reactor"
)

// The harness runs a worker in-process (as server/integration_test.go
// does) in front of backends written with net/http or raw sockets, all on
// loopback ports chosen by the kernel.

// backends lists the reactor backends every test runs on.
func backends(t *testing.T) []string {
	out := []string{"epoll"}
	if _, _, err := reactor.New("io_uring"); err == nil {
		out = append(out, "io_uring")
	} else {
		t.Logf("io_uring backend skipped: %v", err)
	}
	return out
}

// forEachBackend runs f as a subtest per reactor backend.
func forEachBackend(t *testing.T, f func(t *testing.T, backend string)) {
	for _, b := range backends(t) {
		t.Run(b, func(t *testing.T) { f(t, b) })
	}
}

// proxyServer is a worker on a loopback port.
type proxyServer struct {
	addr string
	root string
	// tlsConfig is the client side of a TLS listener (it trusts the CA
	// that signed the worker's certificate); nil when the worker speaks
	// plain HTTP.
	tlsConfig *tls.Config
}

// proxyOption changes the worker startProxy runs.
type proxyOption func(*proxyOptions)

type proxyOptions struct {
	tls     bool
	globals string
}

// withGlobals puts global keys (one per line) before the [server].
func withGlobals(keys string) proxyOption { return func(o *proxyOptions) { o.globals = keys } }

// withTLS makes the worker's [server] a TLS one: tls_cert and tls_key
// name a certificate for localhost and 127.0.0.1 signed by a CA made for
// this worker alone, and the proxyServer's connections speak TLS to it.
func withTLS() proxyOption { return func(o *proxyOptions) { o.tls = true } }

// tlsServerName is the name the test's TLS clients ask for (SNI) and
// verify: one the worker's certificate holds.
const tlsServerName = "localhost"

// startProxy runs a worker on backend with the [server] keys extra (listen
// is filled in; static_root too when extra names "STATIC"; tls_cert and
// tls_key with withTLS).
func startProxy(t testing.TB, backend, extra string, opts ...proxyOption) *proxyServer {
	t.Helper()
	var o proxyOptions
	for _, opt := range opts {
		opt(&o)
	}
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "index.html"), []byte("static home\n"), 0o644)
	extra = strings.ReplaceAll(extra, "STATIC", root)
	var tlsConfig *tls.Config
	if o.tls {
		var keys string
		keys, tlsConfig = testTLS(t)
		extra = keys + extra
	}
	fd, err := reactor.ListenTCP("127.0.0.1:0", 0)
	if err != nil {
		t.Fatal(err)
	}
	port, _ := reactor.LocalPort(fd)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	text := fmt.Sprintf("backend = %s\nworker_connections = 1000\nlog_level = error\n%s[server]\nlisten = %s\n%s", backend, o.globals, addr, extra)
	cfg, err := config.Parse("test.ini", []byte(text))
	if err != nil {
		t.Fatalf("config: %v\n%s", err, text)
	}
	log, _ := logging.New("stderr", logging.Error)
	ready := make(chan struct{})
	w, err := proc.NewWorker(proc.WorkerOptions{Config: cfg, Listeners: []proc.Listener{{Addr: addr, Fd: fd}},
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
	case <-time.After(5 * time.Second):
		t.Fatal("worker did not start")
	}
	t.Cleanup(func() {
		w.Stop()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("worker: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("worker did not stop")
		}
		// The worker's loop closed the listening socket when it stopped:
		// closing fd again could close another test's descriptor.
	})
	return &proxyServer{addr: addr, root: root, tlsConfig: tlsConfig}
}

// testTLS makes a CA and a certificate it signs for tlsServerName and
// 127.0.0.1, writes the certificate and key to a temporary directory, and
// returns the [server] keys naming them and a client configuration that
// trusts the CA (and nothing else).
func testTLS(t testing.TB) (keys string, client *tls.Config) {
	t.Helper()
	_, _, ca, caKey := testcert.New(t, testcert.Options{IsCA: true, CommonName: "nproxy proxy test CA"})
	cert, key := testcert.Write(t, t.TempDir(), testcert.Options{Issuer: ca, IssuerKey: caKey})
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	return fmt.Sprintf("tls_cert = %s\ntls_key = %s\n", cert, key),
		&tls.Config{RootCAs: roots, ServerName: tlsServerName, NextProtos: []string{"http/1.1"}}
}

// connect opens a client connection to the worker: TCP, then, when the
// worker speaks TLS, a completed handshake (so that what the caller
// writes next is the request, not a wait for the handshake). timeout
// bounds both.
func (ps *proxyServer) connect(timeout time.Duration) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", ps.addr, timeout)
	if err != nil || ps.tlsConfig == nil {
		return c, err
	}
	tc := tls.Client(c, ps.tlsConfig)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		c.Close()
		return nil, fmt.Errorf("TLS handshake: %w", err)
	}
	return tc, nil
}

func (ps *proxyServer) dial(t *testing.T) net.Conn {
	t.Helper()
	c, err := ps.connect(2 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(20 * time.Second))
	t.Cleanup(func() { c.Close() })
	return c
}

// resetConn closes c with a TCP reset (SO_LINGER {1, 0}) instead of a
// FIN. On a TLS connection the reset is on the TCP socket under it: no
// close_notify alert goes first, as when a client vanishes.
func resetConn(c net.Conn) error {
	raw := c
	if tc, ok := c.(*tls.Conn); ok {
		raw = tc.NetConn()
	}
	tcp, ok := raw.(*net.TCPConn)
	if !ok {
		c.Close()
		return fmt.Errorf("reset: %T is not a TCP connection", raw)
	}
	if err := tcp.SetLinger(0); err != nil {
		tcp.Close()
		return err
	}
	return tcp.Close()
}

// response is a parsed response; body is de-chunked, trailer holds the
// trailer fields of a chunked body.
type response struct {
	proto   string
	status  int
	header  map[string]string
	body    []byte
	chunked bool
	trailer map[string]string
}

// readResponse reads one response from r (head: a response to HEAD). A
// response without Content-Length or chunked framing is read to EOF.
func readResponse(t *testing.T, r *bufio.Reader, head bool) *response {
	t.Helper()
	res, err := readResponseErr(r, head)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func readResponseErr(r *bufio.Reader, head bool) (*response, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, fmt.Errorf("status line: %w", err)
	}
	res := &response{header: map[string]string{}}
	if _, err := fmt.Sscanf(line, "%s %d", &res.proto, &res.status); err != nil {
		return nil, fmt.Errorf("status line %q: %v", line, err)
	}
	if err := readFields(r, res.header); err != nil {
		return nil, err
	}
	if head || res.status == 204 || res.status == 304 || res.status < 200 {
		return res, nil
	}
	switch {
	case strings.EqualFold(res.header["transfer-encoding"], "chunked"):
		res.chunked = true
		res.trailer = map[string]string{}
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				return nil, fmt.Errorf("chunk size: %w", err)
			}
			l, _, _ = strings.Cut(strings.TrimRight(l, "\r\n"), ";")
			n, err := strconv.ParseInt(l, 16, 64)
			if err != nil {
				return nil, fmt.Errorf("chunk size %q", l)
			}
			if n == 0 {
				if err := readFields(r, res.trailer); err != nil {
					return nil, err
				}
				return res, nil
			}
			b := make([]byte, n+2)
			if _, err := io.ReadFull(r, b); err != nil {
				return nil, fmt.Errorf("chunk: %w", err)
			}
			res.body = append(res.body, b[:n]...)
		}
	case res.header["content-length"] != "":
		n, _ := strconv.Atoi(res.header["content-length"])
		res.body = make([]byte, n)
		if _, err := io.ReadFull(r, res.body); err != nil {
			return nil, fmt.Errorf("body: %w", err)
		}
	default:
		b, err := io.ReadAll(r)
		if err != nil {
			return nil, fmt.Errorf("close-delimited body: %w", err)
		}
		res.body = b
	}
	return res, nil
}

func readFields(r *bufio.Reader, into map[string]string) error {
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			return fmt.Errorf("header: %w", err)
		}
		l = strings.TrimRight(l, "\r\n")
		if l == "" {
			return nil
		}
		k, v, _ := strings.Cut(l, ":")
		k = strings.ToLower(k)
		if old, ok := into[k]; ok {
			v = old + "," + v
		}
		into[k] = strings.TrimSpace(v)
	}
}

// roundTrip sends raw on a new connection and reads one response.
func (ps *proxyServer) roundTrip(t *testing.T, raw string) *response {
	t.Helper()
	c := ps.dial(t)
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	return readResponse(t, bufio.NewReader(c), strings.HasPrefix(raw, "HEAD "))
}

func get(path string) string {
	return "GET " + path + " HTTP/1.1\r\nHost: test\r\n\r\n"
}

// httpBackend is a net/http server on a loopback port that can be stopped
// and started again on the same port.
type httpBackend struct {
	name    string
	addr    string
	handler http.Handler
	hits    atomic.Int64

	mu  sync.Mutex
	srv *http.Server
	cfg func(*http.Server)
}

// startBackend serves h (wrapped: it counts requests and sets
// X-Backend: name) on a new loopback port.
func startBackend(t *testing.T, name string, h http.HandlerFunc, cfg ...func(*http.Server)) *httpBackend {
	t.Helper()
	return startBackendOn(t, "127.0.0.1:0", name, h, cfg...)
}

// startBackendOn is startBackend on the loopback address addr; nil when
// it cannot be bound.
func startBackendOn(t *testing.T, addr, name string, h http.HandlerFunc, cfg ...func(*http.Server)) *httpBackend {
	t.Helper()
	b := &httpBackend{name: name}
	if len(cfg) > 0 {
		b.cfg = cfg[0]
	}
	b.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" {
			b.hits.Add(1)
		}
		w.Header().Set("X-Backend", name)
		if h != nil {
			h(w, r)
			return
		}
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, name)
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		if !strings.HasSuffix(addr, ":0") {
			return nil
		}
		t.Fatal(err)
	}
	b.addr = ln.Addr().String()
	b.serve(ln)
	t.Cleanup(b.stop)
	return b
}

func (b *httpBackend) serve(ln net.Listener) {
	srv := &http.Server{Handler: b.handler, ErrorLog: nil}
	if b.cfg != nil {
		b.cfg(srv)
	}
	b.mu.Lock()
	b.srv = srv
	b.mu.Unlock()
	go srv.Serve(ln)
}

// stop closes the listener and every connection (a killed backend).
func (b *httpBackend) stop() {
	b.mu.Lock()
	srv := b.srv
	b.srv = nil
	b.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
}

// restart serves again on the same port.
func (b *httpBackend) restart(t *testing.T) {
	t.Helper()
	var ln net.Listener
	var err error
	for i := 0; i < 100; i++ {
		if ln, err = net.Listen("tcp", b.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("restart %s: %v", b.name, err)
	}
	b.serve(ln)
}

// waitFor polls cond every 10ms until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// client is one keep-alive client connection to the proxy.
type client struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func (ps *proxyServer) client(t *testing.T) *client {
	c := ps.dial(t)
	return &client{t: t, c: c, r: bufio.NewReader(c)}
}

// do sends raw and reads the response.
func (cl *client) do(raw string) *response {
	cl.t.Helper()
	if _, err := io.WriteString(cl.c, raw); err != nil {
		cl.t.Fatal(err)
	}
	return readResponse(cl.t, cl.r, strings.HasPrefix(raw, "HEAD "))
}
