//go:build linux && !race

package server

import (
	"net"
	"testing"
	"time"
)

// TestBytesAckedAllocs proves that asking the kernel for a connection's
// progress, done for every send that has to wait, allocates nothing, and
// that it counts what the peer acknowledged.
func TestBytesAckedAllocs(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	peer, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	f, err := c.(*net.TCPConn).File()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fd := int(f.Fd())
	before := bytesAcked(fd)
	if _, err := c.Write(make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	if _, err := peer.Read(make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	// The peer's ACK may be delayed a little: poll, bounded.
	deadline := time.Now().Add(5 * time.Second)
	for bytesAcked(fd) < before+1000 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := bytesAcked(fd); got < before+1000 {
		t.Errorf("bytesAcked = %d after 1000 bytes were read, want at least %d", got, before+1000)
	}
	if n := testing.AllocsPerRun(1000, func() { bytesAcked(fd) }); n != 0 {
		t.Errorf("bytesAcked: %v allocs, want 0", n)
	}
}
