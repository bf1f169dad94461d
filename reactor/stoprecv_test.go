//go:build linux

package reactor_test

import (
	"bytes"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nproxy/nproxy/reactor"
)

// stopConn is one dialled connection of TestStopRecvBounded.
type stopConn struct {
	fd  atomic.Int64
	got atomic.Int64
}

// stopHandler stops receiving once a connection has stopAt bytes, in
// the middle of a steady flow, and never resumes: the upstream of a
// proxied stream whose client stopped reading.
type stopHandler struct{ conns []*stopConn }

const stopAt = 256 << 10

func (h *stopHandler) OnRecv(c *reactor.Conn, data []byte) {
	if c.Ctx.(*stopConn).got.Add(int64(len(data))) >= stopAt {
		c.StopRecv()
	}
}
func (h *stopHandler) OnSendDone(*reactor.Conn, error)       {}
func (h *stopHandler) OnReadClosed(c *reactor.Conn, _ error) { c.Close() }
func (h *stopHandler) OnConnect(c *reactor.Conn, err error) {
	if err == nil {
		c.StartRecv()
	}
}
func (h *stopHandler) OnTimeout(c *reactor.Conn) { c.Close() }

// TestStopRecvBounded: once the handler of a connection the loop dialled
// stops receiving, the loop takes at most one more receive buffer from
// the socket, however much the peer keeps sending. Per connection, what
// it took beyond what it delivered (the peer's bytes, less what the peer
// has not sent yet, what waits in our socket's receive queue and what
// the handler got) stays within a bound. On io_uring a multishot receive
// went on filling the stash while its cancel failed (ENOENT: requeued).
func TestStopRecvBounded(t *testing.T) {
	const (
		conns = 32
		bound = 64 << 10
	)
	forEachBackend(t, func(t *testing.T, backend string) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		port := ln.Addr().(*net.TCPAddr).Port
		var (
			mu      sync.Mutex
			peers   []*net.TCPConn
			written = make([]atomic.Int64, conns)
		)
		go func() {
			for i := 0; i < conns; i++ {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				mu.Lock()
				peers = append(peers, c.(*net.TCPConn))
				mu.Unlock()
				go func(i int) {
					piece := bytes.Repeat([]byte("z"), 8<<10)
					for range 1024 { // 8 MiB at most
						c.SetWriteDeadline(time.Now().Add(20 * time.Second))
						n, err := c.Write(piece)
						written[i].Add(int64(n))
						if err != nil {
							return
						}
					}
				}(i)
			}
		}()
		defer func() {
			mu.Lock()
			for _, c := range peers {
				c.Close()
			}
			mu.Unlock()
		}()
		b, _, err := reactor.New(backend)
		if err != nil {
			t.Fatal(err)
		}
		l := reactor.NewLoop(b, reactor.Options{MaxConns: 2 * conns})
		h := &stopHandler{}
		for range conns {
			h.conns = append(h.conns, &stopConn{})
		}
		l.Post(func() {
			for _, sc := range h.conns {
				c, err := l.Dial(&unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}, h)
				if err != nil {
					t.Error(err)
					return
				}
				c.Ctx = sc
				sc.fd.Store(int64(c.Fd()))
			}
		})
		done := make(chan error, 1)
		go func() { done <- l.Run() }()
		defer func() {
			l.Stop()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Error("loop did not stop")
			}
		}()
		total := func() int64 {
			var s int64
			for i := range written {
				s += written[i].Load()
			}
			return s
		}
		var last int64 = -1
		deadline := time.Now().Add(20 * time.Second)
		for stable := 0; stable < 5; {
			if time.Now().After(deadline) {
				t.Fatalf("the peers' writes did not settle (%d so far)", last)
			}
			time.Sleep(100 * time.Millisecond)
			mu.Lock()
			n := len(peers)
			mu.Unlock()
			if w := total(); w != last || n < conns {
				last, stable = w, 0
				continue
			}
			stable++
		}
		// Peers and loop connections pair up by port.
		mu.Lock()
		defer mu.Unlock()
		var most int64
		for _, p := range peers {
			var unsent int
			rc, _ := p.SyscallConn()
			rc.Control(func(f uintptr) { unsent, _ = unix.IoctlGetInt(int(f), unix.SIOCOUTQNSD) })
			rport := p.RemoteAddr().(*net.TCPAddr).Port
			for _, sc := range h.conns {
				sa, err := unix.Getsockname(int(sc.fd.Load()))
				if err != nil || sa.(*unix.SockaddrInet4).Port != rport {
					continue
				}
				queued, _ := unix.IoctlGetInt(int(sc.fd.Load()), unix.SIOCINQ)
				w := peerWritten(p, peers, written)
				took := w - int64(unsent) - int64(queued) - sc.got.Load()
				most = max(most, took)
			}
		}
		t.Logf("%s: the peers wrote %d bytes; at most %d taken beyond what a handler got", backend, last, most)
		if most > bound {
			t.Errorf("the loop took %d bytes from a connection after its handler stopped receiving, want at most %d", most, bound)
		}
	})
}

// peerWritten returns what peer p wrote (peers and written share indexes
// in accept order).
func peerWritten(p *net.TCPConn, peers []*net.TCPConn, written []atomic.Int64) int64 {
	for i, q := range peers {
		if q == p {
			return written[i].Load()
		}
	}
	return 0
}
