//go:build linux

package reactor_test

import (
	"bytes"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nproxy/nproxy/reactor"
)

// dialHandler sends a header with Send and then a file with SendFile on a
// connection the loop dialed, and records what happened.
type dialHandler struct {
	file    int
	size    int64
	head    []byte
	step    int
	results chan error
}

func (h *dialHandler) OnConnect(c *reactor.Conn, err error) {
	if err != nil {
		h.results <- err
		c.Close()
		return
	}
	h.next(c)
}

// next runs the steps: 0 send the head, 1 send the file, 2 done.
func (h *dialHandler) next(c *reactor.Conn) {
	for {
		var done bool
		var err error
		switch h.step {
		case 0:
			done, err = c.Send(h.head)
		case 1:
			done, err = c.SendFile(h.file, 0, h.size)
		default:
			h.results <- nil
			c.Close()
			return
		}
		if err != nil {
			h.results <- err
			c.Close()
			return
		}
		h.step++
		if !done {
			return // OnSendDone continues
		}
	}
}

func (h *dialHandler) OnSendDone(c *reactor.Conn, err error) {
	if err != nil {
		h.results <- err
		c.Close()
		return
	}
	h.next(c)
}

func (h *dialHandler) OnRecv(c *reactor.Conn, data []byte)     {}
func (h *dialHandler) OnReadClosed(c *reactor.Conn, err error) {}
func (h *dialHandler) OnTimeout(c *reactor.Conn)               { c.Close() }

func runLoop(t *testing.T, backend string) *reactor.Loop {
	t.Helper()
	b, _, err := reactor.New(backend)
	if err != nil {
		t.Fatal(err)
	}
	l := reactor.NewLoop(b, reactor.Options{})
	done := make(chan error, 1)
	go func() { done <- l.Run() }()
	t.Cleanup(func() {
		l.Stop()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("loop did not stop")
		}
	})
	return l
}

func TestDialSendFile(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		// More than one turn's sendfile budget, to a peer that starts
		// reading late: the transfer must wait for room (EAGAIN) and
		// continue on the backend's writable notification.
		const size = 20<<20 + 12345
		body := make([]byte, size)
		pattern(body, 3, 0)
		path := filepath.Join(t.TempDir(), "f")
		if err := os.WriteFile(path, body, 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		got := make(chan []byte, 1)
		go func() {
			c, err := ln.Accept()
			if err != nil {
				got <- nil
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			time.Sleep(100 * time.Millisecond)
			b, _ := io.ReadAll(c)
			got <- b
		}()
		l := runLoop(t, backend)
		head := []byte("HEAD:") // a Go heap buffer: pinned by io_uring
		h := &dialHandler{file: int(f.Fd()), size: size, head: head, results: make(chan error, 2)}
		port := ln.Addr().(*net.TCPAddr).Port
		l.Post(func() {
			if _, err := l.Dial(&unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}, h); err != nil {
				h.results <- err
			}
		})
		select {
		case err := <-h.results:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no result")
		}
		b := <-got
		want := append(append([]byte{}, head...), body...)
		if !bytes.Equal(b, want) {
			t.Fatalf("peer got %d bytes, want %d identical", len(b), len(want))
		}
	})
}

func TestDialRefused(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close() // nothing listens there now
		l := runLoop(t, backend)
		h := &dialHandler{results: make(chan error, 2)}
		l.Post(func() {
			if _, err := l.Dial(&unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}, h); err != nil {
				h.results <- err
			}
		})
		select {
		case err := <-h.results:
			if err == nil {
				t.Fatal("connect to a closed port succeeded")
			}
			t.Logf("%s: %v", backend, err)
		case <-time.After(10 * time.Second):
			t.Fatal("no result")
		}
	})
}
