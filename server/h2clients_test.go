//go:build linux

package server_test

import (
	"bytes"
	"crypto/tls"
	nethttp "net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Real HTTP/2 clients against static and proxied routes: curl (nghttp2)
// over TLS with ALPN and over h2c with prior knowledge, and the standard
// library's net/http client (its bundled HTTP/2, chosen by ALPN).

// TestH2CurlRoutes fetches a static file, proxied responses (with a
// length, chunked) and a proxied upload with curl --http2 over TLS and
// curl --http2-prior-knowledge in the clear, on both backends. Skipped
// where curl is missing or built without HTTP/2.
func TestH2CurlRoutes(t *testing.T) {
	if out, err := exec.Command("curl", "-V").Output(); err != nil || !bytes.Contains(out, []byte("HTTP2")) {
		t.Skip("no curl with HTTP/2")
	}
	big := bigBody()
	upload := filepath.Join(t.TempDir(), "upload.bin")
	os.WriteFile(upload, big[:300_000], 0o644)
	forEachBackend(t, func(t *testing.T, backend string) {
		h2c, tlsSrv, root := startH2Routes(t, backend)
		staticBig, _ := os.ReadFile(filepath.Join(root, "big.bin"))
		_, port, _ := strings.Cut(tlsSrv.addr, ":")
		for _, mode := range []struct {
			name  string
			base  string
			flags []string
			big   []byte // the static /big.bin
		}{
			{"h2c", "http://" + h2c.addr, []string{"--http2-prior-knowledge"}, staticBig},
			{"tls", "https://a.test:" + port, []string{"--http2", "-k", "--resolve", "a.test:" + port + ":127.0.0.1"}, big},
		} {
			for _, c := range []struct {
				name, path string
				args       []string
				want       []byte
			}{
				{"static", "/big.bin", nil, mode.big},
				{"proxied", "/api/big", nil, big},
				{"proxied chunked", "/api/chunked", nil, big},
				{"proxied upload", "/api/echo", []string{"--data-binary", "@" + upload}, big[:300_000]},
			} {
				out := filepath.Join(t.TempDir(), "body")
				args := append([]string{"-sS", "--max-time", "20", "-o", out, "-w", "%{http_version} %{http_code}"}, mode.flags...)
				args = append(append(args, c.args...), mode.base+c.path)
				res, err := exec.Command("curl", args...).CombinedOutput()
				if err != nil {
					t.Fatalf("%s %s: curl: %v: %s", mode.name, c.name, err, res)
				}
				body, _ := os.ReadFile(out)
				if string(res) != "2 200" || !bytes.Equal(body, c.want) {
					t.Errorf("%s %s: %q, %d body bytes (want \"2 200\", %d)", mode.name, c.name, res, len(body), len(c.want))
				}
			}
		}
	})
}

// TestH2StdlibClient runs the proxied and static exchanges of
// checkH2Proxy with the standard library's client over TLS: net/http's
// Transport picks its bundled HTTP/2 by ALPN, as every Go program does.
func TestH2StdlibClient(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		up := startH2Upstream(t)
		ts := startTLS(t, backend, []tlsSite{{names: "a.test", extra: h2ProxyKeys(t, up, filepath.Join(t.TempDir(), "access.log"))}})
		os.WriteFile(filepath.Join(ts.dir, "root0", "small.txt"), smallBody, 0o644)
		tr := &nethttp.Transport{TLSClientConfig: &tls.Config{RootCAs: ts.roots, ServerName: "a.test"}, ForceAttemptHTTP2: true}
		defer tr.CloseIdleConnections()
		cl := &nethttp.Client{Transport: tr, Timeout: 20 * time.Second}
		checkH2Proxy(t, cl, "https://"+ts.addr, up, smallBody)
	})
}

// TestH2loadRoutes runs h2load (nghttp2's load generator: many streams at
// once on each connection) against a static and a proxied route, over
// TLS and over h2c, on both backends: every request must succeed with a
// 2xx. Skipped where h2load is not installed (Debian: nghttp2-client).
func TestH2loadRoutes(t *testing.T) {
	if _, err := exec.LookPath("h2load"); err != nil {
		t.Skip("no h2load (Debian package nghttp2-client)")
	}
	forEachBackend(t, func(t *testing.T, backend string) {
		h2c, tlsSrv, _ := startH2Routes(t, backend)
		for _, url := range []string{
			"http://" + h2c.addr + "/small.txt", "http://" + h2c.addr + "/api/small",
			"https://" + tlsSrv.addr + "/", "https://" + tlsSrv.addr + "/api/small",
		} {
			out, err := exec.Command("h2load", "-n", "2000", "-c", "4", "-m", "10", url).CombinedOutput()
			if err != nil || !bytes.Contains(out, []byte("2000 succeeded, 0 failed")) || !bytes.Contains(out, []byte("status codes: 2000 2xx")) {
				t.Errorf("h2load %s: %v\n%s", url, err, out)
			}
		}
	})
}

// startH2Routes starts the servers the HTTP/2 client tests talk to, on
// backend: a plain one (h2c) and a TLS one (a.test), each serving a
// static tree (writeTree, in root) and proxying /api/ to an HTTP/2
// test upstream.
func startH2Routes(t *testing.T, backend string) (h2c *testServer, tlsSrv *tlsServer, root string) {
	up := startH2Upstream(t)
	root = t.TempDir()
	writeTree(t, root)
	keys := h2ProxyKeys(t, up, filepath.Join(t.TempDir(), "access.log"))
	h2c = startServer(t, backend, "static_root = "+root+"\n"+keys)
	tlsSrv = startTLS(t, backend, []tlsSite{{names: "a.test", extra: keys}})
	return h2c, tlsSrv, root
}
