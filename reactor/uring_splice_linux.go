//go:build linux

package reactor

import (
	"golang.org/x/sys/unix"

	"github.com/nproxy/nproxy/ring"
)

// Splice on the io_uring backend: readiness through a one-shot POLL_ADD on
// the side that blocked, and splice(2) calls made here, non-blocking, as
// for sendfile (see the uringBackend comment).
//
// Why not IORING_OP_SPLICE: the kernel never issues a SPLICE inline; it is
// always punted to an io-wq worker thread (io_uring/splice.c refuses the
// non-blocking issue: splice has no nowait path), where it blocks until
// the socket has data or room. Two
// linked SPLICE SQEs per chunk would therefore cost two thread hops per
// chunk, and a transfer waiting on a slow peer would hold a kernel thread
// for as long as it waits. The POLL_ADD path costs what the epoll backend
// pays (two splice calls per chunk) plus one poll SQE per wait, batched
// into the ring.
//
// The source's multishot receive must be over before the transfer reads
// the socket, or the two would race for its bytes: StopRecv being lazy, the
// receive may still be armed when Splice is called. It is cancelled then;
// whatever it still delivers goes to the stash, and the transfer starts
// when its last CQE has come (dispatch calls runSplice), taking the stash
// (up to the bytes asked for) as the first bytes it moves.

func (u *uringBackend) splice(c *Conn) {
	sp := c.sp
	src := sp.src
	// Optimistic: the first splice(2) calls find out.
	src.flags |= flagReadReady
	c.flags |= flagWriteReady
	if src.bk&(ukRecvArmed|ukRecvCancel) == ukRecvArmed {
		u.cancel(src, opRecv)
		src.bk |= ukRecvCancel
	}
	u.runSplice(sp, false)
}

// runSplice runs the transfer once the source's receive is over and the
// destination's queued copy, if any, has gone out (onSendCopy runs it then).
func (u *uringBackend) runSplice(sp *splice, fromLoop bool) {
	if sp.dst.flags&flagOutQueued != 0 {
		return
	}
	src := sp.src
	if src != nil && !sp.over {
		if src.bk&ukRecvArmed != 0 {
			return // dispatch runs it after the receive's last CQE
		}
		if !sp.preTaken {
			sp.preTaken = true
			u.takeStash(sp)
		}
	}
	u.l.runSplice(sp, fromLoop)
}

// takeStash makes the source's stash the first bytes of the transfer. The
// splice takes the stash buffer over; bytes beyond the transfer (the next
// request of a pipelining client) stay stashed, in a buffer of their own.
func (u *uringBackend) takeStash(sp *splice) {
	s := u.peek(sp.src)
	if s == nil || len(s.stash) == 0 {
		return
	}
	buf := s.stash
	s.stash = nil
	n := int64(len(buf))
	if n > sp.left {
		s.stash = u.l.AppendBuf(nil, buf[sp.left:])
		n = sp.left
	}
	sp.pre, sp.preBuf = buf[:n], buf
}

// spliceWait polls the side that blocked: the destination while the pipe
// holds bytes it did not take, else the source.
func (u *uringBackend) spliceWait(sp *splice) {
	switch {
	case sp.inPipe > 0 && sp.dst.flags&flagWriteReady == 0:
		u.armPollOut(sp.dst)
	case sp.src.flags&flagReadReady == 0:
		u.armPollIn(sp.src)
	}
}

func (u *uringBackend) kick(c *Conn) { u.queue(c) }

// armPollIn waits for input on a splice source (one poll in flight at most).
func (u *uringBackend) armPollIn(c *Conn) {
	if c.bk&ukPollIn != 0 {
		return
	}
	s := u.sqe()
	// POLLRDHUP too: the end of the input is news for the transfer.
	s.PollAdd(int(c.fd), unix.POLLIN|unix.POLLRDHUP)
	s.SetUserData(userData(c, opPollIn))
	c.bk |= ukPollIn
	c.inflight++
}

func (u *uringBackend) onPollIn(c *Conn, cqe *ring.CQE) {
	if c == nil {
		return
	}
	c.bk &^= ukPollIn
	c.inflight--
	if c.flags&flagClosing != 0 {
		u.maybeRelease(c)
		return
	}
	if c.splicingFrom() {
		c.flags |= flagReadReady
		u.runSplice(c.sp, true)
	}
	// Otherwise left over from a transfer that ended: nothing waits.
}
