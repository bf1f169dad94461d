//go:build linux

package server_test

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
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
	"github.com/nproxy/nproxy/internal/servertest"
	"github.com/nproxy/nproxy/internal/testcert"
	"github.com/nproxy/nproxy/logging"
	"github.com/nproxy/nproxy/proc"
	"github.com/nproxy/nproxy/reactor"
)

// tlsSite is one [server] block of a TLS test server: its names, its
// document root (whose index.html names the block) and its certificate.
type tlsSite struct {
	names string // server_name value ("" for none)
	extra string // more keys
}

// tlsServer is a worker serving TLS blocks on one loopback address, with
// the CA that signed their certificates.
type tlsServer struct {
	addr   string
	roots  *x509.CertPool
	dir    string
	caFile string // the CA in PEM, for clients that read a file (curl --cacert)
}

// startTLS runs a worker on backend with one [server] block per site, all
// on one address, each with a certificate for its names signed by a test
// CA. Each block's index.html says "site N".
func startTLS(t *testing.T, backend string, sites []tlsSite) *tlsServer {
	t.Helper()
	dir := t.TempDir()
	caPEM, _, ca, caKey := testcert.New(t, testcert.Options{IsCA: true})
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, caPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	fd, err := reactor.ListenTCP("127.0.0.1:0", 0)
	if err != nil {
		t.Fatal(err)
	}
	port, _ := reactor.LocalPort(fd)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	var b strings.Builder
	fmt.Fprintf(&b, "backend = %s\nworker_connections = 1000\nlog_level = error\n", backend)
	for i, s := range sites {
		root := filepath.Join(dir, "root"+strconv.Itoa(i))
		os.MkdirAll(root, 0o755)
		os.WriteFile(filepath.Join(root, "index.html"), []byte(fmt.Sprintf("site %d\n", i)), 0o644)
		os.WriteFile(filepath.Join(root, "big.bin"), bigBody(), 0o644)
		names := strings.Fields(s.names)
		opts := testcert.Options{Issuer: ca, IssuerKey: caKey}
		for _, n := range names {
			opts.DNSNames = append(opts.DNSNames, strings.TrimPrefix(n, "*."), n)
		}
		if len(names) == 0 {
			opts.DNSNames = []string{"default.test"}
		}
		certDir := filepath.Join(dir, "cert"+strconv.Itoa(i))
		os.MkdirAll(certDir, 0o755)
		cert, key := testcert.Write(t, certDir, opts)
		fmt.Fprintf(&b, "[server]\nlisten = %s\nstatic_root = %s\ntls_cert = %s\ntls_key = %s\n", addr, root, cert, key)
		if s.names != "" {
			fmt.Fprintf(&b, "server_name = %s\n", s.names)
		}
		b.WriteString(s.extra)
	}
	cfg, err := config.Parse(filepath.Join(dir, "test.ini"), []byte(b.String()))
	if err != nil {
		t.Fatalf("config: %v\n%s", err, b.String())
	}
	servertest.RunWorker(t, cfg, backend, logging.Error, []proc.Listener{{Addr: addr, Fd: fd}})
	return &tlsServer{addr: addr, roots: roots, dir: dir, caFile: caFile}
}

// bigBody is a 1 MiB body with a recognizable pattern.
func bigBody() []byte {
	b := make([]byte, 1<<20)
	for i := range b {
		b[i] = byte('a' + i%26)
	}
	return b
}

// dialTLS opens a TLS connection for serverName with cfg's other settings.
func (ts *tlsServer) dialTLS(t *testing.T, serverName string, cfg *tls.Config) *tls.Conn {
	t.Helper()
	if cfg == nil {
		cfg = &tls.Config{}
	}
	cfg = cfg.Clone()
	cfg.RootCAs = ts.roots
	if cfg.ServerName == "" {
		cfg.ServerName = serverName
	}
	d := &net.Dialer{Timeout: 3 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", ts.addr, cfg)
	if err != nil {
		t.Fatalf("dial %s: %v", serverName, err)
	}
	c.SetDeadline(time.Now().Add(20 * time.Second))
	t.Cleanup(func() { c.Close() })
	return c
}

// TestTLSStatic serves small and large files, keep-alive and pipelined
// requests and a Range over TLS 1.2 and 1.3.
func TestTLSStatic(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		ts := startTLS(t, backend, []tlsSite{{names: "a.test"}})
		for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
			c := ts.dialTLS(t, "a.test", &tls.Config{MinVersion: v, MaxVersion: v, NextProtos: []string{"http/1.1"}})
			st := c.ConnectionState()
			if st.Version != v || st.NegotiatedProtocol != "http/1.1" {
				t.Fatalf("version %x alpn %q, want %x and http/1.1", st.Version, st.NegotiatedProtocol, v)
			}
			r := bufio.NewReader(c)
			for i := 0; i < 3; i++ {
				io.WriteString(c, "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
				if res := readResponse(t, r, false); res.status != 200 || string(res.body) != "site 0\n" {
					t.Fatalf("request %d: %d %q", i, res.status, res.body)
				}
			}
			// Pipelined: small, large (sendfile replaced by
			// read+encrypt), a range.
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: a.test\r\n\r\nGET /big.bin HTTP/1.1\r\nHost: a.test\r\n\r\n"+
				"GET /big.bin HTTP/1.1\r\nHost: a.test\r\nRange: bytes=100-199\r\n\r\n")
			if res := readResponse(t, r, false); res.status != 200 || string(res.body) != "site 0\n" {
				t.Fatalf("pipelined small: %d %q", res.status, res.body)
			}
			want := bigBody()
			if res := readResponse(t, r, false); res.status != 200 || string(res.body) != string(want) {
				t.Fatalf("large file: %d, %d bytes, equal=%v", res.status, len(res.body), string(res.body) == string(want))
			}
			if res := readResponse(t, r, false); res.status != 206 || string(res.body) != string(want[100:200]) {
				t.Fatalf("range: %d %q", res.status, res.body)
			}
		}
	})
}

// TestTLSSNI chooses among three blocks by SNI (exact, wildcard, unknown
// -> the first block), answers 421 when Host names another block, and
// serves a Host no block names from the SNI's block.
func TestTLSSNI(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		ts := startTLS(t, backend, []tlsSite{{names: "a.test"}, {names: "b.test"}, {names: "*.w.test"}})
		cases := []struct {
			sni, host string
			status    int
			body      string
		}{
			{sni: "a.test", host: "a.test", status: 200, body: "site 0\n"},
			{sni: "b.test", host: "b.test", status: 200, body: "site 1\n"},
			{sni: "x.w.test", host: "x.w.test", status: 200, body: "site 2\n"},
			{sni: "unknown.test", host: "unknown.test", status: 200, body: "site 0\n"},
			{sni: "b.test", host: "nobody.test", status: 200, body: "site 1\n"},
			{sni: "b.test", host: "a.test", status: 421},
			{sni: "a.test", host: "y.w.test", status: 421},
		}
		for _, tc := range cases {
			cfg := &tls.Config{ServerName: tc.sni}
			if tc.sni == "unknown.test" {
				cfg.InsecureSkipVerify = true // the default block's certificate does not name it
			}
			c := ts.dialTLS(t, tc.sni, cfg)
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: "+tc.host+"\r\n\r\n")
			res := readResponse(t, bufio.NewReader(c), false)
			if res.status != tc.status || (tc.body != "" && string(res.body) != tc.body) {
				t.Errorf("SNI %s Host %s: %d %q, want %d %q", tc.sni, tc.host, res.status, res.body, tc.status, tc.body)
			}
		}
	})
}

// TestTLSPlainRequest: a plain HTTP request on a TLS port gets nginx's 400
// in the clear and a close; a malformed ClientHello closes cleanly, and the
// worker keeps serving.
func TestTLSPlainRequest(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		ts := startTLS(t, backend, []tlsSite{{names: "a.test"}})
		c, err := net.DialTimeout("tcp", ts.addr, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
		b, _ := io.ReadAll(c)
		res := readResponse(t, bufio.NewReader(strings.NewReader(string(b))), false)
		if res.status != 400 || !strings.Contains(string(res.body), "The plain HTTP request was sent to HTTPS port</center>") ||
			!strings.HasSuffix(string(b), string(res.body)) {
			t.Fatalf("plain request on TLS port: %q (body as framed: %q)", b, res.body)
		}
		c2, err := net.DialTimeout("tcp", ts.addr, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c2.Close()
		c2.SetDeadline(time.Now().Add(5 * time.Second))
		c2.Write([]byte{0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0xff, 0xff, 0xff, 0xff})
		io.ReadAll(c2) // an alert or nothing, then EOF
		cl := ts.dialTLS(t, "a.test", nil)
		io.WriteString(cl, "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
		if res := readResponse(t, bufio.NewReader(cl), false); res.status != 200 {
			t.Fatalf("after bad input: %d", res.status)
		}
	})
}

// TestTLSClientCertificates: with tls_client_ca a client without a
// certificate is refused at the handshake, one signed by the CA served.
func TestTLSClientCertificates(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		dir := t.TempDir()
		caPEM, _, ca, caKey := testcert.New(t, testcert.Options{IsCA: true, CommonName: "client CA"})
		caPath := filepath.Join(dir, "clientca.pem")
		os.WriteFile(caPath, caPEM, 0o644)
		ts := startTLS(t, backend, []tlsSite{{names: "a.test", extra: "tls_client_ca = " + caPath + "\n"}})

		cfg := &tls.Config{RootCAs: ts.roots, ServerName: "a.test"}
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 3 * time.Second}, "tcp", ts.addr, cfg)
		if err == nil {
			c.SetDeadline(time.Now().Add(5 * time.Second))
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
			_, err = bufio.NewReader(c).ReadByte() // TLS 1.3 reports the refusal on the first read
			c.Close()
		}
		if err == nil {
			t.Fatal("a client without a certificate was served")
		}

		certPEM, keyPEM, _, _ := testcert.New(t, testcert.Options{CommonName: "client", Issuer: ca, IssuerKey: caKey})
		pair, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			t.Fatal(err)
		}
		cl := ts.dialTLS(t, "a.test", &tls.Config{Certificates: []tls.Certificate{pair}})
		io.WriteString(cl, "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
		if res := readResponse(t, bufio.NewReader(cl), false); res.status != 200 {
			t.Fatalf("client with a certificate: %d", res.status)
		}
	})
}

// TestTLSResumption: a second connection resumes the first one's session
// (tickets), on TLS 1.2 and 1.3.
func TestTLSResumption(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		ts := startTLS(t, backend, []tlsSite{{names: "a.test"}})
		for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
			cache := tls.NewLRUClientSessionCache(4)
			for i := 0; i < 2; i++ {
				c := ts.dialTLS(t, "a.test", &tls.Config{MinVersion: v, MaxVersion: v, ClientSessionCache: cache})
				io.WriteString(c, "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
				if res := readResponse(t, bufio.NewReader(c), false); res.status != 200 {
					t.Fatalf("request: %d", res.status)
				}
				if got := c.ConnectionState().DidResume; got != (i == 1) {
					t.Fatalf("version %x connection %d: resumed=%v", v, i, got)
				}
				c.Close()
			}
		}
	})
}

// TestTLSProxy proxies over TLS to a plain backend: a small body, a body
// large enough for the splice path (which TLS must not take), and an
// upgraded tunnel whose bytes go both ways encrypted.
func TestTLSProxy(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		big := bigBody()
		be := servertest.RawBackend(t, func(c net.Conn) {
			r := bufio.NewReader(c)
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					return
				}
				upgrade, proto := false, ""
				for {
					h, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if strings.HasPrefix(strings.ToLower(h), "upgrade:") {
						upgrade = true
					}
					if v, ok := strings.CutPrefix(strings.ToLower(h), "x-forwarded-proto:"); ok {
						proto = strings.TrimSpace(v)
					}
					if h == "\r\n" {
						break
					}
				}
				switch {
				case upgrade:
					io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n")
					io.Copy(c, r) // echo until EOF
					return
				case strings.Contains(line, "/big"):
					fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", len(big))
					c.Write(big)
				default:
					fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(proto), proto)
				}
			}
		})
		ts := startTLS(t, backend, []tlsSite{{names: "a.test", extra: "proxy_pass = " + be + "\nproxy_prefix = /api/\n"}})
		c := ts.dialTLS(t, "a.test", nil)
		r := bufio.NewReader(c)
		io.WriteString(c, "GET /api/small HTTP/1.1\r\nHost: a.test\r\n\r\nGET /api/big HTTP/1.1\r\nHost: a.test\r\n\r\n")
		if res := readResponse(t, r, false); res.status != 200 || string(res.body) != "https" {
			t.Fatalf("small: %d %q, want the X-Forwarded-Proto the backend saw: https", res.status, res.body)
		}
		if res := readResponse(t, r, false); res.status != 200 || string(res.body) != string(big) {
			t.Fatalf("big: %d, %d bytes", res.status, len(res.body))
		}
		io.WriteString(c, "GET /api/ws HTTP/1.1\r\nHost: a.test\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n")
		if res := readResponse(t, r, true); res.status != 101 {
			t.Fatalf("upgrade: %d", res.status)
		}
		for i := 0; i < 3; i++ {
			msg := fmt.Sprintf("frame %d through TLS", i)
			io.WriteString(c, msg)
			got := make([]byte, len(msg))
			if _, err := io.ReadFull(r, got); err != nil || string(got) != msg {
				t.Fatalf("tunnel echo %d: %q %v", i, got, err)
			}
		}
	})
}
