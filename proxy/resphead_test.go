//go:build linux

package proxy_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/nproxy/nproxy/internal/servertest"
)

// hostileBackend answers every request on a connection with resp, and
// counts the requests it read.
func hostileBackend(t *testing.T, resp string, hits *atomic.Int64) string {
	return servertest.RawBackend(t, func(c net.Conn) {
		r := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(r)
			if err != nil {
				return
			}
			io.Copy(io.Discard, req.Body)
			hits.Add(1)
			if _, err := io.WriteString(c, resp); err != nil {
				return
			}
		}
	})
}

// TestFinding11HostileUpstreamHead: an upstream response head that would
// inject header lines (bare LF, bare CR, NUL in a value) or whose framing a
// client could read otherwise than the proxy (an unknown transfer coding,
// a signed or ambiguous Content-Length) is answered 502, and none of its
// bytes reach the client.
func TestFinding11HostileUpstreamHead(t *testing.T) {
	cases := []struct {
		name string
		resp string // every one carries "evil" where a client would see it
	}{
		{name: "bare LF inside a value", resp: "HTTP/1.1 200 OK\r\nX-A: a\nSet-Cookie: evil=1\r\nContent-Length: 4\r\n\r\nevil"},
		{name: "bare LF ends a line", resp: "HTTP/1.1 200 OK\nSet-Cookie: evil=1\nContent-Length: 4\n\nevil"},
		{name: "bare CR inside a value", resp: "HTTP/1.1 200 OK\r\nX-A: a\rSet-Cookie: evil=1\r\nContent-Length: 4\r\n\r\nevil"},
		{name: "NUL inside a value", resp: "HTTP/1.1 200 OK\r\nX-A: evil\x00=1\r\nContent-Length: 4\r\n\r\nevil"},
		{name: "Transfer-Encoding xchunked", resp: "HTTP/1.1 200 OK\r\nX-A: evil\r\nTransfer-Encoding: xchunked\r\n\r\n4\r\nevil\r\n0\r\n\r\n"},
		{name: "Transfer-Encoding gzip alone", resp: "HTTP/1.1 200 OK\r\nX-A: evil\r\nTransfer-Encoding: gzip\r\n\r\nevil"},
		{name: "Content-Length +2", resp: "HTTP/1.1 200 OK\r\nX-A: evil\r\nContent-Length: +2\r\n\r\nevil"},
		{name: "Content-Length 5, 6", resp: "HTTP/1.1 200 OK\r\nX-A: evil\r\nContent-Length: 5, 6\r\n\r\nevil!!"},
		{name: "Content-Length 5 then 6", resp: "HTTP/1.1 200 OK\r\nX-A: evil\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nevil!!"},
		{name: "obs-fold", resp: "HTTP/1.1 200 OK\r\nX-A: a\r\n Set-Cookie: evil=1\r\nContent-Length: 4\r\n\r\nevil"},
		{name: "status 600", resp: "HTTP/1.1 600 evil\r\nContent-Length: 4\r\n\r\nevil"},
	}
	forEachBackend(t, func(t *testing.T, backend string) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				var hits atomic.Int64
				addr := hostileBackend(t, tc.resp, &hits)
				ps := startProxy(t, backend, "proxy_pass = "+addr+"\n")
				c := ps.dial(t)
				io.WriteString(c, "GET /x HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
				raw, err := io.ReadAll(c)
				if err != nil {
					t.Fatalf("read: %v (got %q)", err, raw)
				}
				if !strings.HasPrefix(string(raw), "HTTP/1.1 502 ") {
					t.Errorf("client got %q, want a 502", raw)
				}
				if strings.Contains(strings.ToLower(string(raw)), "evil") {
					t.Errorf("upstream bytes reached the client: %q", raw)
				}
				if hits.Load() == 0 {
					t.Error("the backend never saw the request: the 502 is not about its response")
				}
			})
		}
	})
}

// TestFinding11ContentLengthList: a Content-Length list of equal values,
// or equal Content-Length fields, is one length: the client gets the body
// with a single Content-Length, and both connections stay usable.
func TestFinding11ContentLengthList(t *testing.T) {
	cases := []struct{ name, resp string }{
		{name: "list 5, 5", resp: "HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\nhello"},
		{name: "fields 5 and 05", resp: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\ncontent-length: 05\r\n\r\nhello"},
	}
	forEachBackend(t, func(t *testing.T, backend string) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				var hits atomic.Int64
				addr := hostileBackend(t, tc.resp, &hits)
				ps := startProxy(t, backend, "proxy_pass = "+addr+"\n")
				cl := ps.client(t)
				for i := 0; i < 3; i++ {
					res := cl.do(get("/x"))
					if res.status != 200 || string(res.body) != "hello" || res.header["content-length"] != "5" {
						t.Fatalf("request %d: %d %q Content-Length %q", i, res.status, res.body, res.header["content-length"])
					}
					if res.header["connection"] == "close" {
						t.Fatalf("request %d: the client connection closes", i)
					}
				}
				if n := hits.Load(); n != 3 {
					t.Errorf("backend saw %d requests, want 3", n)
				}
			})
		}
	})
}
