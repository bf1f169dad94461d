//go:build linux && !race

package reactor_test

import (
	"io"
	"net"
	"testing"
	"time"
)

// TestEchoAllocs checks that a request/response round trip on an open
// connection allocates nothing in the loop (the echo handler uses Loop
// buffers on odd slots, and the client reuses its buffers).
func TestEchoAllocs(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		s := startEcho(t, backend, 0)
		c, err := net.DialTimeout("tcp", s.addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(30 * time.Second))
		msg := make([]byte, 512)
		pattern(msg, 1, 0)
		got := make([]byte, len(msg))
		roundTrip := func() {
			if _, err := c.Write(msg); err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(c, got); err != nil {
				t.Fatal(err)
			}
		}
		for range 100 {
			roundTrip() // warm the pools
		}
		// The listener takes slot 0, so this connection has slot 1: an
		// off-heap echo buffer.
		if n := testing.AllocsPerRun(500, roundTrip); n > 0.05 {
			t.Errorf("%v allocations per round trip", n)
		}
	})
}
