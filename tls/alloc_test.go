//go:build !race

package tls

import "testing"

// recordAllocs is what one received record costs in allocations: the
// 24-byte atLeastReader crypto/tls's readFromUntil makes (it escapes into
// bytes.Buffer.ReadFrom) each time it needs bytes from the pipe. Nothing
// else on the record path may allocate; a Read that would block returns
// before reaching crypto/tls and costs nothing.
const recordAllocs = 1

// TestKeepAliveAllocs fails on any allocation beyond crypto/tls's one per
// received record in a warm keep-alive exchange: Write, Output, Feed and
// Read on both ends, two records received in all.
func TestKeepAliveAllocs(t *testing.T) {
	for _, v := range versions {
		t.Run(v.name, func(t *testing.T) {
			x := newKeepAliveExchange(t, v.version)
			if n := testing.AllocsPerRun(200, x.run); n > 2*recordAllocs {
				t.Errorf("%v allocations per exchange, want at most %d", n, 2*recordAllocs)
			}
		})
	}
}

// TestWouldBlockAllocs checks that reading with nothing buffered, or with
// only part of a record, allocates nothing.
func TestWouldBlockAllocs(t *testing.T) {
	x := newKeepAliveExchange(t, 0x0304)
	buf := make([]byte, 4<<10)
	x.p.server.Write(x.resp)
	out := x.p.server.Output(nil)
	x.p.client.Feed(out[:len(out)/2])
	if n := testing.AllocsPerRun(200, func() { x.p.client.Read(buf) }); n != 0 {
		t.Errorf("%v allocations per would-block Read, want 0", n)
	}
}

// TestSenderAllocs fails on any allocation by a warm connection's Sender:
// a body of several batches, then a file region, each through a socket
// that holds every send until it completes.
func TestSenderAllocs(t *testing.T) {
	x := newSenderPair(t, false, true, 64<<10)
	x.sock.discard = true
	b := body(150 << 10)
	fd := int(writeTemp(t, b).Fd())
	run := func() {
		if _, err := x.s.Send(b); err != nil {
			t.Fatal(err)
		}
		x.drive()
		if _, err := x.s.SendFile(fd, 0, int64(len(b))); err != nil {
			t.Fatal(err)
		}
		x.drive()
	}
	for range 5 {
		run() // pools and crypto/tls's buffers warm
	}
	if n := testing.AllocsPerRun(100, run); n != 0 {
		t.Errorf("%v allocations per body and file sent, want 0", n)
	}
}
