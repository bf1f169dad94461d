//go:build linux

package server_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	nethttp "net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// h2cClient is an HTTP/2 client with prior knowledge over cleartext TCP,
// all requests on one connection.
func h2cClient() *nethttp.Client {
	tr := &http2.Transport{
		AllowHTTP: true,
		DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}
	return &nethttp.Client{Transport: tr, Timeout: 20 * time.Second,
		CheckRedirect: func(*nethttp.Request, []*nethttp.Request) error { return nethttp.ErrUseLastResponse }}
}

// h2Get does one request and returns the response with its body read.
func h2Do(t *testing.T, cl *nethttp.Client, method, url string, hdr map[string]string) (*nethttp.Response, []byte) {
	t.Helper()
	req, _ := nethttp.NewRequest(method, url, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := cl.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: body: %v", method, url, err)
	}
	if res.ProtoMajor != 2 {
		t.Fatalf("%s %s: served over %s", method, url, res.Proto)
	}
	return res, body
}

// TestH2cStatic serves what a static [server] answers over h2c with prior
// knowledge: files small and large (flow control), HEAD, Range, 304,
// /healthz, a redirect and a 404, each as HTTP/1.1 answers it.
func TestH2cStatic(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		ts := startServer(t, backend, "http2 = on\n")
		big, _ := os.ReadFile(ts.root + "/big.bin")
		cl := h2cClient()
		base := "http://" + ts.addr
		res, body := h2Do(t, cl, "GET", base+"/small.txt", nil)
		if res.StatusCode != 200 || !bytes.Equal(body, smallBody) {
			t.Fatalf("small: %d, %d bytes", res.StatusCode, len(body))
		}
		etag := res.Header.Get("Etag")
		res, body = h2Do(t, cl, "GET", base+"/big.bin", nil)
		if res.StatusCode != 200 || !bytes.Equal(body, big) {
			t.Fatalf("big: %d, %d bytes", res.StatusCode, len(body))
		}
		for _, c := range []struct {
			name, method, path string
			hdr                map[string]string
			status             int
			body               string
			header, value      string
		}{
			{name: "head", method: "HEAD", path: "/small.txt", status: 200, header: "Content-Length", value: "1024"},
			{name: "range", method: "GET", path: "/small.txt", hdr: map[string]string{"Range": "bytes=2-5"}, status: 206, body: "2345"},
			{name: "304", method: "GET", path: "/small.txt", hdr: map[string]string{"If-None-Match": etag}, status: 304},
			{name: "healthz", method: "GET", path: "/healthz", status: 200},
			{name: "redirect", method: "GET", path: "/sub", status: 301, header: "Location", value: "/sub/"},
			{name: "404", method: "GET", path: "/nope", status: 404},
			{name: "index", method: "GET", path: "/sub/", status: 200, body: "sub index\n"},
		} {
			res, body := h2Do(t, cl, c.method, base+c.path, c.hdr)
			if res.StatusCode != c.status {
				t.Errorf("%s: status %d, want %d", c.name, res.StatusCode, c.status)
			}
			if c.body != "" && string(body) != c.body {
				t.Errorf("%s: body %q, want %q", c.name, body, c.body)
			}
			if (c.method == "HEAD" || c.status == 304) && len(body) != 0 {
				t.Errorf("%s: %d body bytes", c.name, len(body))
			}
			if c.header != "" && !strings.HasSuffix(res.Header.Get(c.header), c.value) {
				t.Errorf("%s: %s %q, want %q", c.name, c.header, res.Header.Get(c.header), c.value)
			}
		}
	})
}

// TestH2cConcurrentStreams runs 100 requests at once on one connection,
// small files and 1 MiB ones interleaved.
func TestH2cConcurrentStreams(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		ts := startServer(t, backend, "http2 = on\n")
		big, _ := os.ReadFile(ts.root + "/big.bin")
		cl := h2cClient()
		h2Do(t, cl, "GET", "http://"+ts.addr+"/small.txt", nil) // one connection first
		var wg sync.WaitGroup
		errs := make(chan error, 100)
		for i := range 100 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				path, want := "/small.txt", smallBody
				if i%10 == 0 {
					path, want = "/big.bin", big
				}
				res, err := cl.Get("http://" + ts.addr + path)
				if err != nil {
					errs <- err
					return
				}
				defer res.Body.Close()
				b, err := io.ReadAll(res.Body)
				if err != nil || !bytes.Equal(b, want) || res.ProtoMajor != 2 {
					errs <- fmt.Errorf("%s: %d bytes, %s, %v", path, len(b), res.Proto, err)
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})
}

// TestH2cResetAndDrain resets a stream in the middle of a 1 MiB response
// (the connection goes on), then drains the worker while a download is
// open: it finishes, and the worker stops once the connection ended.
func TestH2cResetAndDrain(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		ts := startServer(t, backend, "http2 = on\n")
		big, _ := os.ReadFile(ts.root + "/big.bin")
		cl := h2cClient()
		url := "http://" + ts.addr
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := nethttp.NewRequestWithContext(ctx, "GET", url+"/big.bin", nil)
		res, err := cl.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.ReadFull(res.Body, make([]byte, 1000))
		cancel() // RST_STREAM(CANCEL)
		res.Body.Close()
		if res, body := h2Do(t, cl, "GET", url+"/small.txt", nil); res.StatusCode != 200 || !bytes.Equal(body, smallBody) {
			t.Fatalf("after the reset: %d, %d bytes", res.StatusCode, len(body))
		}

		res, err = cl.Get(url + "/big.bin")
		if err != nil {
			t.Fatal(err)
		}
		first := make([]byte, 100)
		if _, err := io.ReadFull(res.Body, first); err != nil {
			t.Fatal(err)
		}
		ts.w.Drain(20 * time.Second)
		rest, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil || !bytes.Equal(append(first, rest...), big) {
			t.Fatalf("download across the drain: %d bytes, %v", len(first)+len(rest), err)
		}
		cl.CloseIdleConnections()
		select {
		case err := <-ts.done:
			ts.done <- err // for the cleanup
			if err != nil {
				t.Fatalf("worker: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the worker did not stop once its connections ended")
		}
	})
}

// TestH2cUpgradeIgnored: on an http2 listener, HTTP/1.1 is served as
// before and an Upgrade: h2c request is answered over HTTP/1.1.
func TestH2cUpgradeIgnored(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		ts := startServer(t, backend, "http2 = on\n")
		c := ts.dial(t)
		io.WriteString(c, "GET /small.txt HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n")
		res := readResponse(t, bufio.NewReader(c), false)
		if res.status != 200 || !bytes.Equal(res.body, smallBody) {
			t.Fatalf("status %d, %d bytes; want 200 over HTTP/1.1", res.status, len(res.body))
		}
	})
}

// TestH2TLS negotiates h2 by ALPN and serves files over it; a client
// offering only http/1.1 still gets HTTP/1.1.
func TestH2TLS(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		ts := startTLS(t, backend, []tlsSite{{names: "a.test", extra: "http2 = on\n"}})
		tr := &http2.Transport{TLSClientConfig: &tls.Config{RootCAs: ts.roots, ServerName: "a.test"}}
		cl := &nethttp.Client{Transport: tr, Timeout: 20 * time.Second}
		base := "https://" + ts.addr
		if res, body := h2Do(t, cl, "GET", base+"/", nil); res.StatusCode != 200 || string(body) != "site 0\n" {
			t.Fatalf("index: %d %q", res.StatusCode, body)
		}
		if res, body := h2Do(t, cl, "GET", base+"/big.bin", nil); res.StatusCode != 200 || !bytes.Equal(body, bigBody()) {
			t.Fatalf("big: %d, %d bytes", res.StatusCode, len(body))
		}
		if res, body := h2Do(t, cl, "GET", base+"/big.bin", map[string]string{"Range": "bytes=26-28"}); res.StatusCode != 206 || string(body) != "abc" {
			t.Fatalf("range: %d %q", res.StatusCode, body)
		}
		c := ts.dialTLS(t, "a.test", &tls.Config{NextProtos: []string{"http/1.1"}})
		if p := c.ConnectionState().NegotiatedProtocol; p != "http/1.1" {
			t.Fatalf("ALPN %q for an HTTP/1.1 client", p)
		}
		io.WriteString(c, get("/"))
		if res := readResponse(t, bufio.NewReader(c), false); res.status != 200 || string(res.body) != "site 0\n" {
			t.Fatalf("HTTP/1.1 on the h2 listener: %d %q", res.status, res.body)
		}
	})
}

// TestH2Off: with http2 = off, ALPN never picks h2.
func TestH2Off(t *testing.T) {
	ts := startTLS(t, "epoll", []tlsSite{{names: "a.test", extra: "http2 = off\n"}})
	c := ts.dialTLS(t, "a.test", &tls.Config{NextProtos: []string{"h2", "http/1.1"}})
	if p := c.ConnectionState().NegotiatedProtocol; p == "h2" {
		t.Fatal("h2 negotiated with http2 off")
	}
}

// TestH2TLSDefault: a TLS block that does not set http2 offers h2 by
// ALPN (the default with TLS), and still serves HTTP/1.1 to a client
// that asks for it.
func TestH2TLSDefault(t *testing.T) {
	ts := startTLS(t, "epoll", []tlsSite{{names: "a.test"}})
	c := ts.dialTLS(t, "a.test", &tls.Config{NextProtos: []string{"h2", "http/1.1"}})
	if p := c.ConnectionState().NegotiatedProtocol; p != "h2" {
		t.Fatalf("ALPN %q with http2 unset on a TLS block, want h2", p)
	}
	tr := &http2.Transport{TLSClientConfig: &tls.Config{RootCAs: ts.roots, ServerName: "a.test"}}
	cl := &nethttp.Client{Transport: tr, Timeout: 20 * time.Second}
	if res, body := h2Do(t, cl, "GET", "https://"+ts.addr+"/", nil); res.StatusCode != 200 || string(body) != "site 0\n" {
		t.Fatalf("index over h2: %d %q", res.StatusCode, body)
	}
	c = ts.dialTLS(t, "a.test", &tls.Config{NextProtos: []string{"http/1.1"}})
	io.WriteString(c, get("/"))
	if res := readResponse(t, bufio.NewReader(c), false); res.status != 200 || string(res.body) != "site 0\n" {
		t.Fatalf("HTTP/1.1 on the same block: %d %q", res.status, res.body)
	}
}

// TestH2Curl checks curl's HTTP/2 (nghttp2) against the server, when curl
// is installed.
func TestH2Curl(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("no curl")
	}
	ts := startServer(t, "epoll", "http2 = on\n")
	out, err := exec.Command("curl", "-sS", "--http2-prior-knowledge", "-o", "/dev/null",
		"-w", "%{http_version} %{http_code} %{size_download}", "http://"+ts.addr+"/big.bin").CombinedOutput()
	if err != nil {
		t.Fatalf("curl: %v: %s", err, out)
	}
	if string(out) != "2 200 1048699" {
		t.Fatalf("curl: %q, want \"2 200 1048699\"", out)
	}
}
