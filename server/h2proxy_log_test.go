//go:build linux

package server_test

import (
	"io"
	"net"
	nethttp "net/http"
	"strings"
	"testing"
)

// TestH2ProxyBodyBytesSent logs $body_bytes_sent of a proxied HTTP/2
// stream as the body bytes the client got: the backend's chunked body
// reaches the stream as HTTP/1.1 chunks, whose framing DATA frames do
// not carry; on both backends.
func TestH2ProxyBodyBytesSent(t *testing.T) {
	body := strings.Repeat("0123456789abcdef", 3) // 48 bytes
	forEachBackend(t, func(t *testing.T, backend string) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := &nethttp.Server{Handler: nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
			for i := 0; i < len(body); i += 16 {
				io.WriteString(w, body[i:i+16])
				w.(nethttp.Flusher).Flush() // chunked, three chunks
			}
		})}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
		logPath := t.TempDir() + "/access.log"
		ts := startServerGlobals(t, backend, "log_format = b '$server_protocol $status $body_bytes_sent'\n",
			"listen = {{addr}}\nhttp2 = on\naccess_log = "+logPath+" b\nproxy_pass = "+ln.Addr().String()+"\n")
		res, got := h2Do(t, h2cClient(), "GET", "http://"+ts.addr+"/x", nil)
		if res.StatusCode != 200 || string(got) != body {
			t.Fatalf("proxied: %d %q", res.StatusCode, got)
		}
		lines := readLines(t, logPath, 1)
		if want := "HTTP/2.0 200 48"; lines[0] != want {
			t.Errorf("log line %q, want %q", lines[0], want)
		}
	})
}
