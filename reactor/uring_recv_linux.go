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
	s.RecvMultishot(int(c.fd), recvGroup, 0)
	s.SetUserData(userData(c, opRecv))
	c.bk |= ukRecvArmed
	c.inflight++
}

// stopRecv does nothing yet: the multishot is cancelled only if data
// arrives while stopped (see input), which saves two SQEs when receiving
// restarts before the peer sends more.
func (u *uringBackend) stopRecv(c *Conn) {}

func (u *uringBackend) onRecv(c *Conn, cqe *ring.CQE) {
	bid, hasBuf := cqe.BufferID()
	if c == nil {
		if hasBuf {
			u.dropBuf(bid, cqe)
		}
		return
	}
	if !cqe.More() {
		c.bk &^= ukRecvArmed | ukRecvCancel
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
	if c.bk&(ukRecvArmed|ukRecvCancel) == ukRecvArmed {
		u.cancel(c, opRecv)
		c.bk |= ukRecvCancel
	}
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
