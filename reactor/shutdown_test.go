//go:build linux

package reactor_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nproxy/nproxy/reactor"
)

// shutdownHandler starts one large transfer on dst (a Send, a SendFile or
// a Splice from src) and half-closes dst at once, while the transfer is
// still pending: the upgrade tunnel's last bytes followed by the client's
// FIN (issue 9, finding 7).
type shutdownHandler struct {
	how      string // "send", "sendfile" or "splice"
	body     []byte // send: the bytes (Go heap: pinned by io_uring)
	file     int    // sendfile: the file, len(body) bytes
	src, dst *reactor.Conn
	up       int
	started  chan bool  // the transfer was pending when ShutdownWrite ran
	results  chan error // OnSendDone's error
}

func (h *shutdownHandler) OnConnect(c *reactor.Conn, err error) {
	if err != nil {
		h.results <- err
		return
	}
	if h.up++; h.how == "splice" && h.up < 2 {
		return
	}
	var done bool
	switch h.how {
	case "send":
		done, err = h.dst.Send(h.body)
	case "sendfile":
		done, err = h.dst.SendFile(h.file, 0, int64(len(h.body)))
	case "splice":
		done, err = h.dst.Splice(h.src, int64(len(h.body)))
	}
	if err != nil {
		h.results <- err
		return
	}
	h.dst.ShutdownWrite()
	h.started <- !done && h.dst.Sending()
	if done {
		h.results <- nil
	}
}

func (h *shutdownHandler) OnSendDone(c *reactor.Conn, err error)   { h.results <- err }
func (h *shutdownHandler) OnRecv(c *reactor.Conn, data []byte)     {}
func (h *shutdownHandler) OnReadClosed(c *reactor.Conn, err error) {}
func (h *shutdownHandler) OnTimeout(c *reactor.Conn)               {}

// TestFinding7ShutdownAfterPendingSend half-closes a connection whose
// output (8 MiB, more than the socket buffers hold, to a peer that does
// not read yet) is still pending: the FIN must follow the last byte, on
// both backends and for every kind of pending output. Before the fix the
// io_uring backend shut the socket down ahead of its queued SEND (the
// peer got nothing) and epoll ahead of the unsent rest.
func TestFinding7ShutdownAfterPendingSend(t *testing.T) {
	const (
		size   = 8 << 20
		trials = 20
	)
	body := make([]byte, size)
	pattern(body, 11, 0)
	path := filepath.Join(t.TempDir(), "body")
	if err := os.WriteFile(path, body, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tests := []struct {
		name string
		how  string
	}{
		{name: "Send", how: "send"},
		{name: "SendFile", how: "sendfile"},
		{name: "Splice", how: "splice"},
	}
	forEachBackend(t, func(t *testing.T, backend string) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				l := runLoop(t, backend)
				got := make([]byte, size+1)
				for trial := range trials {
					h := &shutdownHandler{how: tt.how, body: body, file: int(f.Fd()),
						started: make(chan bool, 1), results: make(chan error, 2)}
					peer, feed := dialShutdownPeers(t, l, h)
					if feed != nil {
						go func() {
							feed.Write(body)
							feed.(*net.TCPConn).CloseWrite()
						}()
					}
					select {
					case pending := <-h.started:
						if !pending {
							t.Fatalf("trial %d: the transfer finished at once; the test needs it pending", trial)
						}
					case err := <-h.results:
						t.Fatalf("trial %d: %v", trial, err)
					case <-time.After(10 * time.Second):
						t.Fatalf("trial %d: the transfer did not start", trial)
					}
					// Only now does the peer read: the half-close was
					// asked for while (nearly) all the bytes were queued.
					n, err := io.ReadFull(peer, got)
					if !errors.Is(err, io.ErrUnexpectedEOF) || n != size {
						t.Fatalf("trial %d: peer read %d bytes then %v, want %d bytes then EOF", trial, n, err, size)
					}
					if !bytes.Equal(got[:n], body) {
						t.Fatalf("trial %d: peer got %d bytes, not the ones sent", trial, n)
					}
					if err := waitResult(t, h.results); err != nil {
						t.Fatalf("trial %d: OnSendDone: %v", trial, err)
					}
					closed := make(chan struct{})
					l.Post(func() {
						h.dst.Close()
						if h.src != nil {
							h.src.Close()
						}
						close(closed)
					})
					<-closed
					peer.Close()
					if feed != nil {
						feed.Close()
					}
				}
			})
		}
	})
}

// dialShutdownPeers has l dial h's connections and returns the test's
// ends: peer reads dst; feed (splice only) writes src.
func dialShutdownPeers(t *testing.T, l *reactor.Loop, h *shutdownHandler) (peer, feed net.Conn) {
	t.Helper()
	n := 1
	if h.how == "splice" {
		n = 2
	}
	lns := make([]net.Listener, n)
	addrs := make([]*unix.SockaddrInet4, n)
	for i := range lns {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		lns[i] = ln
		addrs[i] = &unix.SockaddrInet4{Port: ln.Addr().(*net.TCPAddr).Port, Addr: [4]byte{127, 0, 0, 1}}
	}
	dialed := make(chan error, 1)
	l.Post(func() {
		var err error
		if h.dst, err = l.Dial(addrs[0], h); err == nil && n == 2 {
			h.src, err = l.Dial(addrs[1], h)
		}
		dialed <- err
	})
	if err := <-dialed; err != nil {
		t.Fatal(err)
	}
	conns := make([]net.Conn, n)
	for i := range lns {
		lns[i].(*net.TCPListener).SetDeadline(time.Now().Add(5 * time.Second))
		c, err := lns[i].Accept()
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(20 * time.Second))
		t.Cleanup(func() { c.Close() })
		conns[i] = c
	}
	if n == 2 {
		return conns[0], conns[1]
	}
	return conns[0], nil
}
