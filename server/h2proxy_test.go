//go:build linux

package server_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	nethttp "net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nproxy/nproxy/internal/servertest"
	"golang.org/x/net/http2"
)

// h2Upstream is the HTTP/1.1 backend of the HTTP/2 proxy tests.
type h2Upstream struct {
	addr string
	// gone receives once for each /api/endless exchange whose client
	// connection (nproxy's upstream connection) went away.
	gone chan struct{}
}

// startH2Upstream serves, under /api/: small (a short body and a header),
// echo (the request body back, with how it was framed), big (1 MiB,
// Content-Length), chunked (1 MiB in flushed pieces, no length), cut
// (half of a 1 MiB body, then the connection closes), endless (writes
// until the connection goes away).
func startH2Upstream(t *testing.T) *h2Upstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	up := &h2Upstream{addr: ln.Addr().String(), gone: make(chan struct{}, 16)}
	big := bigBody()
	srv := &nethttp.Server{Handler: nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		switch r.URL.Path {
		case "/api/small":
			w.Header().Set("X-Up", "yes")
			w.Header().Set("Content-Length", "5")
			io.WriteString(w, "hello")
		case "/api/echo":
			body, err := io.ReadAll(r.Body)
			if err != nil {
				w.WriteHeader(400)
				return
			}
			w.Header().Set("X-Framing", strings.Join(r.TransferEncoding, ",")+"/"+fmt.Sprint(r.ContentLength))
			w.Header().Set("X-Proto", r.Proto)
			w.Header().Set("Content-Length", fmt.Sprint(len(body)))
			w.Write(body)
		case "/api/big":
			w.Header().Set("Content-Length", fmt.Sprint(len(big)))
			w.Write(big)
		case "/api/chunked":
			f := w.(nethttp.Flusher)
			for off := 0; off < len(big); off += 100_000 {
				w.Write(big[off:min(off+100_000, len(big))])
				f.Flush()
			}
		case "/api/cut":
			// A backend that dies mid-response: half the body, then the
			// connection closes.
			w.Header().Set("Content-Length", fmt.Sprint(len(big)))
			w.Write(big[:len(big)/2])
			w.(nethttp.Flusher).Flush()
			if c, _, err := nethttp.NewResponseController(w).Hijack(); err == nil {
				c.Close()
			}
		case "/api/endless":
			f := w.(nethttp.Flusher)
			piece := bytes.Repeat([]byte("x"), 16<<10)
			for {
				if _, err := w.Write(piece); err != nil {
					break
				}
				f.Flush()
				if r.Context().Err() != nil {
					break
				}
			}
			up.gone <- struct{}{}
		default:
			w.WriteHeader(404)
		}
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return up
}

// h2ProxyKeys are the [server] keys of a block serving static files and
// proxying /api/ to up and /down/ to an address that refuses connections
// (502), over HTTP/2.
func h2ProxyKeys(t *testing.T, up *h2Upstream, logPath string) string {
	return "http2 = on\naccess_log = " + logPath + "\n" +
		"[location /api/]\nproxy_pass = " + up.addr + "\n" +
		"[location /down/]\nproxy_pass = " + servertest.RefusedAddr(t) + "\n"
}

// unsizedReader hides its length, so the h2 client sends no
// content-length (the body's length is unknown ahead).
type unsizedReader struct{ r io.Reader }

func (u unsizedReader) Read(p []byte) (int, error) { return u.r.Read(p) }

// checkH2Proxy runs the proxied exchanges of one connection's client cl
// against base: GET, POST with a sized and an unsized body, a 1 MiB
// response with Content-Length and a chunked one, a 502, a client reset
// in the middle of a proxied response (the upstream connection is
// closed, the HTTP/2 connection goes on), and a static file and a local
// answer (/healthz) beside them.
func checkH2Proxy(t *testing.T, cl *nethttp.Client, base string, up *h2Upstream, staticWant []byte) {
	t.Helper()
	big := bigBody()
	res, body := h2Do(t, cl, "GET", base+"/api/small", nil)
	if res.StatusCode != 200 || string(body) != "hello" || res.Header.Get("X-Up") != "yes" {
		t.Fatalf("GET small: %d %q X-Up=%q", res.StatusCode, body, res.Header.Get("X-Up"))
	}
	if res.Header.Get("Connection") != "" || res.Header.Get("Keep-Alive") != "" {
		t.Errorf("GET small: connection-specific fields %v", res.Header)
	}

	for _, tc := range []struct {
		name    string
		body    func() io.Reader
		framing string
	}{
		{name: "sized", body: func() io.Reader { return bytes.NewReader(big[:300_000]) }, framing: "/300000"},
		{name: "unsized", body: func() io.Reader { return unsizedReader{bytes.NewReader(big[:300_000])} }, framing: "chunked/-1"},
		{name: "empty", body: func() io.Reader { return bytes.NewReader(nil) }, framing: "/0"},
	} {
		req, _ := nethttp.NewRequest("POST", base+"/api/echo", tc.body())
		res, err := cl.Do(req)
		if err != nil {
			t.Fatalf("POST %s: %v", tc.name, err)
		}
		got, err := io.ReadAll(res.Body)
		res.Body.Close()
		want := big[:300_000]
		if tc.name == "empty" {
			want = nil
		}
		if err != nil || res.StatusCode != 200 || !bytes.Equal(got, want) || res.ProtoMajor != 2 {
			t.Fatalf("POST %s: %d, %d bytes, %s, %v", tc.name, res.StatusCode, len(got), res.Proto, err)
		}
		if f := res.Header.Get("X-Framing"); f != tc.framing || res.Header.Get("X-Proto") != "HTTP/1.1" {
			t.Errorf("POST %s: upstream saw framing %q over %s, want %q over HTTP/1.1", tc.name, f, res.Header.Get("X-Proto"), tc.framing)
		}
	}

	res, body = h2Do(t, cl, "GET", base+"/api/big", nil)
	if res.StatusCode != 200 || !bytes.Equal(body, big) || res.ContentLength != int64(len(big)) {
		t.Fatalf("GET big: %d, %d bytes, length %d", res.StatusCode, len(body), res.ContentLength)
	}
	res, body = h2Do(t, cl, "GET", base+"/api/chunked", nil)
	if res.StatusCode != 200 || !bytes.Equal(body, big) {
		t.Fatalf("GET chunked: %d, %d bytes", res.StatusCode, len(body))
	}
	res, body = h2Do(t, cl, "HEAD", base+"/api/big", nil)
	if res.StatusCode != 200 || len(body) != 0 || res.ContentLength != int64(len(big)) {
		t.Fatalf("HEAD big: %d, %d bytes, length %d", res.StatusCode, len(body), res.ContentLength)
	}
	res, _ = h2Do(t, cl, "GET", base+"/down/x", nil)
	if res.StatusCode != 502 {
		t.Fatalf("GET down: %d, want 502", res.StatusCode)
	}

	ctx, cancel := context.WithCancel(context.Background())
	req, _ := nethttp.NewRequestWithContext(ctx, "GET", base+"/api/endless", nil)
	res, err := cl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(res.Body, make([]byte, 200_000)); err != nil {
		t.Fatalf("endless: %v", err)
	}
	cancel() // RST_STREAM(CANCEL)
	res.Body.Close()
	select {
	case <-up.gone:
	case <-time.After(10 * time.Second):
		t.Fatal("the upstream connection of a reset stream stayed open")
	}

	res, body = h2Do(t, cl, "GET", base+"/small.txt", nil)
	if res.StatusCode != 200 || !bytes.Equal(body, staticWant) {
		t.Fatalf("static after the reset: %d, %d bytes", res.StatusCode, len(body))
	}
	if res, _ = h2Do(t, cl, "GET", base+"/healthz", nil); res.StatusCode != 200 {
		t.Fatalf("healthz (a local answer): %d", res.StatusCode)
	}
	res, body = h2Do(t, cl, "GET", base+"/api/small", nil)
	if res.StatusCode != 200 || string(body) != "hello" {
		t.Fatalf("GET small after the reset: %d %q", res.StatusCode, body)
	}
}

// TestH2cProxy proxies over h2c with prior knowledge, all on one
// connection, on both backends, and logs the streams as HTTP/2.0.
func TestH2cProxy(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		up := startH2Upstream(t)
		root := t.TempDir()
		writeTree(t, root)
		logPath := filepath.Join(t.TempDir(), "access.log")
		ts := startServer(t, backend, "static_root = "+root+"\n"+h2ProxyKeys(t, up, logPath))
		cl := h2cClient()
		checkH2Proxy(t, cl, "http://"+ts.addr, up, smallBody)
		waitFor(t, "the proxied GET in the access log", func() bool {
			b, _ := os.ReadFile(logPath)
			return bytes.Contains(b, []byte(`"GET /api/small HTTP/2.0" 200 5`)) &&
				bytes.Contains(b, []byte(`"GET /down/x HTTP/2.0" 502`))
		})
	})
}

// TestH2TLSProxy proxies over TLS with ALPN h2, on both backends.
func TestH2TLSProxy(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		up := startH2Upstream(t)
		logPath := filepath.Join(t.TempDir(), "access.log")
		ts := startTLS(t, backend, []tlsSite{{names: "a.test", extra: h2ProxyKeys(t, up, logPath)}})
		os.WriteFile(filepath.Join(ts.dir, "root0", "small.txt"), smallBody, 0o644)
		tr := &http2.Transport{TLSClientConfig: &tls.Config{RootCAs: ts.roots, ServerName: "a.test"}}
		cl := &nethttp.Client{Transport: tr, Timeout: 20 * time.Second}
		checkH2Proxy(t, cl, "https://"+ts.addr, up, smallBody)
	})
}

// TestH2ProxyConcurrent runs proxied and static streams at once on one
// connection: 1 MiB proxied downloads, uploads and small files
// interleaved.
func TestH2ProxyConcurrent(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		up := startH2Upstream(t)
		root := t.TempDir()
		writeTree(t, root)
		ts := startServer(t, backend, "static_root = "+root+"\n"+h2ProxyKeys(t, up, filepath.Join(t.TempDir(), "a.log")))
		cl := h2cClient()
		base := "http://" + ts.addr
		h2Do(t, cl, "GET", base+"/small.txt", nil) // one connection first
		big := bigBody()
		errs := make(chan error, 40)
		for i := range 40 {
			go func() {
				var res *nethttp.Response
				var err error
				want := big
				switch i % 4 {
				case 0:
					res, err = cl.Get(base + "/api/big")
				case 1:
					res, err = cl.Get(base + "/api/chunked")
				case 2:
					want = big[:100_000]
					res, err = cl.Post(base+"/api/echo", "application/octet-stream", bytes.NewReader(want))
				default:
					want = smallBody
					res, err = cl.Get(base + "/small.txt")
				}
				if err != nil {
					errs <- err
					return
				}
				b, err := io.ReadAll(res.Body)
				res.Body.Close()
				if err != nil || !bytes.Equal(b, want) || res.ProtoMajor != 2 {
					errs <- fmt.Errorf("stream %d: %d, %d bytes, %s, %v", i, res.StatusCode, len(b), res.Proto, err)
					return
				}
				errs <- nil
			}()
		}
		for range 40 {
			select {
			case err := <-errs:
				if err != nil {
					t.Error(err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("streams did not finish")
			}
		}
	})
}

// TestH2cStreamedListing: a directory listing too large to build within
// Serve is streamed by a step that takes the stream over, as over
// HTTP/1.1 (it was reset with HTTP_1_1_REQUIRED before streams could be
// taken over).
func TestH2cStreamedListing(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		root := t.TempDir()
		writeTree(t, root)
		dir := filepath.Join(root, "many")
		os.Mkdir(dir, 0o755)
		for i := range 1500 {
			os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%04d.txt", i)), nil, 0o644)
		}
		ts := startServer(t, backend, "static_root = "+root+"\nautoindex = on\nhttp2 = on\n")
		res, body := h2Do(t, h2cClient(), "GET", "http://"+ts.addr+"/many/", nil)
		if res.StatusCode != 200 {
			t.Fatalf("listing: %d", res.StatusCode)
		}
		for _, name := range []string{"f0000.txt", "f0777.txt", "f1499.txt"} {
			if !bytes.Contains(body, []byte(name)) {
				t.Fatalf("listing of %d bytes lacks %s", len(body), name)
			}
		}
	})
}

// TestH2cProxyUpstreamCut: a backend that closes its connection in the
// middle of a response resets the stream (the client sees an error, not
// a short body passed off as whole), and the HTTP/2 connection serves the
// next stream.
func TestH2cProxyUpstreamCut(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		up := startH2Upstream(t)
		root := t.TempDir()
		writeTree(t, root)
		ts := startServer(t, backend, "static_root = "+root+"\n"+h2ProxyKeys(t, up, filepath.Join(t.TempDir(), "a.log")))
		cl := h2cClient()
		base := "http://" + ts.addr
		res, err := cl.Get(base + "/api/cut")
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err == nil {
			t.Fatalf("cut response: %d bytes read without an error", len(b))
		}
		if res, body := h2Do(t, cl, "GET", base+"/api/small", nil); res.StatusCode != 200 || string(body) != "hello" {
			t.Fatalf("after the cut: %d %q", res.StatusCode, body)
		}
	})
}

// TestH2cProxyBodyTimeout: body_timeout runs per stream: a client that
// stops sending its request body gets 408 on that stream, while the
// connection's other streams go on.
func TestH2cProxyBodyTimeout(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		up := startH2Upstream(t)
		root := t.TempDir()
		writeTree(t, root)
		ts := startServer(t, backend, "static_root = "+root+"\nbody_timeout = 300ms\n"+h2ProxyKeys(t, up, filepath.Join(t.TempDir(), "a.log")))
		cl := h2cClient()
		base := "http://" + ts.addr
		pr, pw := io.Pipe()
		defer pw.Close()
		req, _ := nethttp.NewRequest("POST", base+"/api/echo", pr)
		req.ContentLength = 1000
		go pw.Write([]byte("only ten b"))
		res, err := cl.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 408 {
			t.Fatalf("stalled body: %d, want 408", res.StatusCode)
		}
		if res, body := h2Do(t, cl, "GET", base+"/api/small", nil); res.StatusCode != 200 || string(body) != "hello" {
			t.Fatalf("after the timeout: %d %q", res.StatusCode, body)
		}
	})
}

// TestH2cDrainIdleGrace: an idle HTTP/2 connection does not hold a drain
// for its keepalive_timeout: GOAWAY, then the connection ends, well within
// drain_idle_grace.
func TestH2cDrainIdleGrace(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		ts := startServerGlobals(t, backend, "drain_idle_grace = 200ms\n", "http2 = on\nkeepalive_timeout = 60s\n")
		cl := h2cClient()
		if res, _ := h2Do(t, cl, "GET", "http://"+ts.addr+"/small.txt", nil); res.StatusCode != 200 {
			t.Fatalf("status %d", res.StatusCode)
		}
		ts.w.Drain(20 * time.Second)
		select {
		case err := <-ts.done:
			ts.done <- err // for the cleanup
			if err != nil {
				t.Fatalf("worker: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the idle HTTP/2 connection held the drain past drain_idle_grace")
		}
	})
}
