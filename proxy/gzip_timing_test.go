//go:build linux

package proxy_test

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"

	"github.com/nproxy/nproxy/internal/servertest"
)

// BenchmarkProxyGzip runs keep-alive GETs of a 16 KiB text body through
// the proxy with gzip = on, one at a time on one client connection: with
// Accept-Encoding: gzip (compressed as it streams) and without (the
// body as the backend sent it), so that the difference is what
// compressing a proxied response costs.
func BenchmarkProxyGzip(b *testing.B) {
	body := textBody(16<<10, 5)
	be := startBenchBackend(b, body)
	for _, backend := range []string{"epoll", "io_uring"} {
		for _, accept := range []string{"identity", "gzip"} {
			b.Run(backend+"/"+accept, func(b *testing.B) {
				ps := startProxy(b, backend, "proxy_pass = "+be+"\ngzip = on\n")
				c, err := net.Dial("tcp", ps.addr)
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close()
				r := bufio.NewReader(c)
				req := []byte("GET /t HTTP/1.1\r\nHost: bench\r\nAccept-Encoding: " + accept + "\r\n\r\n")
				b.SetBytes(int64(len(body)))
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if _, err := c.Write(req); err != nil {
						b.Fatal(err)
					}
					resp, err := http.ReadResponse(r, nil)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := io.Copy(io.Discard, resp.Body); err != nil {
						b.Fatal(err)
					}
					resp.Body.Close()
					if (resp.Header.Get("Content-Encoding") == "gzip") != (accept == "gzip") {
						b.Fatalf("Accept-Encoding %s: Content-Encoding %q", accept, resp.Header.Get("Content-Encoding"))
					}
				}
			})
		}
	}
}

// startBenchBackend answers every request with body as text/plain.
func startBenchBackend(b testing.TB, body []byte) string {
	head := []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n")
	resp := append(head, body...)
	return servertest.RawBackend(b, func(c net.Conn) {
		r := bufio.NewReader(c)
		for {
			line, err := r.ReadSlice('\n')
			if err != nil {
				return
			}
			if bytes.Equal(line, []byte("\r\n")) {
				if _, err := c.Write(resp); err != nil {
					return
				}
			}
		}
	})
}
