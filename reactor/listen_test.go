//go:build linux

package reactor_test

import (
	"errors"
	"net"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nproxy/nproxy/reactor"
)

// TestCheckTCPFree: a listener of any kind (with SO_REUSEPORT, as a
// running master's, or without) makes the address busy, a wildcard one
// covers 127.0.0.1 too, and connections left in TIME_WAIT do not.
func TestCheckTCPFree(t *testing.T) {
	fd, err := reactor.ListenTCP("127.0.0.1:0", 0)
	if err != nil {
		t.Fatal(err)
	}
	port, _ := reactor.LocalPort(fd)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	if err := reactor.CheckTCPFree(addr); !errors.Is(err, unix.EADDRINUSE) {
		unix.Close(fd)
		t.Fatalf("a SO_REUSEPORT listener on %s: CheckTCPFree = %v, want EADDRINUSE", addr, err)
	}
	// A connection closed by the server side first leaves TIME_WAIT on
	// the listener's port.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("x")) // TCP_DEFER_ACCEPT: accept waits for data
	var nfd int
	for i := 0; ; i++ {
		if nfd, _, err = unix.Accept(fd); err == nil {
			break
		}
		if err != unix.EAGAIN || i == 200 {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	unix.Read(nfd, make([]byte, 1)) // unread data would make the close a reset
	unix.Close(nfd)
	buf := make([]byte, 1)
	c.Read(buf) // EOF once the FIN is in
	c.Close()
	unix.Close(fd)
	if err := reactor.CheckTCPFree(addr); err != nil {
		t.Fatalf("only TIME_WAIT left on %s: CheckTCPFree = %v, want nil", addr, err)
	}
	ln, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	wport := ln.Addr().(*net.TCPAddr).Port
	if err := reactor.CheckTCPFree(net.JoinHostPort("127.0.0.1", strconv.Itoa(wport))); !errors.Is(err, unix.EADDRINUSE) {
		t.Fatalf("127.0.0.1 under a wildcard listener: %v, want EADDRINUSE", err)
	}
	if err := reactor.CheckTCPFree("127.0.0.1:0"); err != nil {
		t.Fatalf("port 0: %v", err)
	}
}
