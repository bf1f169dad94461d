//go:build linux

package reactor_test

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nproxy/nproxy/reactor"
	"github.com/nproxy/nproxy/ring"
)

// backends returns the backends to test: epoll always, io_uring unless
// ring.Available says why it cannot run here.
func backends(t testing.TB) []string {
	out := []string{"epoll"}
	if err := ring.Available(); err != nil {
		t.Logf("io_uring skipped: %v", err)
	} else {
		out = append(out, "io_uring")
	}
	return out
}

func forEachBackend(t *testing.T, f func(t *testing.T, backend string)) {
	for _, b := range backends(t) {
		t.Run(b, func(t *testing.T) { f(t, b) })
	}
}

// quitByte makes the echo server close the connection at once: the
// server-side close while the client still sends.
const quitByte = 0xff

// echoConn is the state of one echoed connection. Output alternates
// between off-heap Loop buffers and Go heap slices, so that both kinds
// reach Send.
type echoConn struct {
	out, next  []byte
	heap       bool
	closeAfter bool
}

type echoHandler struct{ l *reactor.Loop }

func (h *echoHandler) accept(c *reactor.Conn) error {
	c.H, c.Ctx = h, &echoConn{heap: c.Index()%2 == 0}
	c.StartRecv()
	return nil
}

func (h *echoHandler) OnRecv(c *reactor.Conn, data []byte) {
	e := c.Ctx.(*echoConn)
	if bytes.IndexByte(data, quitByte) >= 0 {
		h.closeConn(c)
		return
	}
	e.next = h.appendBuf(e, e.next, data)
	if c.Sending() {
		if len(e.next) >= 32<<10 {
			c.StopRecv() // push back on a client that outruns us
		}
		return
	}
	h.flush(c)
}

func (h *echoHandler) appendBuf(e *echoConn, b, data []byte) []byte {
	if b == nil && !e.heap {
		b = h.l.GetBuf(reactor.SmallBuf)
	}
	if len(b)+len(data) > cap(b) {
		nb := make([]byte, len(b), 2*(len(b)+len(data)))
		copy(nb, b)
		h.put(e, b)
		b = nb
	}
	return append(b, data...)
}

// put gives b back if it came from GetBuf: on an off-heap conn, a buffer
// of SmallBuf capacity (one grown on the heap is at least twice that). A
// heap conn's buffer may have that capacity too, but is not the pool's
// (the nproxydebug build panics on it).
func (h *echoHandler) put(e *echoConn, b []byte) {
	if !e.heap && cap(b) == reactor.SmallBuf {
		h.l.PutBuf(b)
	}
}

// flush sends what is queued; done sends continue at once.
func (h *echoHandler) flush(c *reactor.Conn) {
	e := c.Ctx.(*echoConn)
	for len(e.next) > 0 {
		h.put(e, e.out)
		e.out, e.next = e.next, nil
		done, err := c.Send(e.out)
		if err != nil {
			h.closeConn(c)
			return
		}
		if !done {
			return
		}
	}
	if e.closeAfter {
		h.closeConn(c)
		return
	}
	c.StartRecv()
}

func (h *echoHandler) OnSendDone(c *reactor.Conn, err error) {
	if err != nil {
		h.closeConn(c)
		return
	}
	h.flush(c)
}

func (h *echoHandler) OnReadClosed(c *reactor.Conn, err error) {
	e := c.Ctx.(*echoConn)
	if err != nil || !c.Sending() && len(e.next) == 0 {
		h.closeConn(c)
		return
	}
	e.closeAfter = true
}

func (h *echoHandler) OnConnect(c *reactor.Conn, err error) {}
func (h *echoHandler) OnTimeout(c *reactor.Conn)            { h.closeConn(c) }

func (h *echoHandler) closeConn(c *reactor.Conn) {
	if e, ok := c.Ctx.(*echoConn); ok {
		// The backend guarantees the kernel no longer reads e.out once
		// Close returns, so the buffer may go back to the pool now.
		c.Close()
		h.put(e, e.out)
		h.put(e, e.next)
		c.Ctx = nil
		return
	}
	c.Close()
}

// echoServer is a loop running the echo handler on a loopback port.
type echoServer struct {
	l    *reactor.Loop
	addr string
	done chan error
}

func startEcho(t testing.TB, backend string, maxConns int) *echoServer {
	return startEchoOpts(t, backend, maxConns, true)
}

// startEchoOpts is startEcho; closeListener false leaves the listening
// socket to the loop (a test that calls StopAccepting).
func startEchoOpts(t testing.TB, backend string, maxConns int, closeListener bool) *echoServer {
	t.Helper()
	b, _, err := reactor.New(backend)
	if err != nil {
		t.Fatal(err)
	}
	l := reactor.NewLoop(b, reactor.Options{MaxConns: maxConns})
	fd, err := reactor.ListenTCP("127.0.0.1:0", 0)
	if err != nil {
		t.Fatal(err)
	}
	port, err := reactor.LocalPort(fd)
	if err != nil {
		t.Fatal(err)
	}
	s := &echoServer{l: l, addr: fmt.Sprintf("127.0.0.1:%d", port), done: make(chan error, 1)}
	h := &echoHandler{l: l}
	listening := make(chan error, 1)
	l.Post(func() {
		_, err := l.Listen(fd, h.accept)
		listening <- err
	})
	go func() { s.done <- l.Run() }()
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
		case err := <-s.done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("loop did not stop")
		}
		l.Post(func() {}) // harmless after Run returned
		// The listener is the test's to close unless StopAccepting did.
		if closeListener {
			syscallClose(fd)
		}
	})
	return s
}

// active reads the loop's open-connection count on its thread.
func (s *echoServer) active(t testing.TB) int {
	ch := make(chan int, 1)
	s.l.Post(func() { ch <- s.l.Active() })
	select {
	case n := <-ch:
		return n
	case <-time.After(5 * time.Second):
		t.Fatal("loop does not answer")
		return -1
	}
}

// waitIdle waits until the loop has released every connection.
func (s *echoServer) waitIdle(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := s.active(t)
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d connections still open in the loop", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func countFds(t testing.TB) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// pattern fills b with bytes that name the connection and offset, never
// quitByte.
func pattern(b []byte, id, off int) {
	for i := range b {
		b[i] = byte((id*131 + off + i) % 251)
	}
}

func TestEcho(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		s := startEcho(t, backend, 0)
		const conns = 50
		var wg sync.WaitGroup
		errs := make(chan error, conns)
		for id := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- echoOnce(s.addr, id, 1+id*3000)
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
		s.waitIdle(t)
	})
}

// echoOnce sends n bytes in one write, reads them back, and closes.
func echoOnce(addr string, id, n int) error {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	want := make([]byte, n)
	pattern(want, id, 0)
	werr := make(chan error, 1)
	go func() { _, err := c.Write(want); werr <- err }()
	got := make([]byte, n)
	if _, err := io.ReadFull(c, got); err != nil {
		return fmt.Errorf("conn %d: read: %w", id, err)
	}
	if err := <-werr; err != nil {
		return fmt.Errorf("conn %d: write: %w", id, err)
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("conn %d: echoed bytes differ", id)
	}
	return nil
}

func TestStopAccepting(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		before := countFds(t)
		t.Cleanup(func() { checkFds(t, before) })
		s := startEchoOpts(t, backend, 0, false)
		c, err := net.DialTimeout("tcp", s.addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		ping := func() {
			t.Helper()
			if _, err := c.Write([]byte("ping")); err != nil {
				t.Fatal(err)
			}
			got := make([]byte, 4)
			if _, err := io.ReadFull(c, got); err != nil || string(got) != "ping" {
				t.Fatalf("echo: %q, %v", got, err)
			}
		}
		ping() // accepted, not waiting in the backlog
		s.l.Post(s.l.StopAccepting)
		// New connections are refused once the listener is gone...
		deadline := time.Now().Add(5 * time.Second)
		for {
			nc, err := net.DialTimeout("tcp", s.addr, time.Second)
			if err != nil {
				break
			}
			nc.Close()
			if time.Now().After(deadline) {
				t.Fatal("still accepting after StopAccepting")
			}
			time.Sleep(10 * time.Millisecond)
		}
		// ...while the open one is still served.
		ping()
	})
}

// checkFds fails when more descriptors are open than before, allowing
// closes in flight a moment to settle.
func checkFds(t *testing.T, before int) {
	deadline := time.Now().Add(2 * time.Second)
	for {
		after := countFds(t)
		if after <= before {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("descriptors: %d before, %d after", before, after)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestEchoHalfClose(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		s := startEcho(t, backend, 0)
		c, err := net.DialTimeout("tcp", s.addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		want := make([]byte, 200<<10)
		pattern(want, 7, 0)
		go func() {
			c.Write(want)
			c.(*net.TCPConn).CloseWrite()
		}()
		got, err := io.ReadAll(c) // EOF only after everything came back
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("got %d bytes back, want %d identical", len(got), len(want))
		}
		s.waitIdle(t)
	})
}

// TestStress opens, pipelines and closes thousands of connections at
// random while the loop runs, then checks that every client got exactly
// its own bytes back, that the loop released every connection and that no
// descriptor leaked. MaxConns below the client concurrency exercises the
// pause and resume of accepting.
func TestStress(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		before := countFds(t)
		// Registered before startEcho, so it runs after the loop stopped
		// and the listener closed (cleanups run last-in first-out).
		t.Cleanup(func() { checkFds(t, before) })
		s := startEcho(t, backend, 48)
		const workers = 64
		dur := 2 * time.Second
		if testing.Short() {
			dur = 500 * time.Millisecond
		}
		stop := time.Now().Add(dur)
		var conns, bytesOK atomic.Int64
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(w), 42))
				for i := 0; time.Now().Before(stop); i++ {
					id := w*1_000_000 + i
					n, err := stressConn(s.addr, id, rng)
					if err != nil {
						errs <- err
						return
					}
					conns.Add(1)
					bytesOK.Add(int64(n))
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		t.Logf("%s: %d connections, %d bytes echoed and checked", backend, conns.Load(), bytesOK.Load())
		if conns.Load() < workers {
			t.Errorf("only %d connections completed", conns.Load())
		}
		s.waitIdle(t)
	})
}

// stressConn runs one client connection: pipelined writes of random sizes
// read back concurrently, then one of several endings. It returns the
// bytes checked.
func stressConn(addr string, id int, rng *rand.Rand) (int, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return 0, fmt.Errorf("conn %d: dial: %w", id, err)
	}
	tc := c.(*net.TCPConn)
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))

	writes := 1 + rng.IntN(8)
	sizes := make([]int, writes)
	total := 0
	for i := range sizes {
		sizes[i] = 1 + rng.IntN(1<<uint(4+rng.IntN(13))) // 1 B .. 64 KiB
		total += sizes[i]
	}
	ending := rng.IntN(10)
	// 0: abort mid-stream (RST), 1: ask the server to close, 2: half
	// close and read to EOF, else: read everything and close.
	werr := make(chan error, 1)
	go func() {
		off := 0
		for _, n := range sizes {
			b := make([]byte, n)
			pattern(b, id, off)
			off += n
			if _, err := c.Write(b); err != nil {
				werr <- err
				return
			}
		}
		switch ending {
		case 1:
			_, err := c.Write([]byte{quitByte})
			werr <- err
			return
		case 2:
			tc.CloseWrite()
		}
		werr <- nil
	}()
	want := make([]byte, total)
	pattern(want, id, 0)
	got := make([]byte, total)
	switch ending {
	case 0:
		n := rng.IntN(total + 1)
		if _, err := io.ReadFull(c, got[:n]); err != nil {
			return 0, fmt.Errorf("conn %d: read before abort: %w", id, err)
		}
		tc.SetLinger(0)
		c.Close()
		<-werr
		if !bytes.Equal(got[:n], want[:n]) {
			return 0, fmt.Errorf("conn %d: wrong bytes", id)
		}
		return n, nil
	case 1:
		// The server closes on the quit byte: whatever came back before
		// must be an exact prefix.
		n, _ := io.ReadFull(c, got)
		rest, _ := io.ReadAll(c)
		<-werr
		if len(rest) > 0 {
			return 0, fmt.Errorf("conn %d: %d bytes more than sent", id, len(rest))
		}
		if !bytes.Equal(got[:n], want[:n]) {
			return 0, fmt.Errorf("conn %d: wrong bytes before the server closed", id)
		}
		return n, nil
	}
	if _, err := io.ReadFull(c, got); err != nil {
		return 0, fmt.Errorf("conn %d: read %d bytes: %w", id, total, err)
	}
	if err := <-werr; err != nil {
		return 0, fmt.Errorf("conn %d: write: %w", id, err)
	}
	if !bytes.Equal(got, want) {
		return 0, fmt.Errorf("conn %d: echoed bytes differ", id)
	}
	if ending == 2 {
		rest, err := io.ReadAll(c)
		if err != nil || len(rest) > 0 {
			return 0, fmt.Errorf("conn %d: after half close: %d bytes, %v", id, len(rest), err)
		}
	}
	return total, nil
}
