//go:build linux

package server_test

import (
	"bufio"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRealIP: behind a trusted proxy, the client named in X-Forwarded-For
// (the rightmost untrusted address) is the request's address for the
// X-Forwarded-For sent upstream, allow/deny, the rate limit and the
// access log; on both backends.
func TestRealIP(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		up := echoBackend(t, "up", "X-Forwarded-For")
		logPath := filepath.Join(t.TempDir(), "access.log")
		ts := startServer(t, backend, "proxy_pass = "+up+"\naccess_log = "+logPath+"\n"+
			"real_ip_from = 127.0.0.0/8, 10.0.0.0/8\nreal_ip_header = X-Forwarded-For\n"+
			"[location /denied/]\ndeny = 203.0.113.0/24\n"+
			"[location /limited/]\nrate_limit = 1r/m\n")
		req := func(path, xff string) string {
			return "GET " + path + " HTTP/1.1\r\nHost: t\r\nX-Forwarded-For: " + xff + "\r\n\r\n"
		}
		if res := ts.roundTrip(t, req("/echo", "6.6.6.6, 203.0.113.7, 10.0.0.2")); res.status != 200 ||
			string(res.body) != "up GET /echo\nx-forwarded-for: 6.6.6.6, 203.0.113.7, 10.0.0.2, 203.0.113.7\n" {
			t.Errorf("upstream saw %d %q", res.status, res.body)
		}
		if res := ts.roundTrip(t, req("/denied/x", "203.0.113.9")); res.status != 403 {
			t.Errorf("denied client through the proxy: %d, want 403", res.status)
		}
		if res := ts.roundTrip(t, req("/denied/x", "198.51.100.1")); res.status != 200 {
			t.Errorf("another client through the proxy: %d, want 200", res.status)
		}
		if res := ts.roundTrip(t, req("/limited/x", "198.51.100.2")); res.status != 200 {
			t.Errorf("first request of a client: %d", res.status)
		}
		if res := ts.roundTrip(t, req("/limited/x", "198.51.100.2")); res.status != 429 {
			t.Errorf("second request of that client: %d, want 429", res.status)
		}
		if res := ts.roundTrip(t, req("/limited/x", "198.51.100.3")); res.status != 200 {
			t.Errorf("another client's first request: %d, want 200 (the limit is per real client)", res.status)
		}
		var lines []string
		waitFor(t, "the access log", func() bool {
			b, _ := os.ReadFile(logPath)
			lines = strings.Split(strings.TrimSpace(string(b)), "\n")
			return len(lines) >= 6
		})
		for i, want := range []string{"203.0.113.7 ", "203.0.113.9 ", "198.51.100.1 ", "198.51.100.2 ", "198.51.100.2 ", "198.51.100.3 "} {
			if !strings.HasPrefix(lines[i], want) {
				t.Errorf("log line %d: %q, want it to start with %q", i, lines[i], want)
			}
		}
	})
}

// proxyV2 is a PROXY protocol v2 header for an IPv4 client.
func proxyV2(src [4]byte) []byte {
	b := []byte("\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c")
	b = append(b, src[:]...)
	b = append(b, 10, 0, 0, 1)
	return binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(b, 5555), 80)
}

// TestProxyProtocol: a listen address with proxy_protocol takes the
// client's address from a v1 or v2 header, whole or in pieces, and closes
// a connection without one; on both backends.
func TestProxyProtocol(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		up := echoBackend(t, "up", "X-Forwarded-For")
		ts := startServer(t, backend, "listen = {{addr}} proxy_protocol\nproxy_pass = "+up+"\n")
		const get1 = "GET /x HTTP/1.1\r\nHost: t\r\n\r\n"
		tests := []struct {
			name   string
			pieces []string
			xff    string
		}{
			{name: "v1", pieces: []string{"PROXY TCP4 203.0.113.50 10.0.0.1 5555 80\r\n" + get1}, xff: "203.0.113.50"},
			{name: "v1 tcp6", pieces: []string{"PROXY TCP6 2001:db8::50 2001:db8::1 5555 80\r\n" + get1}, xff: "2001:db8::50"},
			{name: "v1 in pieces", pieces: []string{"PROXY TCP4 203.0", ".113.51 10.0.0.1 5555 80\r", "\n" + get1}, xff: "203.0.113.51"},
			{name: "v1 unknown", pieces: []string{"PROXY UNKNOWN\r\n" + get1}, xff: "127.0.0.1"},
			{name: "v2", pieces: []string{string(proxyV2([4]byte{198, 51, 100, 9})) + get1}, xff: "198.51.100.9"},
			{name: "v2 in pieces", pieces: []string{string(proxyV2([4]byte{198, 51, 100, 10})[:14]), string(proxyV2([4]byte{198, 51, 100, 10})[14:]), get1}, xff: "198.51.100.10"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				c := ts.dial(t)
				for _, p := range tt.pieces {
					if _, err := io.WriteString(c, p); err != nil {
						t.Fatal(err)
					}
					time.Sleep(5 * time.Millisecond) // separate segments; correctness does not depend on it
				}
				res := readResponse(t, bufio.NewReader(c), false)
				if want := "up GET /x\nx-forwarded-for: " + tt.xff + "\n"; res.status != 200 || string(res.body) != want {
					t.Errorf("%d %q, want %q", res.status, res.body, want)
				}
			})
		}
		t.Run("no header", func(t *testing.T) {
			c := ts.dial(t)
			io.WriteString(c, get1)
			expectClosed(t, c, 2*time.Second)
		})
	})
}
