package syslog

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// udpTarget returns a UDP server on loopback and a Writer to it.
func udpTarget(t testing.TB) (net.PacketConn, *Writer) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	tg, err := Parse("syslog:server=" + pc.LocalAddr().String() + ",nohostname")
	if err != nil {
		t.Fatal(err)
	}
	w, err := Open(tg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return pc, w
}

// TestQueueFlush: queued UDP lines wait for Flush, then arrive as one
// datagram each, in order; a full batch is sent without waiting.
func TestQueueFlush(t *testing.T) {
	pc, w := udpTarget(t)
	for i := range 3 {
		w.Queue(jan2, SevInfo, []byte(fmt.Sprintf("line %d\n", i)))
	}
	if w.Pending() != 3 {
		t.Fatalf("Pending = %d, want 3", w.Pending())
	}
	w.Flush(jan2)
	if w.Pending() != 0 {
		t.Fatalf("Pending after Flush = %d, want 0", w.Pending())
	}
	for i := range 3 {
		if got, want := readDatagram(t, pc), fmt.Sprintf("<190>Jan  2 15:04:05 nproxy: line %d", i); got != want {
			t.Errorf("datagram %d = %q, want %q", i, got, want)
		}
	}
	// MaxBatch+1 lines: the first MaxBatch go when the batch is full.
	for i := range MaxBatch + 1 {
		w.Queue(jan2, SevInfo, []byte(fmt.Sprintf("b%d", i)))
	}
	if w.Pending() != 1 {
		t.Errorf("Pending = %d after %d lines, want 1", w.Pending(), MaxBatch+1)
	}
	for i := range MaxBatch {
		if got := readDatagram(t, pc); !strings.HasSuffix(got, fmt.Sprintf(": b%d", i)) {
			t.Fatalf("datagram %d = %q", i, got)
		}
	}
	// Close sends the last one.
	w.Close()
	if got := readDatagram(t, pc); !strings.HasSuffix(got, fmt.Sprintf(": b%d", MaxBatch)) {
		t.Errorf("last datagram = %q", got)
	}
	if w.Dropped() != 0 {
		t.Errorf("Dropped = %d, want 0", w.Dropped())
	}
}

// TestFlushDropsOne: a line too long for a UDP datagram is dropped and
// counted; the lines around it are sent.
func TestFlushDropsOne(t *testing.T) {
	pc, w := udpTarget(t)
	w.Queue(jan2, SevInfo, []byte("before"))
	w.Queue(jan2, SevInfo, []byte(strings.Repeat("x", 70000)))
	w.Queue(jan2, SevInfo, []byte("after"))
	w.Flush(jan2)
	for _, want := range []string{"before", "after"} {
		if got := readDatagram(t, pc); !strings.HasSuffix(got, ": "+want) {
			t.Errorf("datagram = %q, want the line %q", got, want)
		}
	}
	n, err := w.TakeDropped()
	if n != 1 || err == nil || !strings.Contains(err.Error(), "message too long") {
		t.Errorf("TakeDropped = %d, %v; want 1, message too long", n, err)
	}
}

// TestQueueUnixSendsAtOnce: a UNIX socket's lines are not batched.
func TestQueueUnixSendsAtOnce(t *testing.T) {
	path := t.TempDir() + "/log.sock"
	pc, err := net.ListenPacket("unixgram", path)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	tg, _ := Parse("syslog:server=unix:" + path + ",nohostname")
	w, err := Open(tg)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.Queue(time.Now(), SevInfo, []byte("now"))
	if w.Pending() != 0 {
		t.Errorf("Pending = %d, want 0", w.Pending())
	}
	if got := readDatagram(t, pc); !strings.HasSuffix(got, "nproxy: now") {
		t.Errorf("datagram = %q", got)
	}
}
