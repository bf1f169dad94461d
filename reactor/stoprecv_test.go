//go:build linux

package reactor_test

import (
	"bytes"
	"net"
	"strconv"
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
// proxied stream whose client stopped reading, or a client's upload the
// proxy pushes back on.
type stopHandler struct {
	mu    sync.Mutex
	conns []*stopConn
}

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

func (h *stopHandler) accept(c *reactor.Conn) error {
	sc := &stopConn{}
	sc.fd.Store(int64(c.Fd()))
	h.mu.Lock()
	h.conns = append(h.conns, sc)
	h.mu.Unlock()
	c.H, c.Ctx = h, sc
	c.StartRecv()
	return nil
}

// TestStopRecvBounded: once the handler of a connection stops
// receiving, the loop takes a bounded amount more from the socket,
// however much the peer keeps sending: on a connection the loop dialled
// (an upstream) and on one it accepted (a client). Per connection, what
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
		for _, mode := range []string{"dialed", "accepted"} {
			t.Run(mode, func(t *testing.T) { testStopRecvBounded(t, backend, mode == "dialed", conns, bound) })
		}
	})
}

func testStopRecvBounded(t *testing.T, backend string, dial bool, conns int, bound int64) {
	type peer struct {
		c       *net.TCPConn
		written atomic.Int64
	}
	var (
		mu    sync.Mutex
		peers []*peer
	)
	// feed has c write up to 8 MiB.
	feed := func(c *net.TCPConn) {
		p := &peer{c: c}
		mu.Lock()
		peers = append(peers, p)
		mu.Unlock()
		piece := bytes.Repeat([]byte("z"), 8<<10)
		for range 1024 {
			c.SetWriteDeadline(time.Now().Add(20 * time.Second))
			n, err := c.Write(piece)
			p.written.Add(int64(n))
			if err != nil {
				return
			}
		}
	}
	defer func() {
		mu.Lock()
		for _, p := range peers {
			p.c.Close()
		}
		mu.Unlock()
	}()
	b, _, err := reactor.New(backend)
	if err != nil {
		t.Fatal(err)
	}
	l := reactor.NewLoop(b, reactor.Options{MaxConns: 2*conns + 1})
	h := &stopHandler{}
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
	if dial {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		port := ln.Addr().(*net.TCPAddr).Port
		go func() {
			for range conns {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go feed(c.(*net.TCPConn))
			}
		}()
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
	} else {
		fd, err := reactor.ListenTCP("127.0.0.1:0", 0)
		if err != nil {
			t.Fatal(err)
		}
		port, _ := reactor.LocalPort(fd)
		listening := make(chan error, 1)
		l.Post(func() {
			_, err := l.Listen(fd, h.accept)
			listening <- err
		})
		if err := <-listening; err != nil {
			t.Fatal(err)
		}
		for range conns {
			c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
			if err != nil {
				t.Fatal(err)
			}
			go feed(c.(*net.TCPConn))
		}
	}
	total := func() int64 {
		mu.Lock()
		defer mu.Unlock()
		var s int64
		for _, p := range peers {
			s += p.written.Load()
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
		h.mu.Lock()
		n = min(n, len(h.conns))
		h.mu.Unlock()
		if w := total(); w != last || n < conns {
			last, stable = w, 0
			continue
		}
		stable++
	}
	// Peers and loop connections pair up by port: the loop's local port
	// is the peer's remote one when the loop dialled, its remote port
	// the peer's local one when it accepted.
	mu.Lock()
	defer mu.Unlock()
	h.mu.Lock()
	defer h.mu.Unlock()
	var most int64
	paired := 0
	for _, p := range peers {
		var unsent int
		rc, _ := p.c.SyscallConn()
		rc.Control(func(f uintptr) { unsent, _ = unix.IoctlGetInt(int(f), unix.SIOCOUTQNSD) })
		want := p.c.RemoteAddr().(*net.TCPAddr).Port
		name := unix.Getsockname
		if !dial {
			want, name = p.c.LocalAddr().(*net.TCPAddr).Port, unix.Getpeername
		}
		for _, sc := range h.conns {
			sa, err := name(int(sc.fd.Load()))
			if err != nil || sa.(*unix.SockaddrInet4).Port != want {
				continue
			}
			paired++
			queued, _ := unix.IoctlGetInt(int(sc.fd.Load()), unix.SIOCINQ)
			took := p.written.Load() - int64(unsent) - int64(queued) - sc.got.Load()
			most = max(most, took)
		}
	}
	t.Logf("%s: the peers wrote %d bytes; at most %d taken beyond what a handler got", backend, last, most)
	if paired != conns {
		t.Fatalf("%d of %d connections paired with their peers", paired, conns)
	}
	if most > bound {
		t.Errorf("the loop took %d bytes from a connection after its handler stopped receiving, want at most %d", most, bound)
	}
}
