//go:build linux

package proxy_test

import (
	"bytes"
	"io"
	"net"
	"testing"

	"github.com/nproxy/nproxy/internal/servertest"
)

// fastBackend answers every request head with a fixed small response,
// allocating nothing per request, so that a benchmark measures the proxy.
func fastBackend(b testing.TB) string {
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Length: 23\r\nContent-Type: text/plain\r\n\r\nhello from the backend\n")
	return servertest.RawBackend(b, func(c net.Conn) {
		buf := make([]byte, 64<<10)
		out := make([]byte, 0, 64<<10)
		tail := 0 // bytes of a partial head kept at the front
		for {
			n, err := c.Read(buf[tail:])
			if err != nil {
				return
			}
			data := buf[:tail+n]
			out = out[:0]
			for {
				i := bytes.Index(data, []byte("\r\n\r\n"))
				if i < 0 {
					break
				}
				out = append(out, resp...)
				data = data[i+4:]
			}
			tail = copy(buf, data)
			if _, err := c.Write(out); err != nil {
				return
			}
		}
	})
}

// BenchmarkProxyGet runs keep-alive GETs through the proxy, one at a time
// on one client connection; allocations counted are the whole process's.
func BenchmarkProxyGet(b *testing.B) {
	for _, backend := range []string{"epoll", "io_uring"} {
		b.Run(backend, func(b *testing.B) {
			ps := startProxy(b, backend, "proxy_pass = "+fastBackend(b)+"\n")
			_ = ps
			c, err := net.Dial("tcp", ps.addr)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			req := []byte("GET /proxy/x HTTP/1.1\r\nHost: bench\r\nUser-Agent: bench\r\n\r\n")
			buf := make([]byte, 4096)
			roundTrip := func() {
				if _, err := c.Write(req); err != nil {
					b.Fatal(err)
				}
				got := 0
				for got == 0 || !bytes.HasSuffix(buf[:got], []byte("backend\n")) {
					n, err := c.Read(buf[got:])
					if err != nil {
						b.Fatal(err)
					}
					got += n
				}
			}
			for i := 0; i < 100; i++ {
				roundTrip() // warm the pools
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				roundTrip()
			}
		})
	}
}

var _ = io.EOF
