//go:build linux

package server_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"
)

// waitRefused polls until a new connection to addr is refused: the worker
// has stopped accepting (its drain began).
func waitRefused(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			if errors.Is(err, syscall.ECONNREFUSED) {
				return
			}
			t.Fatalf("dial: %v", err)
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("the worker still accepts 5s after Drain")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// expectCleanEOF checks that the server ends c with a FIN, not a reset,
// and sends nothing more.
func expectCleanEOF(t *testing.T, name string, r *bufio.Reader, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := r.Read(make([]byte, 1)); n != 0 || !errors.Is(err, io.EOF) {
		t.Fatalf("%s: %d bytes, %v; want a clean EOF", name, n, err)
	}
}

// TestDrainKeepAlive drains a worker holding three keep-alive connections
// in the states the drain must tell apart (issue 11): one stays idle and
// must end by a clean EOF once drain_idle_grace has passed; one is idle
// when the drain begins but sends its next request within the grace, which
// must be answered with Connection: close; one is still receiving a
// response queued before the drain, and its next request must be answered
// with Connection: close too. None may see a reset.
func TestDrainKeepAlive(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		ts := startServerGlobals(t, backend, "drain_idle_grace = 1s\n", "")
		idle, late := ts.dial(t), ts.dial(t)
		ri, rl := bufio.NewReader(idle), bufio.NewReader(late)
		for _, c := range []struct {
			c net.Conn
			r *bufio.Reader
		}{{idle, ri}, {late, rl}} {
			io.WriteString(c.c, get("/small.txt"))
			if res := readResponse(t, c.r, false); res.status != 200 || res.header["connection"] == "close" {
				t.Fatalf("before the drain: status %d, Connection %q", res.status, res.header["connection"])
			}
		}
		// busy reads through a small receive buffer, so that most of the
		// file waits on the server's side when the drain begins.
		d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
			return rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		}}
		busy, err := d.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer busy.Close()
		busy.SetDeadline(time.Now().Add(10 * time.Second))
		rb := bufio.NewReaderSize(busy, 4096)
		io.WriteString(busy, get("/big.bin"))
		if _, err := rb.Peek(1); err != nil {
			t.Fatal(err)
		}

		ts.w.Drain(20 * time.Second)
		waitRefused(t, ts.addr)

		io.WriteString(late, get("/small.txt"))
		if res := readResponse(t, rl, false); res.status != 200 || res.header["connection"] != "close" {
			t.Fatalf("late: status %d, Connection %q; want 200 and close", res.status, res.header["connection"])
		}
		expectCleanEOF(t, "late", rl, late)

		if res := readResponse(t, rb, false); res.status != 200 || len(res.body) != 1<<20+123 {
			t.Fatalf("busy: status %d, %d body bytes", res.status, len(res.body))
		}
		io.WriteString(busy, get("/small.txt"))
		if res := readResponse(t, rb, false); res.status != 200 || res.header["connection"] != "close" {
			t.Fatalf("busy, next request: status %d, Connection %q; want 200 and close", res.status, res.header["connection"])
		}
		expectCleanEOF(t, "busy", rb, busy)

		expectCleanEOF(t, "idle", ri, idle)
		idle.Close()
		late.Close()
		busy.Close()
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
