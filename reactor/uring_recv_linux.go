//go:build linux

package reactor

import (
	"os"

	"golang.org/x/sys/unix"

	"github.com/nproxy/nproxy/ring"
)

// Receiving on the io_uring backend: one multishot RECV per connection
// with buffers from the loop's provided-buffer ring, and the stash that
// keeps OnRecv from running while receiving is stopped (see the
// uringBackend comment in uring_linux.go).

func (u *uringBackend) startRecv(c *Conn) {
	if s := u.peek(c); s != nil && (len(s.stash) > 0 || s.readEnd) {
		u.queue(c)
		return // armed after the stash is delivered
	}
	u.armRecv(c)
}

func (u *uringBackend) armRecv(c *Conn) {
	if c.bk&ukRecvArmed != 0 || c.flags&(flagReadClosed|flagClosing) != 0 {
		return
	}
	s := u.sqe()
	switch {
	case c.bk&ukRecvOnce != 0 || u.noRecvLimit && c.bk&ukDialed != 0:
		s.RecvSelect(int(c.fd), recvGroup, 0)
		c.bk |= ukRecvSingle
	case u.noRecvLimit:
		s.RecvMultishot(int(c.fd), recvGroup, 0)
	default:
		s.RecvMultishotLimit(int(c.fd), recvGroup, 0, recvLimit)
	}
	s.SetUserData(userData(c, opRecv))
	c.bk |= ukRecvArmed
	c.inflight++
}

// stopRecv makes the connection's receives single-shot from now on
// (ukRecvOnce), and cancels a multishot in flight. A handler that pushes
// back once (a proxied stream whose client reads nothing) will again, and
// a multishot does not stop promptly: while the peer keeps sending, the
// kernel requeues it after each batch of buffers, a cancel that finds it
// requeued fails with ENOENT (cancelFailed has the next input retry it),
// and meanwhile each buffer lands in the stash (measured: see
// BENCHMARKS.md, "Proxied HTTP/2 streams whose client reads nothing").
// So every multishot ends by itself after recvLimit bytes (the kernel
// counts them), which bounds what lands after a stop whether or not the
// cancel catches it, and a single-shot receive, which needs no cancel,
// takes over after the first stop.
func (u *uringBackend) stopRecv(c *Conn) {
	c.bk |= ukRecvOnce
	u.cancelMultishot(c)
}

// cancelMultishot cancels c's multishot receive, if one is in flight and
// not already being cancelled.
func (u *uringBackend) cancelMultishot(c *Conn) {
	if c.bk&(ukRecvArmed|ukRecvCancel|ukRecvSingle) == ukRecvArmed {
		u.cancel(c, opRecv)
		c.bk |= ukRecvCancel
	}
}

func (u *uringBackend) onRecv(c *Conn, cqe *ring.CQE) {
	bid, hasBuf := cqe.BufferID()
	if c == nil {
		if hasBuf {
			u.dropBuf(bid, cqe)
		}
		return
	}
	if !cqe.More() {
		c.bk &^= ukRecvArmed | ukRecvCancel | ukRecvSingle
		c.inflight--
	}
	if c.flags&flagClosing != 0 {
		if hasBuf {
			u.dropBuf(bid, cqe)
		}
		u.maybeRelease(c)
		return
	}
	gen := c.gen
	res := cqe.Res
	switch {
	case res > 0 && hasBuf:
		data, done := u.br.Consume(bid, int(res), cqe.BufMore())
		u.input(c, data)
		if done {
			u.br.Recycle(bid)
		}
	case res == 0:
		u.readEnd(c, nil)
		return
	case res == -int32(unix.ENOBUFS):
		// The published buffers ran dry: publish more (doubling, up to
		// the ring), then re-arm below.
		u.br.Grow(u.br.Published())
	case res == -int32(unix.EINVAL) && c.bk&ukRecvSingle == 0 && !u.noRecvLimit:
		// A kernel without the multishot limit (an older one): plain
		// multishot receives from now on, single-shot for dialed
		// connections (which push back most); re-arm below.
		u.noRecvLimit = true
	case res == -int32(unix.ECANCELED):
		// Our own cancel (StopRecv or a race with it): re-arm below if
		// receiving is wanted.
	case res < 0:
		u.readEnd(c, os.NewSyscallError("recv", unix.Errno(-res)))
		return
	}
	if c.gen == gen && c.flags&flagRecv != 0 && !u.stashed(c) {
		u.armRecv(c)
	}
}

// dropBuf gives back the buffer of a receive nobody takes, once the
// kernel is done with it (an incremental ring may keep it for more).
func (u *uringBackend) dropBuf(bid uint16, cqe *ring.CQE) {
	if _, done := u.br.Consume(bid, int(max(cqe.Res, 0)), cqe.BufMore()); done {
		u.br.Recycle(bid)
	}
}

// input takes received bytes: to the handler when it wants them and
// nothing older waits, else into the stash (and the kernel is told to stop).
func (u *uringBackend) input(c *Conn, data []byte) {
	if c.flags&flagRecv != 0 && !u.stashed(c) {
		c.H.OnRecv(c, data)
		return
	}
	s := u.slot(c)
	s.stash = u.l.AppendBuf(s.stash, data)
	if c.flags&flagRecv != 0 {
		u.deliver(c)
		return
	}
	c.bk |= ukRecvOnce
	u.cancelMultishot(c)
}

// cancelFailed handles a cancel's CQE, posted only when the cancel did not
// succeed (SkipSuccess). A receive still armed and unwanted gets another
// cancel with its next input: ENOENT comes when the multishot was between
// two runs (requeued by the kernel while data keeps coming), not gone.
func (u *uringBackend) cancelFailed(ud uint64, res int32) {
	if res >= 0 {
		return
	}
	idx := uint32(ud >> 32)
	if int(idx) >= len(u.l.conns) {
		return
	}
	c := u.l.conns[idx]
	if c.gen&uringGenMask != uint32(ud>>8)&uringGenMask || c.flags&flagOpen == 0 {
		return
	}
	c.bk &^= ukRecvCancel
}

// readEnd reports EOF (err nil) or a read error, after stashed input.
func (u *uringBackend) readEnd(c *Conn, err error) {
	if c.flags&flagRecv != 0 && !u.stashed(c) {
		c.flags |= flagReadClosed
		c.H.OnReadClosed(c, err)
		return
	}
	s := u.slot(c)
	s.readEnd, s.readErr = true, err
	if c.flags&flagRecv != 0 {
		u.deliver(c)
	}
}

// deliver hands the stash, then a stashed EOF, to a receiving handler and
// re-arms the receive when neither is left.
func (u *uringBackend) deliver(c *Conn) {
	gen := c.gen
	s := u.slot(c)
	if len(s.stash) > 0 {
		buf := s.stash
		s.stash = nil
		c.H.OnRecv(c, buf)
		u.l.PutBuf(buf)
		if c.gen != gen || !c.Open() || c.flags&flagRecv == 0 {
			return
		}
		s = u.slot(c)
		if len(s.stash) > 0 {
			u.queue(c)
			return
		}
	}
	if s.readEnd {
		err := s.readErr
		s.readEnd, s.readErr = false, nil
		c.flags |= flagReadClosed
		c.H.OnReadClosed(c, err)
		return
	}
	u.armRecv(c)
}

// stashed reports whether input that arrived while receiving was stopped
// still waits for the handler.
func (u *uringBackend) stashed(c *Conn) bool {
	s := u.peek(c)
	return s != nil && len(s.stash) > 0
}
