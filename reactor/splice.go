//go:build linux

package reactor

import (
	"os"

	"golang.org/x/sys/unix"
)

// Splice moves bytes from one socket to another through a pipe
// (socket → pipe → socket, splice(2) both ways), so that the payload is
// never copied to user space. The state of one transfer is a splice, linked
// from both conns (Conn.sp): the events of the source and of the
// destination drive the same transfer, and the source's input is never
// offered to OnRecv while it runs.
//
// The syscalls, the readiness bookkeeping and the end of a transfer are
// shared by the backends; a backend only says how it waits (epoll: the
// edges of the two sockets, already registered; io_uring: a one-shot
// POLL_ADD on the side that blocked) and how it serves a conn again from
// the loop (kick).

// splice is one Conn.Splice in flight. It owns a pipe; both are reused
// (Loop.getSplice) while the pipe is empty.
type splice struct {
	src, dst *Conn // src is nil once the source was closed
	r, w     int   // the pipe's read and write ends
	size     int64 // the pipe's capacity (F_GETPIPE_SZ)
	left     int64 // bytes still to take from src (pre included)
	inPipe   int64 // bytes in the pipe, not yet sent to dst

	// pre holds bytes received from src before the transfer started
	// (io_uring's stash); they enter the pipe before anything newer.
	// preBuf is the Loop buffer they live in, given back with the splice.
	pre, preBuf []byte
	preTaken    bool // io_uring: the stash was looked at

	over bool  // finished (err nil) or failed; the end is reported from the loop
	err  error // why it failed
}

const (
	// pipeSize is the capacity asked for a splice pipe (F_SETPIPE_SZ):
	// 1 MiB is the unprivileged maximum (fs.pipe-max-size) and lets one
	// splice(2) call move up to 1 MiB, against 64 KiB with the default
	// pipe. When the kernel refuses (the user's pipe-user-pages-soft is
	// spent), the pipe keeps whatever size it got.
	pipeSize = 1 << 20
	// maxPooledSplices bounds the idle pipes a loop keeps (two
	// descriptors each).
	maxPooledSplices = 16
	// spliceBudget bounds the bytes one transfer moves per turn of the
	// loop, so that one fast pair of peers cannot starve the others.
	spliceBudget = 8 << 20
)

// Results of one spliceStep.
const (
	stepWait  = iota // blocked: a socket is not ready (see Backend.spliceWait)
	stepYield        // the turn's budget is spent: serve again soon
	stepOver         // done or failed: sp.over is set
)

// Splice moves n bytes from src to c without copying them through user
// space: splice(2) from src into a pipe the loop owns, then from the pipe
// into c. It is Send for bytes that come from another socket of the same
// loop, with the same rule: one Send, SendFile or Splice in flight on c.
//
// Splice stops src's receiving (StopRecv) and takes it over until the end:
// src's input goes to the transfer, never to OnRecv, and StartRecv on src
// is ignored meanwhile. Bytes the handler already received (and holds) are
// the caller's to send first; bytes a backend received but did not deliver
// yet go first on their own. Exactly n bytes are taken from src: what
// follows them stays in src for the next StartRecv.
//
// The end is always reported by c's OnSendDone, from the loop (never from
// inside this call, so that a long transfer made of many Splice calls
// yields the loop between them): err is nil when all n bytes went out,
// ErrShortSplice when src reached its end first (src then counts as read
// closed; no OnReadClosed follows), a wrapped ErrClosed when src was
// closed meanwhile, else the failed syscall. done is true only for n == 0.
// Closing either conn abandons the transfer: bytes still in the pipe are
// lost, so the other conn's stream is then at an unknown position and
// should be closed too.
func (c *Conn) Splice(src *Conn, n int64) (done bool, err error) {
	switch {
	case !c.Open() || src == nil || !src.Open():
		return false, ErrClosed
	case c.flags&flagSending != 0:
		return false, ErrBusy
	case src == c || src.loop != c.loop || src.sp != nil || c.sp != nil ||
		src.flags&(flagListener|flagConnecting) != 0:
		return false, ErrSpliceSource
	case n <= 0:
		return true, nil
	}
	src.StopRecv()
	if src.flags&flagReadClosed != 0 {
		return false, ErrShortSplice
	}
	sp, err := c.loop.getSplice()
	if err != nil {
		return false, err
	}
	sp.src, sp.dst, sp.left = src, c, n
	src.sp, c.sp = sp, sp
	c.flags |= flagSending
	c.loop.b.splice(c)
	return false, nil
}

// getSplice returns an idle splice with an empty pipe, or a new one.
func (l *Loop) getSplice() (*splice, error) {
	if n := len(l.splices); n > 0 {
		sp := l.splices[n-1]
		l.splices = l.splices[:n-1]
		return sp, nil
	}
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_NONBLOCK|unix.O_CLOEXEC); err != nil {
		return nil, os.NewSyscallError("pipe2", err)
	}
	size, err := unix.FcntlInt(uintptr(p[1]), unix.F_SETPIPE_SZ, pipeSize)
	if err != nil {
		if size, err = unix.FcntlInt(uintptr(p[1]), unix.F_GETPIPE_SZ, 0); err != nil {
			size = 64 << 10 // the default of every kernel since 2.6.11
		}
	}
	return &splice{r: p[0], w: p[1], size: int64(size)}, nil
}

// putSplice takes sp back: pooled while its pipe is empty and the pool has
// room, else its pipe is closed (bytes left in a pipe must never reach the
// next transfer).
func (l *Loop) putSplice(sp *splice) {
	if sp.preBuf != nil {
		l.PutBuf(sp.preBuf)
	}
	if sp.inPipe != 0 || len(l.splices) >= maxPooledSplices {
		unix.Close(sp.r)
		unix.Close(sp.w)
		return
	}
	*sp = splice{r: sp.r, w: sp.w, size: sp.size}
	l.splices = append(l.splices, sp)
}

// closeSplices closes the pooled pipes when the loop stops.
func (l *Loop) closeSplices() {
	for _, sp := range l.splices {
		unix.Close(sp.r)
		unix.Close(sp.w)
	}
	l.splices = nil
}

// spliceStep moves bytes while the two sockets are ready: pre (if any),
// then src → pipe, and pipe → dst, up to spliceBudget. Readiness is kept in
// the conns' flagReadReady (src) and flagWriteReady (dst) and cleared on
// EAGAIN only, so the backend knows what to wait for.
//
// An EAGAIN from src while the pipe holds data is ambiguous: the socket is
// empty, or the pipe is full (its capacity counts page slots, and a
// socket's pages may be partly used, so fewer bytes than its size may fill
// it). flagReadReady is then kept, and src is tried again once the pipe
// drained; only an EAGAIN into an empty pipe clears it.
func (l *Loop) spliceStep(sp *splice) int {
	if sp.over {
		return stepOver
	}
	src, dst := sp.src, sp.dst
	if src == nil {
		return sp.fail(errSpliceSourceClosed)
	}
	var moved int64
	for moved < spliceBudget {
		progress := false
		switch {
		case len(sp.pre) > 0 && sp.inPipe < sp.size:
			n, err := rawWrite(sp.w, sp.pre)
			if n > 0 {
				sp.pre = sp.pre[n:]
				sp.left -= int64(n)
				sp.inPipe += int64(n)
				progress = true
			} else if err != unix.EAGAIN && err != unix.EINTR {
				return sp.fail(os.NewSyscallError("write", err))
			}
		case len(sp.pre) == 0 && sp.left > 0 && sp.inPipe < sp.size && src.flags&flagReadReady != 0:
			n, err := rawSplice(int(src.fd), sp.w, min(sp.left, sp.size-sp.inPipe))
			switch {
			case n > 0:
				sp.left -= n
				sp.inPipe += n
				progress = true
			case err == unix.EAGAIN:
				if sp.inPipe == 0 {
					src.flags &^= flagReadReady
				}
			case err == unix.EINTR:
				progress = true
			default:
				// The end of the input (err nil) or a read error: what
				// the pipe holds still goes out, then the transfer
				// fails, as a copy would have sent all it received.
				if err == nil {
					sp.err = ErrShortSplice
				} else {
					sp.err = os.NewSyscallError("splice", err)
				}
				src.flags &^= flagReadReady
				src.flags |= flagReadClosed
				sp.left = 0
				progress = true
			}
		}
		if sp.inPipe > 0 && dst.flags&flagWriteReady != 0 {
			n, err := rawSplice(sp.r, int(dst.fd), sp.inPipe)
			switch {
			case n > 0:
				sp.inPipe -= n
				moved += n
				progress = true
			case err == unix.EAGAIN:
				dst.flags &^= flagWriteReady
			case err == unix.EINTR:
				progress = true
			default:
				if err == nil {
					err = unix.EPIPE // a pipe with data never reads as empty
				}
				return sp.fail(os.NewSyscallError("splice", err))
			}
		}
		if sp.left == 0 && sp.inPipe == 0 {
			sp.over = true // sp.err says whether src ended early
			return stepOver
		}
		if !progress {
			return stepWait
		}
	}
	return stepYield
}

func (sp *splice) fail(err error) int {
	sp.over, sp.err = true, err
	return stepOver
}

// runSplice advances sp. fromLoop false means Splice itself runs it: the
// end is then reported from the loop, not from inside the caller.
func (l *Loop) runSplice(sp *splice, fromLoop bool) {
	switch l.spliceStep(sp) {
	case stepOver:
		if fromLoop {
			l.endSplice(sp)
		} else {
			l.b.kick(sp.dst)
		}
	case stepYield:
		l.b.kick(sp.dst)
	default:
		l.b.spliceWait(sp)
	}
}

// endSplice unlinks a finished transfer and reports it to dst's handler.
func (l *Loop) endSplice(sp *splice) {
	dst, err := sp.dst, sp.err
	if sp.src != nil {
		sp.src.sp = nil
	}
	dst.sp = nil
	l.putSplice(sp)
	dst.outputDone()
	dst.H.OnSendDone(dst, err)
}

// spliceClosing detaches a conn that is being closed from its transfer.
// The destination closing ends it silently (no completion follows Close);
// the source closing fails it, reported to the destination from the loop.
func (l *Loop) spliceClosing(c *Conn) {
	sp := c.sp
	c.sp = nil
	if sp.dst == c {
		if sp.src != nil {
			sp.src.sp = nil
		}
		c.flags &^= flagSending
		l.putSplice(sp)
		return
	}
	sp.src = nil
	if !sp.over {
		sp.fail(errSpliceSourceClosed)
	}
	l.b.kick(sp.dst)
}

// splicingFrom reports whether c is the source of a transfer.
func (c *Conn) splicingFrom() bool { return c.sp != nil && c.sp.src == c }

// splicingTo reports whether c is the destination of a transfer.
func (c *Conn) splicingTo() bool { return c.sp != nil && c.sp.dst == c }

// rawSplice is a non-blocking splice(2) of up to n bytes; (0, nil) is the
// end of the input.
func rawSplice(from, to int, n int64) (int64, error) {
	r, _, e := unix.RawSyscall6(unix.SYS_SPLICE, uintptr(from), 0, uintptr(to), 0, uintptr(n),
		unix.SPLICE_F_MOVE|unix.SPLICE_F_NONBLOCK)
	if e != 0 {
		return -1, e
	}
	return int64(r), nil
}
