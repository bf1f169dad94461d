//go:build linux

package reactor

import (
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Conn is one socket of a Loop: a client connection, an upstream
// connection or a listener. Conns live in the loop's table and are reused;
// the generation (Gen) changes on every reuse, so a completion that names a
// stale generation is dropped instead of reaching the next user of the slot.
//
// A Conn must not be copied, and is only touched on its loop's thread.
type Conn struct {
	H Handler // receives completions; set before the first operation

	// Ctx is free for the Handler (for instance the HTTP state of the
	// connection); the loop never reads it.
	Ctx any

	loop  *Loop
	fd    int32
	idx   uint32
	gen   uint32
	flags uint16

	// Timer wheel links (indexes into the loop's table, -1 = none) and the
	// tick at which the timer fires.
	tprev, tnext int32
	tdue         int64

	// Pending output, owned by the backend while a send is in flight.
	out     []byte
	fileFd  int32
	fileOff int64
	fileN   int64

	// The Splice this conn is the source or the destination of.
	sp *splice

	// Backend scratch: io_uring keeps its pending-operation count and
	// buffer id here; epoll keeps readiness bits in flags.
	inflight uint16
	bk       uint32
}

// Conn flags.
const (
	flagOpen       = 1 << iota // slot in use
	flagListener               // a listening socket
	flagRecv                   // the handler wants OnRecv
	flagReadReady              // epoll: input may be pending (edge seen, not drained)
	flagWriteReady             // epoll: the socket accepted all we wrote
	flagSending                // a send, sendfile or splice is in flight
	flagConnecting             // a connect is in flight
	flagReadClosed             // EOF or read error already reported
	flagClosing                // Close called; slot freed when the backend is done
	flagShutWrite              // ShutdownWrite waits for the pending output to end
	flagRdHup                  // epoll: the peer's half close (EPOLLRDHUP) was seen
	flagOutQueued              // a Send reported done, but its bytes still wait in the backend (see Backend.send)
)

// Fd is the connection's socket. Output that a Send reported done but the
// backend still holds (io_uring: a SEND still in the ring's queue) is
// handed to the kernel first, so that a system call the caller makes on
// the descriptor (a setsockopt that switches kTLS on, a getsockopt) comes
// after it. A SEND the kernel could not finish at once (the peer's window
// is full) still completes later, in order with the connection's other
// ring operations but not with such a system call.
func (c *Conn) Fd() int {
	if c.flags&flagOutQueued != 0 {
		c.loop.b.flushOut(c)
	}
	return int(c.fd)
}

// Loop is the loop the connection belongs to.
func (c *Conn) Loop() *Loop { return c.loop }

// Gen is the connection's generation: it changes every time the slot is
// reused, so (Index, Gen) names one connection for its whole life.
func (c *Conn) Gen() uint32 { return c.gen }

// Index is the connection's slot in the loop's table.
func (c *Conn) Index() uint32 { return c.idx }

// Open reports whether the connection has not been closed.
func (c *Conn) Open() bool { return c.flags&flagOpen != 0 && c.flags&flagClosing == 0 }

// Sending reports whether a Send, SendFile or Splice is still in flight.
func (c *Conn) Sending() bool { return c.flags&flagSending != 0 }

// StartRecv asks for OnRecv calls (the default after Attach is stopped).
// It is ignored while c is the source of a Splice.
func (c *Conn) StartRecv() {
	if c.flags&flagRecv != 0 || !c.Open() || c.splicingFrom() {
		return
	}
	c.flags |= flagRecv
	c.loop.b.startRecv(c)
}

// StopRecv pauses OnRecv calls until StartRecv: the way a handler pushes
// back on a peer that sends faster than the other side drains.
func (c *Conn) StopRecv() {
	if c.flags&flagRecv == 0 {
		return
	}
	c.flags &^= flagRecv
	c.loop.b.stopRecv(c)
}

// Receiving reports whether OnRecv calls are wanted.
func (c *Conn) Receiving() bool { return c.flags&flagRecv != 0 }

// Send writes all of b. It returns done=true when everything went out at
// once; otherwise OnSendDone follows and b must not change until then (nor
// go back to the pool: the nproxydebug build panics on a PutBuf of it). Only
// one Send or SendFile may be in flight.
func (c *Conn) Send(b []byte) (done bool, err error) {
	if !c.Open() {
		return false, ErrClosed
	}
	if c.flags&flagSending != 0 {
		return false, ErrBusy
	}
	done, err = c.loop.b.send(c, b)
	if !done && err == nil {
		c.loop.bufs.dbg.lend(c, b)
	}
	return done, err
}

// SendFile writes n bytes of the file fd from offset off, with the same
// completion rule as Send. The caller keeps fd open until it is done.
func (c *Conn) SendFile(fd int, off, n int64) (done bool, err error) {
	if !c.Open() {
		return false, ErrClosed
	}
	if c.flags&flagSending != 0 {
		return false, ErrBusy
	}
	if n == 0 {
		return true, nil
	}
	return c.loop.b.sendFile(c, fd, off, n)
}

// SendHead writes as much of b as the socket takes at once, flagged
// MSG_MORE, and returns how much that was (nothing while the bytes of an
// earlier Send still wait in the backend: they go first). It is for the head of a
// response whose body follows with SendFile: the kernel holds the head back
// and sends it in the same segments as the start of the file (nginx gets
// the same from tcp_nopush). Measured here on 1 MiB files over 16
// connections: 1157 req/s for nginx without tcp_nopush, 1964 with it. The
// rest of b, if any, goes with Send. No send may be in flight.
func (c *Conn) SendHead(b []byte) int {
	if !c.Open() || c.flags&(flagSending|flagOutQueued) != 0 || len(b) == 0 {
		return 0
	}
	n, _, e := unix.RawSyscall6(unix.SYS_SENDTO, uintptr(c.fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)),
		unix.MSG_MORE|unix.MSG_NOSIGNAL, 0, 0)
	if e != 0 {
		return 0
	}
	return int(n)
}

// SetTimeout arms the connection's single timer: OnTimeout follows after d
// unless the timer is re-armed or cleared first. d <= 0 clears it.
func (c *Conn) SetTimeout(d time.Duration) { c.loop.wheel.set(c, d) }

// ClearTimeout disarms the connection's timer.
func (c *Conn) ClearTimeout() { c.loop.wheel.remove(c) }

// Close closes the socket and frees the slot. No completion reaches the
// handler after Close; a send in flight is abandoned, and its buffer is the
// caller's again (the backend no longer reads it once Close returns).
func (c *Conn) Close() {
	if !c.Open() {
		return
	}
	c.loop.bufs.dbg.endLoan(c)
	c.loop.closeConn(c)
}

// ShutdownWrite half-closes the connection: the peer reads everything
// sent so far, then the end of the stream. While a Send, SendFile or
// Splice is pending, the shutdown waits for it: it runs when the output
// has ended, before OnSendDone reports it (shutdown(2) at once would
// overtake the bytes the backend has not written yet: an io_uring SEND
// still queued in the ring, or the rest of a partial write on epoll, which
// would then fail with EPIPE). The same holds for the bytes of a Send that
// reported done while the backend still holds them. Nothing may be sent
// after ShutdownWrite.
func (c *Conn) ShutdownWrite() {
	switch {
	case !c.Open():
	case c.flags&(flagSending|flagOutQueued) != 0:
		c.flags |= flagShutWrite
	default:
		c.shutdownWrite()
	}
}

// outputDone ends c's pending output (a Send, SendFile or Splice, finished
// or failed): the backends call it just before OnSendDone. A half-close
// that ShutdownWrite deferred runs now, behind the last byte.
func (c *Conn) outputDone() {
	c.flags &^= flagSending
	c.loop.bufs.dbg.endLoan(c)
	if c.flags&flagShutWrite != 0 {
		c.shutdownWrite()
	}
}

// shutdownWrite is shutdown(2) of the write side. An error (the peer
// reset the connection first) leaves nothing to do. It stays out of line,
// so that outputDone, run for every send that did not finish at once,
// inlines.
//
//go:noinline
func (c *Conn) shutdownWrite() {
	c.flags &^= flagShutWrite
	unix.Shutdown(int(c.fd), unix.SHUT_WR)
}
