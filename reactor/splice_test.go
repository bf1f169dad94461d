//go:build linux

package reactor_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nproxy/nproxy/reactor"
)

// spliceHandler drives one transfer the way the proxy does: the source's
// first bytes arrive through OnRecv and go out with Send, then receiving
// stops and the rest (n bytes in all) is spliced; afterwards the source
// is read again, to collect what followed the n bytes.
type spliceHandler struct {
	n        int64
	src, dst *reactor.Conn
	up       int // conns connected
	head     []byte
	spliced  bool
	tail     []byte
	results  chan error // the Splice's end, then the tail's (nil at EOF)
}

func (h *spliceHandler) OnConnect(c *reactor.Conn, err error) {
	if err != nil {
		h.results <- err
		return
	}
	if h.up++; h.up == 2 {
		h.src.StartRecv()
	}
}

func (h *spliceHandler) OnRecv(c *reactor.Conn, data []byte) {
	if c != h.src {
		return
	}
	if h.spliced {
		h.tail = append(h.tail, data...)
		return
	}
	// A Go heap copy, sent while the backend may still receive (and, on
	// io_uring, stash) what follows it.
	k := min(int64(len(data)), h.n)
	h.head = append([]byte(nil), data[:k]...)
	h.tail = append(h.tail, data[k:]...)
	c.StopRecv()
	done, err := h.dst.Send(h.head)
	if err != nil {
		h.results <- err
		return
	}
	if done {
		h.startSplice()
	}
}

func (h *spliceHandler) startSplice() {
	h.spliced = true
	done, err := h.dst.Splice(h.src, h.n-int64(len(h.head)))
	if err != nil {
		h.results <- err
		return
	}
	if done { // nothing left to splice: the first read had it all
		h.OnSendDone(h.dst, nil)
	}
}

func (h *spliceHandler) OnSendDone(c *reactor.Conn, err error) {
	if err == nil && !h.spliced {
		h.startSplice()
		return
	}
	h.results <- err
	if err == nil {
		h.src.StartRecv()
	}
}

func (h *spliceHandler) OnReadClosed(c *reactor.Conn, err error) {
	if c == h.src && h.spliced {
		h.results <- err
	}
}

func (h *spliceHandler) OnTimeout(c *reactor.Conn) {}

// splicePeers are the two far ends of a transfer: the loop dials both.
type splicePeers struct {
	in, out net.Conn // in feeds the source; out reads the destination
}

// dialPair starts h's two connections on l and returns the test's ends.
func dialPair(t *testing.T, l *reactor.Loop, h *spliceHandler) *splicePeers {
	t.Helper()
	var lns [2]net.Listener
	var addrs [2]*unix.SockaddrInet4
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
		if h.src, err = l.Dial(addrs[0], h); err == nil {
			h.dst, err = l.Dial(addrs[1], h)
		}
		dialed <- err
	})
	if err := <-dialed; err != nil {
		t.Fatal(err)
	}
	var p splicePeers
	for i, conn := range []*net.Conn{&p.in, &p.out} {
		lns[i].(*net.TCPListener).SetDeadline(time.Now().Add(5 * time.Second))
		c, err := lns[i].Accept()
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(20 * time.Second))
		t.Cleanup(func() { c.Close() })
		*conn = c
	}
	return &p
}

func waitResult(t *testing.T, ch chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(20 * time.Second):
		t.Fatal("no result")
		return nil
	}
}

func TestSplice(t *testing.T) {
	const tail = "TAIL: the next request"
	tests := []struct {
		name    string
		n       int64 // bytes to move
		send    int64 // bytes the source's peer sends before closing
		wantErr error
	}{
		// More than one turn's budget, to a reader that starts late:
		// the transfer waits for room and for input on both sides.
		{name: "large", n: 20<<20 + 12345, send: 20<<20 + 12345},
		{name: "all in the first read", n: 1000, send: 1000},
		{name: "early EOF", n: 4 << 20, send: 1<<20 + 7, wantErr: reactor.ErrShortSplice},
	}
	forEachBackend(t, func(t *testing.T, backend string) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				l := runLoop(t, backend)
				h := &spliceHandler{n: tt.n, results: make(chan error, 4)}
				p := dialPair(t, l, h)
				body := make([]byte, tt.send)
				pattern(body, 7, 0)
				go func() {
					p.in.Write(body)
					if tt.wantErr == nil {
						io.WriteString(p.in, tail)
					}
					p.in.(*net.TCPConn).CloseWrite()
				}()
				got := make(chan []byte, 1)
				go func() {
					time.Sleep(100 * time.Millisecond) // a slow reader at first
					b, _ := io.ReadAll(io.LimitReader(p.out, tt.n))
					got <- b
				}()
				err := waitResult(t, h.results)
				if tt.wantErr != nil {
					if !errors.Is(err, tt.wantErr) {
						t.Fatalf("Splice ended with %v, want %v", err, tt.wantErr)
					}
					return
				}
				if err != nil {
					t.Fatalf("Splice: %v", err)
				}
				if err := waitResult(t, h.results); err != nil {
					t.Fatalf("reading after the splice: %v", err)
				}
				if b := <-got; !bytes.Equal(b, body[:tt.n]) {
					t.Fatalf("destination got %d bytes, want %d identical", len(b), tt.n)
				}
				if string(h.tail) != tail {
					t.Fatalf("source kept %q after the splice, want %q", h.tail, tail)
				}
			})
		}
	})
}

// TestSpliceClose closes one end of transfers in flight: closing the
// destination ends the transfer silently, closing the source ends it with
// ErrClosed; a transfer after them is intact (no pipe with stale bytes is
// reused), and once the loop stops no descriptor is left open.
func TestSpliceClose(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		// The runtime's poller opens its descriptors at the first
		// socket: before the count, not during the test.
		if ln, err := net.Listen("tcp", "127.0.0.1:0"); err == nil {
			ln.Close()
		}
		before := countFds(t)
		b, _, err := reactor.New(backend)
		if err != nil {
			t.Fatal(err)
		}
		l := reactor.NewLoop(b, reactor.Options{})
		done := make(chan error, 1)
		go func() { done <- l.Run() }()
		stopped := false
		stop := func() {
			if stopped {
				return
			}
			stopped = true
			l.Stop()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("loop did not stop")
			}
		}
		defer stop()

		for _, closeSrc := range []bool{false, true} {
			h := &spliceHandler{n: 1 << 30, results: make(chan error, 4)}
			p := dialPair(t, l, h)
			go func() {
				chunk := make([]byte, 1<<20)
				for {
					if _, err := p.in.Write(chunk); err != nil {
						return
					}
				}
			}()
			// The transfer is under way once the reader sees its bytes.
			if _, err := io.ReadFull(p.out, make([]byte, 2<<20)); err != nil {
				t.Fatal(err)
			}
			l.Post(func() {
				if closeSrc {
					h.src.Close()
				} else {
					h.dst.Close()
					h.src.Close()
				}
			})
			if closeSrc {
				if err := waitResult(t, h.results); !errors.Is(err, reactor.ErrClosed) {
					t.Fatalf("closing the source: the transfer ended with %v, want ErrClosed", err)
				}
				l.Post(func() { h.dst.Close() })
			} else {
				select {
				case err := <-h.results:
					t.Fatalf("closing the destination: a completion followed (%v)", err)
				case <-time.After(100 * time.Millisecond):
				}
			}
			p.in.Close()
			p.out.Close()
		}

		// A clean transfer on the same loop, through a pooled pipe.
		h := &spliceHandler{n: 3 << 20, results: make(chan error, 4)}
		p := dialPair(t, l, h)
		body := make([]byte, h.n)
		pattern(body, 9, 0)
		go func() {
			p.in.Write(body)
			p.in.(*net.TCPConn).CloseWrite()
		}()
		got := make(chan []byte, 1)
		go func() {
			b, _ := io.ReadAll(io.LimitReader(p.out, h.n))
			got <- b
		}()
		if err := waitResult(t, h.results); err != nil {
			t.Fatalf("Splice after the closes: %v", err)
		}
		if b := <-got; !bytes.Equal(b, body) {
			t.Fatalf("destination got %d bytes, want %d identical", len(b), len(body))
		}
		p.in.Close()
		p.out.Close()
		stop()
		checkFds(t, before)
	})
}
