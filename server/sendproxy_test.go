//go:build linux

package server_test

import (
	"bufio"
	"io"
	"net"
	nethttp "net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/nproxy/nproxy/internal/promtest"
	"github.com/nproxy/nproxy/internal/servertest"
)

// TestSendProxyIdleGauge checks nproxy_upstream_connections for the
// upstream connections of proxy_send_proxy_protocol, kept with their
// client connections, on both backends: short clients (Connection:
// close) leave none idle; a keep-alive client's one connection counts
// as idle between its requests; once that client leaves, the gauge and
// the backend's open connections are back to 0.
func TestSendProxyIdleGauge(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		var open atomic.Int64
		be := servertest.RawBackend(t, func(c net.Conn) {
			open.Add(1)
			defer open.Add(-1)
			r := bufio.NewReader(c)
			if line, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(line, "PROXY TCP4 ") {
				return
			}
			for {
				req, err := nethttp.ReadRequest(r)
				if err != nil {
					return
				}
				io.Copy(io.Discard, req.Body)
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nup\n")
			}
		})
		ts := startServer(t, backend, "metrics = on\n[location /api/]\nproxy_pass = "+be+"\nproxy_send_proxy_protocol = v1\n")
		gauge := func(state string) float64 {
			v, _ := scrape(t, ts).Sum("nproxy_upstream_connections", promtest.Labels("backend="+be+",state="+state))
			return v
		}
		for i := 0; i < 20; i++ {
			if res := ts.roundTrip(t, "GET /api/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); res.status != 200 {
				t.Fatalf("short client %d: status %d", i, res.status)
			}
		}
		servertest.WaitFor(t, "the short clients' upstream connections to close", func() bool { return open.Load() == 0 })
		if idle := gauge("idle"); idle != 0 {
			t.Errorf("idle gauge %v after the short clients left, want 0", idle)
		}

		c := ts.dial(t)
		r := bufio.NewReader(c)
		for i := 0; i < 3; i++ {
			io.WriteString(c, "GET /api/keep HTTP/1.1\r\nHost: x\r\n\r\n")
			res, err := nethttp.ReadResponse(r, nil)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
		}
		if idle, active, n := gauge("idle"), gauge("active"), open.Load(); idle != 1 || active != 0 || n != 1 {
			t.Errorf("between a keep-alive client's requests: idle %v, active %v, %d open upstream; want 1, 0, 1", idle, active, n)
		}
		c.Close()
		servertest.WaitFor(t, "the keep-alive client's upstream connection to close", func() bool { return open.Load() == 0 })
		if idle := gauge("idle"); idle != 0 {
			t.Errorf("idle gauge %v after the keep-alive client left, want 0", idle)
		}
	})
}
