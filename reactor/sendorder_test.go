//go:build linux

package reactor_test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nproxy/nproxy/reactor"
)

// The output of a connection leaves in the order it was given, whatever
// the backend does with a Send that reports done (io_uring copies small
// sends and writes them from the ring later): what follows it (another
// Send, a SendFile, a SendHead, a system call on Fd, a ShutdownWrite, a
// Close) must not overtake it.

// orderStep is one output operation of a script; done false means
// OnSendDone runs the next step.
type orderStep func(c *reactor.Conn) (done bool, err error)

// orderHandler runs one script per accepted connection, then ends it.
type orderHandler struct {
	steps []orderStep
	end   string // "close" or "shutdown" (then Close at the peer's EOF)
	errs  chan error
}

type orderConn struct{ next int }

func (h *orderHandler) accept(c *reactor.Conn) error {
	c.H, c.Ctx = h, &orderConn{}
	h.run(c)
	return nil
}

func (h *orderHandler) run(c *reactor.Conn) {
	o := c.Ctx.(*orderConn)
	for o.next < len(h.steps) {
		step := h.steps[o.next]
		o.next++
		done, err := step(c)
		if err != nil {
			h.errs <- err
			c.Close()
			return
		}
		if !done {
			return
		}
	}
	if h.end == "close" {
		c.Close()
		return
	}
	c.ShutdownWrite()
	c.StartRecv()
}

func (h *orderHandler) OnSendDone(c *reactor.Conn, err error) {
	if err != nil {
		h.errs <- fmt.Errorf("OnSendDone: %w", err)
		c.Close()
		return
	}
	h.run(c)
}

func (h *orderHandler) OnRecv(c *reactor.Conn, data []byte)     {}
func (h *orderHandler) OnReadClosed(c *reactor.Conn, err error) { c.Close() }
func (h *orderHandler) OnConnect(c *reactor.Conn, err error)    {}
func (h *orderHandler) OnTimeout(c *reactor.Conn)               { c.Close() }

// startOrder runs h on a loop of backend and returns the address.
func startOrder(t *testing.T, backend string, h *orderHandler) (string, *reactor.Loop) {
	t.Helper()
	b, _, err := reactor.New(backend)
	if err != nil {
		t.Fatal(err)
	}
	l := reactor.NewLoop(b, reactor.Options{})
	fd, err := reactor.ListenTCP("127.0.0.1:0", 0)
	if err != nil {
		t.Fatal(err)
	}
	port, err := reactor.LocalPort(fd)
	if err != nil {
		t.Fatal(err)
	}
	listening := make(chan error, 1)
	l.Post(func() {
		_, err := l.Listen(fd, h.accept)
		listening <- err
	})
	done := make(chan error, 1)
	go func() { done <- l.Run() }()
	select {
	case err := <-listening:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("loop did not start")
	}
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
		unix.Close(fd)
	})
	return fmt.Sprintf("127.0.0.1:%d", port), l
}

func TestSendOrder(t *testing.T) {
	small := make([]byte, 700)
	pattern(small, 1, 0)
	small2 := make([]byte, 900)
	pattern(small2, 2, 0)
	large := make([]byte, 3<<20) // more than the socket takes at once
	pattern(large, 3, 0)
	fileData := make([]byte, 256<<10)
	pattern(fileData, 4, 0)
	path := filepath.Join(t.TempDir(), "body")
	if err := os.WriteFile(path, fileData, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	send := func(b []byte) orderStep {
		return func(c *reactor.Conn) (bool, error) { return c.Send(b) }
	}
	sendFile := func(c *reactor.Conn) (bool, error) {
		return c.SendFile(int(f.Fd()), 0, int64(len(fileData)))
	}
	rawWrite := func(b []byte) orderStep {
		return func(c *reactor.Conn) (bool, error) {
			n, err := unix.Write(c.Fd(), b)
			if err != nil || n != len(b) {
				return false, fmt.Errorf("write(2) on Fd: %d, %v", n, err)
			}
			return true, nil
		}
	}
	sendHead := func(b []byte) orderStep {
		return func(c *reactor.Conn) (bool, error) {
			n := c.SendHead(b)
			return c.Send(b[n:])
		}
	}
	cat := func(bs ...[]byte) []byte { return bytes.Join(bs, nil) }

	tests := []struct {
		name  string
		steps []orderStep
		end   string
		want  []byte
	}{
		{"send then close", []orderStep{send(small)}, "close", small},
		{"send then shutdown", []orderStep{send(small)}, "shutdown", small},
		{"two sends then close", []orderStep{send(small), send(small2)}, "close", cat(small, small2)},
		{"send then large send", []orderStep{send(small), send(large)}, "shutdown", cat(small, large)},
		{"send then sendfile", []orderStep{send(small), sendFile}, "shutdown", cat(small, fileData)},
		{"send then write on Fd", []orderStep{send(small), rawWrite(small2)}, "shutdown", cat(small, small2)},
		{"send then send head", []orderStep{send(small), sendHead(small2), sendFile}, "shutdown", cat(small, small2, fileData)},
	}
	forEachBackend(t, func(t *testing.T, backend string) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				h := &orderHandler{steps: tt.steps, end: tt.end, errs: make(chan error, 4)}
				addr, _ := startOrder(t, backend, h)
				c, err := net.DialTimeout("tcp", addr, 5*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				got, err := io.ReadAll(c)
				if err != nil {
					t.Fatalf("read: %v (after %d bytes)", err, len(got))
				}
				select {
				case err := <-h.errs:
					t.Fatal(err)
				default:
				}
				if !bytes.Equal(got, tt.want) {
					i := 0
					for i < len(got) && i < len(tt.want) && got[i] == tt.want[i] {
						i++
					}
					t.Fatalf("got %d bytes, want %d; first difference at %d", len(got), len(tt.want), i)
				}
			})
		}
	})
}

// fillHandler sends to a peer that reads nothing until the socket is
// full, and counts what it sent.
type fillHandler struct {
	chunk []byte
	sent  int
}

func (h *fillHandler) accept(c *reactor.Conn) error {
	c.H = h
	h.fill(c)
	return nil
}

func (h *fillHandler) fill(c *reactor.Conn) {
	for {
		done, err := c.Send(h.chunk)
		if err != nil {
			c.Close()
			return
		}
		h.sent += len(h.chunk)
		if !done {
			return
		}
	}
}

func (h *fillHandler) OnSendDone(c *reactor.Conn, err error) {
	if err != nil {
		c.Close()
		return
	}
	h.fill(c)
}

func (h *fillHandler) OnRecv(c *reactor.Conn, data []byte)     {}
func (h *fillHandler) OnReadClosed(c *reactor.Conn, err error) {}
func (h *fillHandler) OnConnect(c *reactor.Conn, err error)    {}
func (h *fillHandler) OnTimeout(c *reactor.Conn)               {}

// TestCloseStuckSend closes a connection whose peer reads nothing, with
// output still waiting for room: the slot must come free all the same
// (a queued copy holds it closeLinger at most).
func TestCloseStuckSend(t *testing.T) {
	// The queued output of a closed connection waits closeLinger for a
	// peer that reads nothing: shorten it for the test.
	defer reactor.SetCloseLinger(50 * time.Millisecond)()
	forEachBackend(t, func(t *testing.T, backend string) {
		h := &fillHandler{chunk: make([]byte, 8<<10)}
		b, _, err := reactor.New(backend)
		if err != nil {
			t.Fatal(err)
		}
		l := reactor.NewLoop(b, reactor.Options{})
		fd, err := reactor.ListenTCP("127.0.0.1:0", 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
		port, err := reactor.LocalPort(fd)
		if err != nil {
			t.Fatal(err)
		}
		l.Post(func() { l.Listen(fd, h.accept) })
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
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		onLoop := func(f func() int) int {
			ch := make(chan int, 1)
			l.Post(func() { ch <- f() })
			select {
			case n := <-ch:
				return n
			case <-time.After(5 * time.Second):
				t.Fatal("loop does not answer")
				return 0
			}
		}
		// Wait until the sends stop making progress: the socket is full.
		last, still := -1, 0
		for deadline := time.Now().Add(10 * time.Second); still < 3; {
			n := onLoop(func() int { return h.sent })
			if n == last && n > 0 {
				still++
			} else {
				still = 0
			}
			last = n
			if time.Now().After(deadline) {
				t.Fatalf("the sends never stopped (%d bytes to a peer that reads nothing)", n)
			}
			time.Sleep(20 * time.Millisecond)
		}
		onLoop(func() int {
			l.ForEach(func(c *reactor.Conn) { c.Close() })
			return 0
		})
		for deadline := time.Now().Add(5 * time.Second); onLoop(l.Active) != 0; {
			if time.Now().After(deadline) {
				t.Fatal("the closed connection still holds its slot")
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// slowHandler sends a numbered stream to a peer that reads nothing yet,
// until the socket is full, and records what was given and what was
// reported sent.
type slowHandler struct {
	chunk      []byte
	stream     []byte // every byte given to Send, in order
	doneBytes  int    // the part of stream whose Send reported done or completed
	pendingEnd int    // end of the Send that is still in flight
}

func (h *slowHandler) accept(c *reactor.Conn) error {
	c.H = h
	h.fill(c)
	return nil
}

func (h *slowHandler) fill(c *reactor.Conn) {
	for len(h.stream) < 64<<20 {
		pattern(h.chunk, 6, len(h.stream))
		h.stream = append(h.stream, h.chunk...)
		done, err := c.Send(h.chunk)
		if err != nil {
			c.Close()
			return
		}
		if !done {
			h.pendingEnd = len(h.stream)
			return
		}
		h.doneBytes = len(h.stream)
	}
}

func (h *slowHandler) OnSendDone(c *reactor.Conn, err error) {
	if err != nil {
		c.Close()
		return
	}
	h.doneBytes = h.pendingEnd
	h.fill(c)
}

func (h *slowHandler) OnRecv(c *reactor.Conn, data []byte)     {}
func (h *slowHandler) OnReadClosed(c *reactor.Conn, err error) {}
func (h *slowHandler) OnConnect(c *reactor.Conn, err error)    {}
func (h *slowHandler) OnTimeout(c *reactor.Conn)               {}

// TestCloseSlowReader closes a connection whose peer has not read yet,
// with output waiting for room, then lets the peer read: every byte of
// every Send that reported done (or completed) must arrive, then the end.
// Bytes written into a socket buffer outlive close(2); a backend's queued
// copy, reported sent the same way, must too.
func TestCloseSlowReader(t *testing.T) {
	for round := range 3 { // the socket fills behind a copy or a plain send
		forEachBackend(t, func(t *testing.T, backend string) {
			h := &slowHandler{chunk: make([]byte, 4<<10+round*1000)}
			b, _, err := reactor.New(backend)
			if err != nil {
				t.Fatal(err)
			}
			l := reactor.NewLoop(b, reactor.Options{})
			fd, err := reactor.ListenTCP("127.0.0.1:0", 0)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(fd)
			port, err := reactor.LocalPort(fd)
			if err != nil {
				t.Fatal(err)
			}
			l.Post(func() { l.Listen(fd, h.accept) })
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
			c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			onLoop := func(f func() int) int {
				ch := make(chan int, 1)
				l.Post(func() { ch <- f() })
				select {
				case n := <-ch:
					return n
				case <-time.After(5 * time.Second):
					t.Fatal("loop does not answer")
					return 0
				}
			}
			// Wait until the sends stop making progress: the socket is full.
			last, still := -1, 0
			for deadline := time.Now().Add(10 * time.Second); still < 3; {
				n := onLoop(func() int { return len(h.stream) })
				if n == last && n > 0 {
					still++
				} else {
					still = 0
				}
				last = n
				if time.Now().After(deadline) {
					t.Fatalf("the sends never stopped (%d bytes)", n)
				}
				time.Sleep(20 * time.Millisecond)
			}
			doneBytes := onLoop(func() int {
				l.ForEach(func(c *reactor.Conn) { c.Close() })
				return h.doneBytes
			})
			c.SetDeadline(time.Now().Add(20 * time.Second))
			got, err := io.ReadAll(c)
			if err != nil {
				t.Fatalf("read: %v after %d bytes", err, len(got))
			}
			stream := h.stream // the loop no longer touches it: its conn is closed
			if len(got) < doneBytes || len(got) > len(stream) || !bytes.Equal(got, stream[:len(got)]) {
				i := 0
				for i < len(got) && i < len(stream) && got[i] == stream[i] {
					i++
				}
				t.Fatalf("got %d bytes (first difference at %d); the done sends carried %d, all sends %d",
					len(got), i, doneBytes, len(stream))
			}
		})
	}
}
