//go:build linux

package server_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// slowFile is the size of the file the send_timeout tests download: more
// than the kernel's largest send buffer (tcp_wmem's default maximum is
// 4 MiB), so that the server's SendFile waits on the client for seconds.
const slowFile = 16 << 20

// dialSmallWindow connects with a small receive buffer, so that what the
// client has not read stays on the server's side.
func dialSmallWindow(t *testing.T, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: 2 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 64<<10) })
	}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestSendTimeoutSlowReader downloads a large file at a steady pace that
// makes the download last several times send_timeout (issue 11, section
// 2): send_timeout bounds the time without progress, as nginx's does, so
// the whole file must arrive. A client that stops reading must still be
// cut once send_timeout passes without progress.
func TestSendTimeoutSlowReader(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		ts := startServer(t, backend, "send_timeout = 1s\n")
		big := make([]byte, slowFile)
		for i := range big {
			big[i] = byte(i / 4096)
		}
		if err := os.WriteFile(filepath.Join(ts.root, "slow.bin"), big, 0o644); err != nil {
			t.Fatal(err)
		}

		t.Run("moving", func(t *testing.T) {
			c := dialSmallWindow(t, ts.addr)
			c.SetDeadline(time.Now().Add(60 * time.Second))
			io.WriteString(c, get("/slow.bin"))
			r := bufio.NewReaderSize(c, 64<<10)
			res := readResponseHead(t, r)
			if res.status != 200 || res.header["content-length"] != fmt.Sprint(slowFile) {
				t.Fatalf("status %d, Content-Length %q", res.status, res.header["content-length"])
			}
			// 64 KiB every 16 ms: about 4 MiB/s, so the download lasts
			// about 4 s while the server's send waits on the client for
			// most of it, several times send_timeout.
			got := make([]byte, 0, slowFile)
			buf := make([]byte, 64<<10)
			start := time.Now()
			for len(got) < slowFile {
				n, err := io.ReadFull(r, buf[:min(len(buf), slowFile-len(got))])
				got = append(got, buf[:n]...)
				if err != nil {
					t.Fatalf("after %d of %d bytes in %v: %v", len(got), slowFile, time.Since(start), err)
				}
				time.Sleep(16 * time.Millisecond)
			}
			if string(got) != string(big) {
				t.Fatal("the file arrived altered")
			}
			t.Logf("%d bytes in %v with send_timeout = 1s", len(got), time.Since(start))
			// The connection is still usable.
			io.WriteString(c, get("/small.txt"))
			if res := readResponse(t, r, false); res.status != 200 {
				t.Fatalf("next request: status %d", res.status)
			}
		})

		t.Run("stalled", func(t *testing.T) {
			c := dialSmallWindow(t, ts.addr)
			io.WriteString(c, get("/slow.bin"))
			r := bufio.NewReaderSize(c, 64<<10)
			if res := readResponseHead(t, r); res.status != 200 {
				t.Fatalf("status %d", res.status)
			}
			// Read nothing more: the server must give up once
			// send_timeout passed without progress. Reading would be
			// progress, so the server's own count of connections
			// tells when it closed this one.
			waitFor(t, "the stalled connection to close", func() bool { return serverConns(t, ts) == 1 })
			expectClosed(t, c, 10*time.Second)
		})
	})
}

// serverConns returns the number of connections the server has open, the
// one asking included (/healthz).
func serverConns(t *testing.T, ts *testServer) int {
	t.Helper()
	res := ts.roundTrip(t, "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
	var h struct {
		Connections int `json:"connections"`
	}
	if err := json.Unmarshal(res.body, &h); err != nil {
		t.Fatalf("/healthz: %v: %s", err, res.body)
	}
	return h.Connections
}
