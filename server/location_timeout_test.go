//go:build linux

package server_test

import (
	"bufio"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestLocationTimeouts checks body_timeout set in a [location], on both
// backends: the body of a request the server answers itself (a static
// file) is dropped under the location's timeout, not its [server]'s, and
// a proxied location's stalled request body is answered 408 under its
// own; a request of the [server] keeps the [server]'s.
func TestLocationTimeouts(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		up := echoBackend(t, "up")
		www := siteDir(t, map[string]string{"index.html": "home\n", "slow/index.html": "slow\n"})
		ts := startServer(t, backend, "static_root = "+www+"\nbody_timeout = 60s\nsend_timeout = 60s\n"+
			"[location /slow/]\nbody_timeout = 300ms\nsend_timeout = 300ms\n"+
			"[location /api/]\nproxy_pass = "+up+"\nbody_timeout = 300ms\n")
		// A body announced as 100 bytes of which 5 come.
		stalled := func(path string) string {
			return "POST " + path + " HTTP/1.1\r\nHost: test\r\nContent-Length: 100\r\n\r\nhello"
		}
		tests := []struct {
			name   string
			path   string
			status int
			closed bool // closed within a few seconds; else still open after one
		}{
			{name: "location drops under its own", path: "/slow/index.html", status: 405, closed: true},
			{name: "server keeps its own", path: "/index.html", status: 405, closed: false},
			{name: "proxied location", path: "/api/x", status: 408, closed: true},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				c := ts.dial(t)
				if _, err := io.WriteString(c, stalled(tt.path)); err != nil {
					t.Fatal(err)
				}
				res := readResponse(t, bufio.NewReader(c), false)
				if res.status != tt.status {
					t.Fatalf("status %d, want %d (%q)", res.status, tt.status, res.body)
				}
				if tt.closed {
					expectClosed(t, c, 5*time.Second)
					return
				}
				c.SetReadDeadline(time.Now().Add(time.Second))
				if _, err := c.Read(make([]byte, 1)); err == nil || !isTimeout(err) {
					t.Fatalf("connection closed under the [server]'s 60s body_timeout: %v", err)
				}
			})
		}
	})
}

// isTimeout reports whether err is a read deadline passing.
func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// TestLocationSendTimeout checks send_timeout set in a [location], on
// both backends: a client that stops reading a file of the location is
// cut under the location's send_timeout, not its [server]'s minute.
func TestLocationSendTimeout(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		ts := startServer(t, backend, "send_timeout = 60s\n[location = /slow.bin]\nsend_timeout = 1s\n")
		if err := os.WriteFile(filepath.Join(ts.root, "slow.bin"), make([]byte, slowFile), 0o644); err != nil {
			t.Fatal(err)
		}
		c := dialSmallWindow(t, ts.addr)
		io.WriteString(c, get("/slow.bin"))
		r := bufio.NewReaderSize(c, 64<<10)
		if res := readResponseHead(t, r); res.status != 200 {
			t.Fatalf("status %d", res.status)
		}
		// Read nothing more (reading would be progress): the server's
		// count of connections tells when it gave up on this one.
		waitFor(t, "the stalled connection to close", func() bool { return serverConns(t, ts) == 1 })
		expectClosed(t, c, 10*time.Second)
	})
}
