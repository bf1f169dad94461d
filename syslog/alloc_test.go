//go:build !race

package syslog

import (
	"net"
	"testing"
	"time"
)

// TestSendAllocs proves that sending a line allocates nothing in steady
// state (the header's time is formatted once per second into a reused
// buffer, the datagram reuses its buffer).
func TestSendAllocs(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	tg, err := Parse("syslog:server=" + pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	w, err := Open(tg)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	now := time.Now()
	line := []byte(`192.0.2.7 - - [30/Nov/2026:13:00:00 +0000] "GET / HTTP/1.1" 200 612 "-" "curl/8.5.0"`)
	w.Send(now, SevInfo, line)
	if allocs := testing.AllocsPerRun(1000, func() { w.Send(now, SevInfo, line) }); allocs != 0 {
		t.Errorf("Send allocates %.1f times per line, want 0", allocs)
	}
	// Queued lines and their sendmmsg.
	w.Queue(now, SevInfo, line)
	w.Flush(now)
	if allocs := testing.AllocsPerRun(1000, func() {
		w.Queue(now, SevInfo, line)
		w.Queue(now, SevInfo, line)
		w.Flush(now)
	}); allocs != 0 {
		t.Errorf("Queue+Flush allocates %.1f times per batch, want 0", allocs)
	}
}
