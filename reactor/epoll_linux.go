package reactor

import (
	"errors"
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// epollBackend is the reference backend: edge-triggered epoll, every socket
// registered once for input and output (no epoll_ctl per request), a
// completion emulated by the non-blocking syscall when the socket is ready.
//
// Order of work for one event, written once here: output first (a pending
// send may complete and let the handler read the next request), then input.
// A connection whose input or output is still pending when its per-turn
// budget runs out goes on the pending list and is served again before the
// next wait, so one fast peer cannot starve the others.
type epollBackend struct {
	l       *Loop
	epfd    int
	evfd    int
	events  []unix.EpollEvent
	rbuf    []byte   // the one read buffer of the loop (off-heap)
	pending []uint64 // (index<<32 | gen) of conns with work left
	work    []uint64 // pending being served this turn
}

var _ Backend = (*epollBackend)(nil)

const (
	// wakeTag marks the eventfd in epoll's user data.
	wakeTag = ^uint32(0)
	// readBudget bounds the reads of one connection per turn: 16 reads of
	// up to 64 KiB, 1 MiB, as gnet caps it.
	readBudget = 16
	// sendfileChunk bounds one sendfile(2) call, so a fast reader of a big
	// file yields the loop between chunks.
	sendfileChunk = 1 << 20
	// acceptBudget bounds the accepts of one listener per turn.
	acceptBudget = 64
)

// NewEpoll returns the epoll backend. Its kernel objects are created when
// the loop starts running.
func NewEpoll() Backend { return &epollBackend{} }

func (e *epollBackend) Name() string { return "epoll" }

func (e *epollBackend) init(l *Loop) error {
	e.l = l
	var err error
	if e.epfd, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		return os.NewSyscallError("epoll_create1", err)
	}
	if e.evfd, err = unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC); err != nil {
		return os.NewSyscallError("eventfd", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLET, Fd: -1}
	if err := unix.EpollCtl(e.epfd, unix.EPOLL_CTL_ADD, e.evfd, &ev); err != nil {
		return os.NewSyscallError("epoll_ctl", err)
	}
	e.events = make([]unix.EpollEvent, 1024) // NP_EPOLL_EVENTS
	e.rbuf, err = unix.Mmap(-1, 0, LargeBuf, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return os.NewSyscallError("mmap", err)
	}
	return nil
}

func (e *epollBackend) shutdown() {
	unix.Close(e.epfd)
	unix.Close(e.evfd)
	if e.rbuf != nil {
		unix.Munmap(e.rbuf)
		e.rbuf = nil
	}
}

func (e *epollBackend) wake() error {
	one := uint64(1)
	_, err := unix.Write(e.evfd, (*[8]byte)(unsafe.Pointer(&one))[:])
	if err != nil && err != unix.EAGAIN {
		return os.NewSyscallError("write", err)
	}
	return nil
}

func tagOf(c *Conn) uint64 { return uint64(c.idx)<<32 | uint64(c.gen) }

func (e *epollBackend) register(c *Conn, events uint32) error {
	ev := unix.EpollEvent{Events: events | unix.EPOLLET, Fd: int32(c.idx), Pad: int32(c.gen)}
	if err := unix.EpollCtl(e.epfd, unix.EPOLL_CTL_ADD, int(c.fd), &ev); err != nil {
		return os.NewSyscallError("epoll_ctl", err)
	}
	return nil
}

func (e *epollBackend) listen(c *Conn) error {
	if c.bk == 0 {
		if err := e.register(c, unix.EPOLLIN); err != nil {
			return err
		}
		c.bk = 1
	}
	// The edge may have passed while we were not accepting.
	c.flags |= flagReadReady
	e.pending = append(e.pending, tagOf(c))
	return nil
}

func (e *epollBackend) unlisten(c *Conn) {
	if c.bk != 0 {
		unix.EpollCtl(e.epfd, unix.EPOLL_CTL_DEL, int(c.fd), nil)
		c.bk = 0
	}
}

func (e *epollBackend) attach(c *Conn) error {
	if err := e.register(c, unix.EPOLLIN|unix.EPOLLOUT|unix.EPOLLRDHUP); err != nil {
		return err
	}
	// Listeners use TCP_DEFER_ACCEPT, so a new connection usually has its
	// request waiting: read at once instead of waiting for an edge.
	c.flags |= flagReadReady | flagWriteReady
	return nil
}

func (e *epollBackend) startRecv(c *Conn) {
	if c.flags&flagReadReady != 0 {
		e.pending = append(e.pending, tagOf(c))
	}
}

func (e *epollBackend) stopRecv(c *Conn) {}

func (e *epollBackend) close(c *Conn) {
	// Closing the last reference removes the fd from the epoll set.
	unix.Close(int(c.fd))
	e.l.release(c)
}

func (e *epollBackend) connect(c *Conn, sa unix.Sockaddr) error {
	err := unix.Connect(int(c.fd), sa)
	if err != nil && err != unix.EINPROGRESS {
		return os.NewSyscallError("connect", err)
	}
	// Completion (even an immediate one) is reported from the loop, never
	// from inside the caller.
	c.flags &^= flagWriteReady
	if err == nil {
		c.flags |= flagWriteReady
		e.pending = append(e.pending, tagOf(c))
	}
	return nil
}

func (e *epollBackend) send(c *Conn, b []byte) (bool, error) {
	if len(b) == 0 {
		return true, nil
	}
	n, err := rawWrite(int(c.fd), b)
	if n == len(b) {
		return true, nil
	}
	if err != nil && err != unix.EAGAIN {
		return false, os.NewSyscallError("write", err)
	}
	if n < 0 {
		n = 0
	}
	c.out = b[n:]
	c.flags |= flagSending
	c.flags &^= flagWriteReady
	return false, nil
}

func (e *epollBackend) sendFile(c *Conn, file int, off, n int64) (bool, error) {
	c.fileFd, c.fileOff, c.fileN = int32(file), off, n
	c.flags |= flagSending
	done, err := e.sendFileMore(c)
	if done || err != nil {
		c.flags &^= flagSending
		c.fileFd = -1
	}
	return done, err
}

// sendFileMore continues a file transfer; done reports the end of it.
func (e *epollBackend) sendFileMore(c *Conn) (bool, error) {
	for i := 0; i < 8 && c.fileN > 0; i++ {
		chunk := c.fileN
		if chunk > sendfileChunk {
			chunk = sendfileChunk
		}
		n, err := unix.Sendfile(int(c.fd), int(c.fileFd), &c.fileOff, int(chunk))
		if n > 0 {
			c.fileN -= int64(n)
		}
		if err == unix.EAGAIN {
			c.flags &^= flagWriteReady
			return false, nil
		}
		if err != nil {
			return false, os.NewSyscallError("sendfile", err)
		}
		if n == 0 {
			return false, errFileShrunk
		}
	}
	if c.fileN == 0 {
		return true, nil
	}
	e.pending = append(e.pending, tagOf(c)) // budget used: yield
	return false, nil
}

// splice runs the transfer at once as far as the sockets take it; the
// edges of both sockets (registered for input and output at attach) drive
// the rest through service.
func (e *epollBackend) splice(c *Conn) { e.l.runSplice(c.sp, false) }

// spliceWait has nothing to arm: the EAGAIN that blocked the transfer
// guarantees an edge when its socket is ready again.
func (e *epollBackend) spliceWait(sp *splice) {}

// lingerExpired never comes: epoll's close arms no timer.
func (e *epollBackend) lingerExpired(c *Conn) {}

// flushOut has nothing to do: epoll's send never queues a copy.
func (e *epollBackend) flushOut(c *Conn) {}

func (e *epollBackend) kick(c *Conn) { e.pending = append(e.pending, tagOf(c)) }

var errFileShrunk = errors.New("reactor: sendfile: file shorter than announced")

// flush continues a pending send when the socket is writable.
func (e *epollBackend) flush(c *Conn) {
	var err error
	done := false
	if c.fileFd >= 0 {
		done, err = e.sendFileMore(c)
	} else {
		for len(c.out) > 0 {
			n, werr := rawWrite(int(c.fd), c.out)
			if n > 0 {
				c.out = c.out[n:]
				continue
			}
			if werr == unix.EAGAIN {
				c.flags &^= flagWriteReady
				break
			}
			if werr == unix.EINTR {
				continue
			}
			err = os.NewSyscallError("write", werr)
			break
		}
		done = len(c.out) == 0
	}
	if !done && err == nil {
		return
	}
	c.out, c.fileFd = nil, -1
	c.outputDone()
	c.H.OnSendDone(c, err)
}

// readIn delivers input while the handler wants it, up to the budget.
func (e *epollBackend) readIn(c *Conn) {
	gen := c.gen
	for i := 0; i < readBudget; i++ {
		n, err := rawRead(int(c.fd), e.rbuf)
		switch {
		case n > 0:
			c.H.OnRecv(c, e.rbuf[:n])
			if c.gen != gen || !c.Open() || c.flags&flagRecv == 0 {
				return
			}
			// A short read drained the socket; edge-triggered epoll
			// reports the next arrival. Not so when the peer's FIN was
			// seen: read on until the EOF.
			if n < len(e.rbuf) && c.flags&flagRdHup == 0 {
				c.flags &^= flagReadReady
				return
			}
		case n == 0:
			c.flags &^= flagReadReady
			c.flags |= flagReadClosed
			c.H.OnReadClosed(c, nil)
			return
		case err == unix.EAGAIN:
			c.flags &^= flagReadReady
			return
		case err == unix.EINTR:
		default:
			c.flags &^= flagReadReady
			c.flags |= flagReadClosed
			c.H.OnReadClosed(c, os.NewSyscallError("read", err))
			return
		}
	}
	e.pending = append(e.pending, tagOf(c))
}

func (e *epollBackend) acceptFrom(c *Conn) {
	for i := 0; i < acceptBudget; i++ {
		if !e.l.canAccept() {
			return
		}
		fd, err := rawAccept(int(c.fd))
		if err == unix.EAGAIN {
			c.flags &^= flagReadReady
			return
		}
		if err != nil {
			e.l.acceptFailed(os.NewSyscallError("accept4", err))
			if e.l.acceptPaused {
				return
			}
			continue
		}
		e.l.accepted(c, fd)
	}
	e.pending = append(e.pending, tagOf(c))
}

func (e *epollBackend) finishConnect(c *Conn) {
	c.flags &^= flagConnecting
	var err error
	if soerr, gerr := unix.GetsockoptInt(int(c.fd), unix.SOL_SOCKET, unix.SO_ERROR); gerr != nil {
		err = os.NewSyscallError("getsockopt", gerr)
	} else if soerr != 0 {
		err = os.NewSyscallError("connect", unix.Errno(soerr))
	}
	c.H.OnConnect(c, err)
}

// service does the work an event (or the pending list) calls for. A conn
// in a Splice (as source or destination) runs the transfer instead of its
// input (source) or its output (destination).
func (e *epollBackend) service(c *Conn, events uint32) {
	gen := c.gen
	if c.flags&flagListener != 0 {
		if e.l.listeners != nil && c.bk != 0 {
			e.acceptFrom(c)
		}
		return
	}
	if events&(unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		c.flags |= flagRdHup
	}
	if events&(unix.EPOLLOUT|unix.EPOLLERR|unix.EPOLLHUP) != 0 {
		c.flags |= flagWriteReady
	}
	if events&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		c.flags |= flagReadReady
	}
	if c.flags&flagConnecting != 0 {
		if c.flags&flagWriteReady == 0 {
			return
		}
		e.finishConnect(c)
		if c.gen != gen || !c.Open() {
			return
		}
	}
	if sp := c.sp; sp != nil {
		e.l.runSplice(sp, true)
		if c.gen != gen || !c.Open() {
			return
		}
	}
	if c.flags&(flagSending|flagWriteReady) == flagSending|flagWriteReady && !c.splicingTo() {
		e.flush(c)
		if c.gen != gen || !c.Open() {
			return
		}
	}
	if c.flags&(flagRecv|flagReadReady|flagReadClosed) == flagRecv|flagReadReady {
		e.readIn(c)
	}
}

func (e *epollBackend) poll(timeout time.Duration) error {
	ms := 0
	if len(e.pending) == 0 {
		ms = int((timeout + time.Millisecond - 1) / time.Millisecond)
	}
	// A wait the runtime does not see first (see rawWait); only a loop
	// still idle after it waits on in Syscall6.
	raw := min(ms, int(rawWait/time.Millisecond))
	n, err := rawEpollWait(e.epfd, e.events, raw)
	if n == 0 && err == nil && ms > raw {
		n, err = unix.EpollWait(e.epfd, e.events, ms-raw)
	}
	if err != nil && err != unix.EINTR {
		return os.NewSyscallError("epoll_wait", err)
	}
	for i := 0; i < n; i++ {
		ev := &e.events[i]
		idx, gen := uint32(ev.Fd), uint32(ev.Pad)
		if idx == wakeTag {
			var buf [8]byte
			rawRead(e.evfd, buf[:])
			continue
		}
		if c := e.l.lookup(idx, gen); c != nil {
			e.service(c, ev.Events)
		}
	}
	// Serve the connections left with work by an earlier turn (and by
	// the handlers just run) once.
	e.work, e.pending = e.pending, e.work[:0]
	for _, t := range e.work {
		if c := e.l.lookup(uint32(t>>32), uint32(t)); c != nil {
			e.service(c, 0)
		}
	}
	return nil
}

// Non-blocking syscalls on sockets never block, so they use RawSyscall and
// skip the scheduler hand-off that Syscall does around a call that might.

// rawEpollWait is epoll_wait through RawSyscall6, for a wait of at most
// rawWait (see there). events is a Go heap slice: the heap does not move,
// and e.events keeps it alive.
func rawEpollWait(epfd int, events []unix.EpollEvent, ms int) (int, error) {
	n, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(&events[0])),
		uintptr(len(events)), uintptr(ms), 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

func rawRead(fd int, b []byte) (int, error) {
	n, _, e := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	if e != 0 {
		return -1, e
	}
	return int(n), nil
}

func rawWrite(fd int, b []byte) (int, error) {
	n, _, e := unix.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	if e != 0 {
		return -1, e
	}
	return int(n), nil
}

func rawAccept(fd int) (int, error) {
	nfd, _, e := unix.RawSyscall6(unix.SYS_ACCEPT4, uintptr(fd), 0, 0, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0, 0)
	if e != 0 {
		return -1, e
	}
	return int(nfd), nil
}
