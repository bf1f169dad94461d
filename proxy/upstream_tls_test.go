//go:build linux

package proxy_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nproxy/nproxy/internal/servertest"
	"github.com/nproxy/nproxy/internal/testcert"
	"github.com/nproxy/nproxy/proxy"
)

// Upstream TLS: proxy_pass = https://... against net/http backends whose
// certificates a test CA signs (written to a file for proxy_tls_ca), or
// self-signed ones.

// testPKI is a CA made for one test, with its certificate in a PEM file.
type testPKI struct {
	caPath string
	// issue makes a certificate the CA signs, for localhost, 127.0.0.1
	// and ::1 unless opts names others.
	issue func(opts testcert.Options) tls.Certificate
}

// newPKI makes a CA and writes its certificate to a file in a temporary
// directory.
func newPKI(t *testing.T) *testPKI {
	t.Helper()
	caPEM, _, ca, caKey := testcert.New(t, testcert.Options{IsCA: true, CommonName: "nproxy upstream test CA"})
	caPath := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caPath, caPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	return &testPKI{caPath: caPath, issue: func(opts testcert.Options) tls.Certificate {
		opts.Issuer, opts.IssuerKey = ca, caKey
		return keyPair(t, opts)
	}}
}

// keyPair makes a certificate (for localhost, 127.0.0.1 and ::1 unless
// opts names others) ready for a tls.Config.
func keyPair(t *testing.T, opts testcert.Options) tls.Certificate {
	t.Helper()
	certPEM, keyPEM, _, _ := testcert.New(t, opts)
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// tlsBackend is an httptest TLS server that counts what the proxy does to
// it.
type tlsBackend struct {
	srv     *httptest.Server
	addr    string
	conns   atomic.Int64 // TCP connections accepted
	tlsOK   atomic.Int64 // handshakes completed
	resumed atomic.Int64 // of which resumed a session
	hits    atomic.Int64 // requests served
	hsErrs  atomic.Int64 // handshakes that failed (http.Server's error log)

	mu  sync.Mutex
	sni []string // the server name of each handshake
}

// startTLSBackend serves h over TLS with cert on a loopback port; setup,
// if given, adjusts the server before it starts.
func startTLSBackend(t *testing.T, cert tls.Certificate, h http.HandlerFunc, setup ...func(*httptest.Server)) *tlsBackend {
	t.Helper()
	b := &tlsBackend{}
	b.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.hits.Add(1)
		if h != nil {
			h(w, r)
			return
		}
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "tls backend")
	}))
	b.srv.TLS = &tls.Config{
		Certificates: []tls.Certificate{cert},
		VerifyConnection: func(cs tls.ConnectionState) error {
			b.tlsOK.Add(1)
			if cs.DidResume {
				b.resumed.Add(1)
			}
			b.mu.Lock()
			b.sni = append(b.sni, cs.ServerName)
			b.mu.Unlock()
			return nil
		},
	}
	b.srv.Config.ConnState = func(c net.Conn, st http.ConnState) {
		if st == http.StateNew {
			b.conns.Add(1)
		}
	}
	b.srv.Config.ErrorLog = log.New(lineCounter{&b.hsErrs, "TLS handshake error"}, "", 0)
	for _, f := range setup {
		f(b.srv)
	}
	b.srv.StartTLS()
	t.Cleanup(b.srv.Close)
	b.addr = b.srv.Listener.Addr().String()
	return b
}

// serverNames returns the server names the backend's handshakes saw.
func (b *tlsBackend) serverNames() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.sni...)
}

// lineCounter counts the log lines that contain want.
type lineCounter struct {
	n    *atomic.Int64
	want string
}

func (c lineCounter) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte(c.want)) {
		c.n.Add(1)
	}
	return len(p), nil
}

// rawTLSBackend is servertest.RawBackend over TLS with cert.
func rawTLSBackend(t *testing.T, cert tls.Certificate, f func(c net.Conn)) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	return servertest.Serve(t, ln, f)
}

// TestUpstreamTLSExchanges runs the usual exchanges through an https://
// backend verified against proxy_tls_ca: each arrives intact, and all of
// them travel over one pooled TLS connection.
func TestUpstreamTLSExchanges(t *testing.T) {
	var spliced atomic.Int64
	t.Cleanup(proxy.OnSplice(func() { spliced.Add(1) }))
	pki := newPKI(t)
	forEachBackend(t, func(t *testing.T, backend string) {
		b := startTLSBackend(t, pki.issue(testcert.Options{}), func(w http.ResponseWriter, r *http.Request) {
			switch {
			case r.URL.Path == "/echo":
				body, _ := io.ReadAll(r.Body)
				sum := sha256.Sum256(body)
				w.Header().Set("X-Body-Sha256", hex.EncodeToString(sum[:]))
				w.Write(body)
			case r.URL.Path == "/chunked":
				for i := range 5 {
					fmt.Fprintf(w, "chunk %d;", i)
					w.(http.Flusher).Flush()
				}
			case strings.HasPrefix(r.URL.Path, "/size/"):
				n, _ := strconv.ParseInt(strings.TrimPrefix(r.URL.Path, "/size/"), 10, 64)
				w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
				io.Copy(w, newPattern(n))
			default:
				io.WriteString(w, "hello over tls")
			}
		})
		ps := startProxy(t, backend, fmt.Sprintf("proxy_pass = https://%s\nproxy_tls_ca = %s\n", b.addr, pki.caPath))
		cl := ps.client(t)
		// A small receive buffer makes the proxy's sends to the client
		// wait, so reading from the backend pauses with records still
		// buffered in the TLS engine.
		cl.c.(*net.TCPConn).SetReadBuffer(64 << 10)

		tests := []struct {
			name    string
			raw     string
			status  int
			body    []byte
			chunked bool
		}{
			{name: "GET", raw: get("/"), status: 200, body: []byte("hello over tls")},
			{name: "POST", raw: postRaw("/echo", bytes.Repeat([]byte("post body "), 30<<10)), status: 200,
				body: bytes.Repeat([]byte("post body "), 30<<10), chunked: true},
			{name: "chunked", raw: get("/chunked"), status: 200, body: []byte("chunk 0;chunk 1;chunk 2;chunk 3;chunk 4;"), chunked: true},
			{name: "1MiB", raw: get("/size/1048576"), status: 200, body: patternBytes(1 << 20)},
			{name: "3MiB+5", raw: get("/size/3145733"), status: 200, body: patternBytes(3<<20 + 5)},
			{name: "GET again", raw: get("/"), status: 200, body: []byte("hello over tls")},
		}
		for _, tt := range tests {
			res := cl.do(tt.raw)
			if res.status != tt.status || !bytes.Equal(res.body, tt.body) || res.chunked != tt.chunked {
				t.Fatalf("%s: status %d, %d body bytes (equal %v), chunked %v; want %d, %d bytes, chunked %v",
					tt.name, res.status, len(res.body), bytes.Equal(res.body, tt.body), res.chunked, tt.status, len(tt.body), tt.chunked)
			}
			if tt.name == "POST" {
				sum := sha256.Sum256(tt.body)
				if res.header["x-body-sha256"] != hex.EncodeToString(sum[:]) {
					t.Fatalf("POST: the backend got another body (sha256 %s)", res.header["x-body-sha256"])
				}
			}
		}
		if n := spliced.Load(); n != 0 {
			t.Errorf("%d bodies from a TLS backend were spliced", n)
		}
		// Several client connections, one after the other, reuse the
		// pooled TLS connection too.
		for range 3 {
			if res := ps.roundTrip(t, get("/")); res.status != 200 {
				t.Fatalf("GET on a new client connection: %d", res.status)
			}
		}
		if n, hs := b.conns.Load(), b.tlsOK.Load(); n != 1 || hs != 1 {
			t.Errorf("backend saw %d connections and %d handshakes for %d requests; want 1 pooled TLS connection", n, hs, b.hits.Load())
		}
		if names := b.serverNames(); len(names) != 1 || names[0] != "" {
			t.Errorf("SNI %q: an IP backend must get none", names)
		}
	})
}

// postRaw is a POST of body to path.
func postRaw(path string, body []byte) string {
	return fmt.Sprintf("POST %s HTTP/1.1\r\nHost: test\r\nContent-Length: %d\r\n\r\n%s", path, len(body), body)
}

// TestUpstreamTLSResumption: with a backend that closes every connection,
// each request makes a new TLS connection, and the ones after the first
// resume the session the backend's ticket carried.
func TestUpstreamTLSResumption(t *testing.T) {
	pki := newPKI(t)
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(version), func(t *testing.T) {
			forEachBackend(t, func(t *testing.T, backend string) {
				b := startTLSBackend(t, pki.issue(testcert.Options{}), nil, func(s *httptest.Server) {
					s.Config.SetKeepAlivesEnabled(false)
					s.TLS.MaxVersion = version
				})
				ps := startProxy(t, backend, fmt.Sprintf("proxy_pass = https://%s\nproxy_tls_ca = %s\n", b.addr, pki.caPath))
				const n = 4
				for i := range n {
					if res := ps.roundTrip(t, get("/")); res.status != 200 || string(res.body) != "tls backend" {
						t.Fatalf("request %d: %d %q", i, res.status, res.body)
					}
				}
				if c, r := b.tlsOK.Load(), b.resumed.Load(); c != n || r != n-1 {
					t.Errorf("%d handshakes, %d resumed; want %d, %d", c, r, n, n-1)
				}
			})
		})
	}
}

// TestUpstreamTLSVerify: a certificate the proxy cannot verify is a
// failed connect (502), whatever the reason; proxy_tls_verify = off
// accepts a self-signed one; proxy_tls_server_name is sent as SNI and is
// the name verified.
func TestUpstreamTLSVerify(t *testing.T) {
	pki, other := newPKI(t), newPKI(t)
	tests := []struct {
		name   string
		cert   func() tls.Certificate
		keys   string // besides proxy_pass
		status int
		sni    string // the name the backend must see, when status is 200
	}{
		{name: "trusted CA", cert: func() tls.Certificate { return pki.issue(testcert.Options{}) },
			keys: "proxy_tls_ca = " + pki.caPath, status: 200},
		{name: "other CA", cert: func() tls.Certificate { return pki.issue(testcert.Options{}) },
			keys: "proxy_tls_ca = " + other.caPath, status: 502},
		{name: "system roots", cert: func() tls.Certificate { return pki.issue(testcert.Options{}) },
			status: 502},
		{name: "self-signed", cert: func() tls.Certificate { return keyPair(t, testcert.Options{}) },
			keys: "proxy_tls_ca = " + pki.caPath, status: 502},
		{name: "self-signed, verify off", cert: func() tls.Certificate { return keyPair(t, testcert.Options{}) },
			keys: "proxy_tls_verify = off", status: 200},
		{name: "expired", cert: func() tls.Certificate {
			return pki.issue(testcert.Options{NotAfter: time.Now().Add(-time.Hour)})
		}, keys: "proxy_tls_ca = " + pki.caPath, status: 502},
		{name: "name mismatch", cert: func() tls.Certificate { return pki.issue(testcert.Options{}) },
			keys: "proxy_tls_ca = " + pki.caPath + "\nproxy_tls_server_name = app.example", status: 502},
		{name: "server name", cert: func() tls.Certificate {
			return pki.issue(testcert.Options{DNSNames: []string{"app.example"}})
		}, keys: "proxy_tls_ca = " + pki.caPath + "\nproxy_tls_server_name = app.example", status: 200, sni: "app.example"},
		{name: "IP not in the certificate", cert: func() tls.Certificate {
			return pki.issue(testcert.Options{DNSNames: []string{"app.example"}})
		}, keys: "proxy_tls_ca = " + pki.caPath, status: 502},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := startTLSBackend(t, tt.cert(), nil)
			forEachBackend(t, func(t *testing.T, backend string) {
				ps := startProxy(t, backend, fmt.Sprintf("proxy_pass = https://%s\n%s\n", b.addr, tt.keys))
				res := ps.roundTrip(t, get("/"))
				if res.status != tt.status {
					t.Fatalf("status %d, want %d", res.status, tt.status)
				}
				if tt.status == 200 && string(res.body) != "tls backend" {
					t.Fatalf("body %q", res.body)
				}
			})
			if tt.status != 200 {
				if n := b.hits.Load(); n != 0 {
					t.Errorf("the backend served %d requests over a connection that failed verification", n)
				}
				return
			}
			for _, name := range b.serverNames() {
				if name != tt.sni {
					t.Errorf("SNI %q, want %q", name, tt.sni)
				}
			}
		})
	}
}

// TestUpstreamTLSHandshakeFailureMarksBackendDown: a backend whose
// certificate fails verification is treated as one that refused the
// connect: the request goes to the other backend, and the failed one is
// not tried again within fail_timeout.
func TestUpstreamTLSHandshakeFailureMarksBackendDown(t *testing.T) {
	pki := newPKI(t)
	forEachBackend(t, func(t *testing.T, backend string) {
		good := startTLSBackend(t, pki.issue(testcert.Options{}), nil)
		bad := startTLSBackend(t, keyPair(t, testcert.Options{}), nil) // self-signed
		ps := startProxy(t, backend, fmt.Sprintf("proxy_pass = https://%s, https://%s\nproxy_tls_ca = %s\n", bad.addr, good.addr, pki.caPath))
		const n = 6
		for i := range n {
			if res := ps.roundTrip(t, get("/")); res.status != 200 {
				t.Fatalf("request %d: %d", i, res.status)
			}
		}
		if c := bad.conns.Load(); c != 1 {
			t.Errorf("the failing backend was connected to %d times; want 1, then marked down", c)
		}
		if good.hits.Load() != n {
			t.Errorf("the good backend served %d of %d requests", good.hits.Load(), n)
		}
		waitFor(t, 2*time.Second, "the failing backend to log the refused handshake", func() bool { return bad.hsErrs.Load() == 1 })
	})
}

// TestUpstreamTLSHealthCheck: health probes of an https:// backend speak
// TLS (the backend serves them as requests), and a backend whose
// certificate fails verification fails its probe: it is down, and
// requests get 502 without a connection being tried.
func TestUpstreamTLSHealthCheck(t *testing.T) {
	pki := newPKI(t)
	forEachBackend(t, func(t *testing.T, backend string) {
		var probes atomic.Int64
		h := func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/health" {
				probes.Add(1)
			}
			io.WriteString(w, "tls backend")
		}
		t.Run("verified", func(t *testing.T) {
			b := startTLSBackend(t, pki.issue(testcert.Options{}), h)
			ps := startProxy(t, backend, fmt.Sprintf("proxy_pass = https://%s\nproxy_tls_ca = %s\nhealth_check = /health 200ms\n", b.addr, pki.caPath))
			waitFor(t, 5*time.Second, "a health probe over TLS", func() bool { return probes.Load() > 0 })
			if res := ps.roundTrip(t, get("/")); res.status != 200 {
				t.Fatalf("status %d", res.status)
			}
		})
		t.Run("failing verification", func(t *testing.T) {
			b := startTLSBackend(t, keyPair(t, testcert.Options{}), h) // self-signed
			ps := startProxy(t, backend, fmt.Sprintf("proxy_pass = https://%s\nproxy_tls_ca = %s\nhealth_check = /health 1m\n", b.addr, pki.caPath))
			waitFor(t, 5*time.Second, "the probe's handshake to fail", func() bool { return b.hsErrs.Load() > 0 })
			conns := b.conns.Load()
			if res := ps.roundTrip(t, get("/")); res.status != 502 {
				t.Fatalf("status %d, want 502", res.status)
			}
			if c := b.conns.Load(); c != conns {
				t.Errorf("%d connections after the probe failed; want none (the backend is down)", c-conns)
			}
		})
	})
}

// TestUpstreamTLSBacklog: a client that stops reading makes the proxy
// stop reading from the backend with records still buffered in the TLS
// engine; once the client reads again they are decrypted and forwarded,
// for a body with a length and for one delimited by the backend's close
// (whose end must come after the buffered records).
func TestUpstreamTLSBacklog(t *testing.T) {
	pki := newPKI(t)
	paused := make(chan struct{}, 1)
	t.Cleanup(proxy.OnTLSBacklog(func() {
		select {
		case paused <- struct{}{}:
		default:
		}
	}))
	// More than the kernel buffers between the proxy and a client that
	// does not read, so the proxy's send to it has to wait.
	body := patternBytes(8<<20 + 17)
	addr := rawTLSBackend(t, pki.issue(testcert.Options{}), func(c net.Conn) {
		req, err := http.ReadRequest(bufio.NewReader(c))
		if err != nil {
			return
		}
		if req.URL.Path == "/length" {
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n", len(body))
		} else {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n")
		}
		c.Write(body)
	})
	forEachBackend(t, func(t *testing.T, backend string) {
		ps := startProxy(t, backend, fmt.Sprintf("proxy_pass = https://%s\nproxy_tls_ca = %s\n", addr, pki.caPath))
		for _, path := range []string{"/length", "/close"} {
			t.Run(path, func(t *testing.T) {
				select {
				case <-paused: // from an earlier run
				default:
				}
				c := ps.dial(t)
				io.WriteString(c, get(path))
				select {
				case <-paused:
				case <-time.After(10 * time.Second):
					t.Fatal("reading from the backend never paused")
				}
				res := readResponse(t, bufio.NewReader(c), false)
				if res.status != 200 || !bytes.Equal(res.body, body) {
					t.Fatalf("status %d, %d body bytes (equal %v), want %d", res.status, len(res.body), bytes.Equal(res.body, body), len(body))
				}
			})
		}
	})
}

// TestUpstreamTLSWebSocket: an upgraded connection to an https:// backend
// carries frames both ways, and both ways of ending it work (the client's
// EOF reaches the backend as close_notify and a half-close).
func TestUpstreamTLSWebSocket(t *testing.T) {
	pki := newPKI(t)
	forEachBackend(t, func(t *testing.T, backend string) {
		closed := make(chan error, 4)
		addr := rawTLSBackend(t, pki.issue(testcert.Options{}), wsEcho(closed))
		ps := startProxy(t, backend, fmt.Sprintf("proxy_pass = https://%s\nproxy_tls_ca = %s\nproxy_timeout = 5s\n", addr, pki.caPath))
		for _, ending := range []string{"close frame", "client EOF"} {
			t.Run(ending, func(t *testing.T) { wsExercise(t, ps, closed, ending) })
		}
	})
}

// TestUpstreamTLSConnectTimeout: proxy_connect_timeout covers the TLS
// handshake, so a backend that accepts and never answers the ClientHello
// gets 504, as one that never accepts.
func TestUpstreamTLSConnectTimeout(t *testing.T) {
	pki := newPKI(t)
	addr := servertest.RawBackend(t, func(c net.Conn) { io.Copy(io.Discard, c) }) // TCP only: the handshake never ends
	forEachBackend(t, func(t *testing.T, backend string) {
		ps := startProxy(t, backend, fmt.Sprintf("proxy_pass = https://%s\nproxy_tls_ca = %s\nproxy_connect_timeout = 300ms\n", addr, pki.caPath))
		if res := ps.roundTrip(t, get("/")); res.status != 504 {
			t.Fatalf("status %d, want 504", res.status)
		}
	})
}

// TestUpstreamTLSPlainBackend: an https:// proxy_pass to a backend that
// speaks plain HTTP fails the handshake: 502, not a hang.
func TestUpstreamTLSPlainBackend(t *testing.T) {
	pki := newPKI(t)
	plain := startBackend(t, "plain", nil)
	forEachBackend(t, func(t *testing.T, backend string) {
		ps := startProxy(t, backend, fmt.Sprintf("proxy_pass = https://%s\nproxy_tls_ca = %s\nproxy_connect_timeout = 5s\n", plain.addr, pki.caPath))
		if res := ps.roundTrip(t, get("/")); res.status != 502 {
			t.Fatalf("status %d, want 502", res.status)
		}
	})
}
