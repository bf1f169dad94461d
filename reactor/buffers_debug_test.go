//go:build linux && nproxydebug

package reactor_test

import (
	"fmt"
	"net"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/nproxy/nproxy/reactor"
)

// poolLoop returns a loop whose buffer pool the test drives from its own
// goroutine: the loop never runs, so the test is its only thread.
func poolLoop() *reactor.Loop { return reactor.NewLoop(reactor.NewEpoll(), reactor.Options{}) }

// panicOf runs f and returns what it panicked with, or "" if it returned.
func panicOf(f func()) (msg string) {
	defer func() {
		if r := recover(); r != nil {
			msg = fmt.Sprint(r)
		}
	}()
	f()
	return ""
}

// TestBufDebugCatches checks that the nproxydebug build fails loudly on
// each way of breaking "one owner per buffer".
func TestBufDebugCatches(t *testing.T) {
	tests := []struct {
		name string
		do   func(l *reactor.Loop) // the last call must panic
		want string                // in the panic message
	}{
		{
			name: "double put",
			do: func(l *reactor.Loop) {
				b := l.GetBuf(100)
				l.PutBuf(b)
				l.PutBuf(b)
			},
			want: "double put",
		},
		{
			name: "double put of a large buffer, resliced in length",
			do: func(l *reactor.Loop) {
				b := append(l.GetBuf(reactor.LargeBuf), "GET / HTTP/1.1\r\n"...)
				l.PutBuf(b)
				l.PutBuf(b[:0])
			},
			want: "double put",
		},
		{
			name: "double put through AppendBuf",
			do: func(l *reactor.Loop) {
				small := append(l.GetBuf(reactor.SmallBuf), make([]byte, reactor.SmallBuf)...)
				large := l.AppendBuf(small, []byte("more")) // puts small
				_ = large
				l.PutBuf(small)
			},
			want: "double put",
		},
		{
			name: "a heap slice of a pool size",
			do:   func(l *reactor.Loop) { l.PutBuf(make([]byte, 0, reactor.SmallBuf)) },
			want: "not a pool buffer",
		},
		{
			name: "a slice inside a pool buffer",
			do: func(l *reactor.Loop) {
				b := l.GetBuf(reactor.SmallBuf)[:200]
				l.PutBuf(b[100:])
			},
			want: "inside a pool buffer",
		},
		{
			name: "a pool buffer with its capacity cut",
			do: func(l *reactor.Loop) {
				b := l.GetBuf(reactor.SmallBuf)
				l.PutBuf(b[:0:100])
			},
			want: "capacity 100",
		},
		{
			// Protection makes a late write fault at once (see
			// TestBufDebugFaultsAfterPut); the poison check is the net
			// for buffers it cannot protect. The test lifts the
			// protection to reach it.
			name: "write after put",
			do: func(l *reactor.Loop) {
				b := l.GetBuf(reactor.SmallBuf)
				l.PutBuf(b)
				b = b[:cap(b)]
				if err := unix.Mprotect(b, unix.PROT_READ|unix.PROT_WRITE); err != nil {
					panic(err)
				}
				b[1234] = 'x'
				l.GetBuf(reactor.SmallBuf)
			},
			want: "written after PutBuf: byte 1234",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := panicOf(func() { tt.do(poolLoop()) })
			if !strings.Contains(msg, tt.want) {
				t.Fatalf("panic %q, want one containing %q", msg, tt.want)
			}
		})
	}
}

var sink byte

// TestBufDebugFaultsAfterPut checks that a buffer in the pool can be
// neither read nor written: the access itself faults (a panic here, with
// SetPanicOnFault; a crash with the culprit's stack otherwise).
func TestBufDebugFaultsAfterPut(t *testing.T) {
	tests := []struct {
		name   string
		size   int
		access func(b []byte)
	}{
		{name: "read small", size: reactor.SmallBuf, access: func(b []byte) { sink = b[10] }},
		{name: "write small", size: reactor.SmallBuf, access: func(b []byte) { b[10] = 1 }},
		{name: "read large", size: reactor.LargeBuf, access: func(b []byte) { sink = b[reactor.LargeBuf-1] }},
		{name: "write large", size: reactor.LargeBuf, access: func(b []byte) { b[0] = 1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := poolLoop()
			b := l.GetBuf(tt.size)
			b = b[:cap(b)]
			b[10] = 'x' // the owner may
			l.PutBuf(b)
			defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
			var r any
			func() {
				defer func() { r = recover() }()
				tt.access(b)
			}()
			re, ok := r.(runtime.Error)
			if !ok {
				t.Fatalf("access after PutBuf: recovered %v, want a fault", r)
			}
			start := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
			addr, ok := re.(interface{ Addr() uintptr })
			if !ok || addr.Addr() < start || addr.Addr() >= start+uintptr(cap(b)) {
				t.Fatalf("fault %v, not inside the buffer at %#x", re, start)
			}
		})
	}
}

// TestBufDebugKeepsOwnedBuffers checks that the checks leave a correct
// owner alone: buffers handed out again are usable and hold what their
// owner writes, AppendBuf moves data intact, and PutBuf ignores nil and
// AppendBuf's heap growth, as the release build does.
func TestBufDebugKeepsOwnedBuffers(t *testing.T) {
	l := poolLoop()
	for round := range 3 {
		var held [][]byte
		for i := range 100 { // more than one slab of each size
			size := reactor.SmallBuf
			if i%2 == 1 {
				size = reactor.LargeBuf
			}
			b := l.GetBuf(size)
			if len(b) != 0 || cap(b) != size {
				t.Fatalf("round %d: GetBuf(%d) = len %d cap %d", round, size, len(b), cap(b))
			}
			b = b[:cap(b)]
			for j := range b {
				b[j] = byte(i + j)
			}
			held = append(held, b)
		}
		for i, b := range held {
			for j := range b {
				if b[j] != byte(i+j) {
					t.Fatalf("round %d: buffer %d changed at %d", round, i, j)
				}
			}
			l.PutBuf(b)
		}
	}
	// AppendBuf: small, then large, then the heap.
	want := make([]byte, 0, 3*reactor.LargeBuf)
	var b []byte
	for i := 0; len(want) < 3*reactor.LargeBuf; i++ {
		chunk := make([]byte, 5000)
		for j := range chunk {
			chunk[j] = byte(i * j)
		}
		b = l.AppendBuf(b, chunk)
		want = append(want, chunk...)
		if string(b) != string(want) {
			t.Fatalf("AppendBuf: %d bytes differ after %d appends", len(b), i+1)
		}
	}
	l.PutBuf(b) // the heap: ignored
	l.PutBuf(nil)
}

// lendHandler sends a pool buffer that cannot go out at once and tries to
// put it back while the send still reads it, then after Close.
type lendHandler struct {
	l       *reactor.Loop
	results chan string // the panic of each PutBuf ("" for none)
}

func (h *lendHandler) OnConnect(c *reactor.Conn, err error) {
	if err != nil {
		h.results <- "connect: " + err.Error()
		return
	}
	// The smallest send buffer and a peer that does not read: 64 KiB
	// cannot go out at once, on either backend.
	unix.SetsockoptInt(c.Fd(), unix.SOL_SOCKET, unix.SO_SNDBUF, 4096)
	b := h.l.GetBuf(reactor.LargeBuf)
	b = b[:cap(b)]
	done, err := c.Send(b[100:]) // a slice of it counts as the buffer

	if done || err != nil {
		h.results <- fmt.Sprintf("Send: done %v, %v; the test needs it pending", done, err)
		return
	}
	h.results <- panicOf(func() { h.l.PutBuf(b) })
	c.Close() // abandons the send: b is the caller's again
	h.results <- panicOf(func() { h.l.PutBuf(b) })
}

func (h *lendHandler) OnSendDone(c *reactor.Conn, err error)   {}
func (h *lendHandler) OnRecv(c *reactor.Conn, data []byte)     {}
func (h *lendHandler) OnReadClosed(c *reactor.Conn, err error) {}
func (h *lendHandler) OnTimeout(c *reactor.Conn)               {}

// TestBufDebugLentBuffer checks that a buffer a pending Send reads cannot
// go back to the pool until the send ends (here: Close abandons it).
func TestBufDebugLentBuffer(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		l := runLoop(t, backend)
		h := &lendHandler{l: l, results: make(chan string, 2)}
		port := ln.Addr().(*net.TCPAddr).Port
		l.Post(func() {
			if _, err := l.Dial(&unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}, h); err != nil {
				h.results <- err.Error()
			}
		})
		for i, want := range []string{"still being sent on conn", ""} {
			select {
			case msg := <-h.results:
				if want == "" && msg != "" || !strings.Contains(msg, want) {
					t.Fatalf("PutBuf %d: panic %q, want %q", i+1, msg, want)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("no result")
			}
		}
	})
}
