//go:build linux

package servertest

import (
	"errors"
	"net"
	"testing"

	"github.com/nproxy/nproxy/reactor"
	"golang.org/x/sys/unix"
)

// TestRefusedAddr: the address RefusedAddr returns refuses connections,
// and no listener can take its port while the test runs: not one like a
// worker's (SO_REUSEADDR and SO_REUSEPORT, reactor.ListenTCP), not one
// like net/http's. A port merely closed after a listen was handed to the
// next listener of the process: a worker's TLS listener then answered the
// proxy's plain request to the "refused" address 400 (TestH2TLSProxy's
// "GET down: 400, want 502").
func TestRefusedAddr(t *testing.T) {
	addr := RefusedAddr(t)
	if c, err := net.DialTimeout("tcp", addr, Timeout); !errors.Is(err, unix.ECONNREFUSED) {
		if c != nil {
			c.Close()
		}
		t.Fatalf("dial %s: %v, want connection refused", addr, err)
	}
	if fd, err := reactor.ListenTCP(addr, 0); !errors.Is(err, unix.EADDRINUSE) {
		if err == nil {
			unix.Close(fd)
		}
		t.Fatalf("reactor.ListenTCP(%s): %v, want address in use", addr, err)
	}
	if ln, err := net.Listen("tcp", addr); !errors.Is(err, unix.EADDRINUSE) {
		if err == nil {
			ln.Close()
		}
		t.Fatalf("net.Listen(%s): %v, want address in use", addr, err)
	}
}
