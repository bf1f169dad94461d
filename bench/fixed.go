//go:build linux

package bench

import (
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// fixedServer is a minimal HTTP/1.1 responder: one epoll loop on a locked,
// optionally pinned thread that answers every request (a head ending in an
// empty line; bodies are not expected) with the same bytes. It is the proxy
// scenario's backend and the fixed point the generator is measured against:
// it does nearly nothing per request, so what limits a run against it is the
// client.
type fixedServer struct {
	addr       string
	lfd        int
	epfd       int
	reply      []byte
	ring       []byte // ringCopies replies back to back, for pipelined answers
	closeAfter bool   // close each connection after its first answer

	requests atomic.Uint64
	stop     atomic.Bool
	done     chan struct{}
	conns    []fixedConn // by fd
}

// ringCopies is how many replies one write can carry; more pipelined
// requests are answered by several writes.
const ringCopies = 16

type fixedConn struct {
	open    bool
	match   int // bytes of "\r\n\r\n" matched at the end of the input so far
	pend    int // reply bytes not yet written
	wantOut bool
	replied bool
}

// fixedReply returns a complete response with the given status and body.
func fixedReply(status int, body []byte) []byte {
	r := fmt.Appendf(nil, "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n",
		status, statusText(status), len(body))
	return append(r, body...)
}

func statusText(code int) string {
	switch code {
	case 200:
		return "OK"
	case 404:
		return "Not Found"
	case 500:
		return "Internal Server Error"
	}
	return "Status " + strconv.Itoa(code)
}

// startFixedServer listens on addr ("127.0.0.1:0" for any port) and serves
// reply to every request until Close. cpu < 0 leaves its thread unpinned.
func startFixedServer(addr string, reply []byte, closeAfter bool, cpu int) (*fixedServer, error) {
	ta, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return nil, err
	}
	sa, family, err := sockaddrOf(ta)
	if err != nil {
		return nil, err
	}
	lfd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	unix.SetsockoptInt(lfd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	if err := unix.Bind(lfd, sa); err != nil {
		unix.Close(lfd)
		return nil, fmt.Errorf("bench: fixed server on %s: %w", addr, os.NewSyscallError("bind", err))
	}
	if err := unix.Listen(lfd, 4096); err != nil {
		unix.Close(lfd)
		return nil, os.NewSyscallError("listen", err)
	}
	got, err := unix.Getsockname(lfd)
	if err != nil {
		unix.Close(lfd)
		return nil, os.NewSyscallError("getsockname", err)
	}
	port := 0
	switch a := got.(type) {
	case *unix.SockaddrInet4:
		port = a.Port
	case *unix.SockaddrInet6:
		port = a.Port
	}
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		unix.Close(lfd)
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(lfd)}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, lfd, &ev); err != nil {
		unix.Close(lfd)
		unix.Close(epfd)
		return nil, os.NewSyscallError("epoll_ctl", err)
	}
	s := &fixedServer{
		addr:       net.JoinHostPort(ta.IP.String(), strconv.Itoa(port)),
		lfd:        lfd,
		epfd:       epfd,
		reply:      reply,
		closeAfter: closeAfter,
		done:       make(chan struct{}),
	}
	for i := 0; i < ringCopies; i++ {
		s.ring = append(s.ring, reply...)
	}
	pinned := make(chan error, 1)
	go s.serve(cpu, pinned)
	if err := <-pinned; err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Addr returns the "host:port" the server listens on.
func (s *fixedServer) Addr() string { return s.addr }

// Requests returns how many requests the server has read so far.
func (s *fixedServer) Requests() uint64 { return s.requests.Load() }

// Close stops the server and closes every connection; it waits for the loop
// to end (within its 50 ms tick).
func (s *fixedServer) Close() {
	if s.stop.Swap(true) {
		return
	}
	<-s.done
}

func (s *fixedServer) serve(cpu int, pinned chan<- error) {
	runtime.LockOSThread() // never unlocked: a pinned thread dies with the loop
	defer close(s.done)
	if cpu >= 0 {
		var set unix.CPUSet
		set.Set(cpu)
		if err := unix.SchedSetaffinity(0, &set); err != nil {
			pinned <- fmt.Errorf("bench: pin fixed server to CPU %d: %w", cpu, os.NewSyscallError("sched_setaffinity", err))
			return
		}
	}
	pinned <- nil
	defer func() {
		for fd := range s.conns {
			if s.conns[fd].open {
				unix.Close(fd)
			}
		}
		unix.Close(s.lfd)
		unix.Close(s.epfd)
	}()
	events := make([]unix.EpollEvent, maxEvents)
	buf := make([]byte, readBufSize)
	for !s.stop.Load() {
		n, err := unix.EpollWait(s.epfd, events, 50)
		if err != nil && err != unix.EINTR {
			return
		}
		for _, ev := range events[:max(n, 0)] {
			fd := int(ev.Fd)
			if fd == s.lfd {
				s.accept()
				continue
			}
			if fd >= len(s.conns) || !s.conns[fd].open {
				continue
			}
			if ev.Events&(unix.EPOLLIN|unix.EPOLLERR|unix.EPOLLHUP) != 0 {
				s.read(fd, buf)
			}
			if ev.Events&unix.EPOLLOUT != 0 && s.conns[fd].open {
				s.flush(fd)
			}
		}
	}
}

func (s *fixedServer) accept() {
	for {
		fd, _, err := unix.Accept4(s.lfd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		if err != nil {
			return // EAGAIN, or a transient error: the next event retries
		}
		unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
		for fd >= len(s.conns) {
			s.conns = append(s.conns, fixedConn{})
		}
		s.conns[fd] = fixedConn{open: true}
		ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}
		if unix.EpollCtl(s.epfd, unix.EPOLL_CTL_ADD, fd, &ev) != nil {
			s.drop(fd)
		}
	}
}

func (s *fixedServer) drop(fd int) {
	s.conns[fd].open = false
	unix.Close(fd)
}

func (s *fixedServer) read(fd int, buf []byte) {
	n, err := unix.Read(fd, buf)
	if err == unix.EAGAIN {
		return
	}
	if err != nil || n == 0 {
		s.drop(fd)
		return
	}
	c := &s.conns[fd]
	heads := 0
	m := c.match
	for _, ch := range buf[:n] {
		switch {
		case ch == '\r' && (m == 0 || m == 2):
			m++
		case ch == '\n' && (m == 1 || m == 3):
			m++
			if m == 4 {
				heads++
				m = 0
			}
		case ch == '\r':
			m = 1
		default:
			m = 0
		}
	}
	c.match = m
	if heads == 0 {
		return
	}
	s.requests.Add(uint64(heads))
	if s.closeAfter {
		heads = 1
	}
	c.pend += heads * len(s.reply)
	s.flush(fd)
}

// flush writes pending replies; the ring repeats the reply, so the unsent
// tail starts at a known offset in it.
func (s *fixedServer) flush(fd int) {
	c := &s.conns[fd]
	rl := len(s.reply)
	for c.pend > 0 {
		off := (rl - c.pend%rl) % rl
		n := min(c.pend, len(s.ring)-off)
		w, err := unix.Write(fd, s.ring[off:off+n])
		if err == unix.EAGAIN {
			break
		}
		if err != nil {
			s.drop(fd)
			return
		}
		c.pend -= w
	}
	if c.pend == 0 && s.closeAfter {
		s.drop(fd)
		return
	}
	if want := c.pend > 0; want != c.wantOut {
		c.wantOut = want
		ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}
		if want {
			ev.Events |= unix.EPOLLOUT
		}
		unix.EpollCtl(s.epfd, unix.EPOLL_CTL_MOD, fd, &ev)
	}
}

// waitPort polls a TCP connect to addr until it succeeds or timeout passes;
// exited, when not nil, is checked between attempts so a server that died
// fails fast.
func waitPort(addr string, timeout time.Duration, exited func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		if exited != nil {
			if xerr := exited(); xerr != nil {
				return xerr
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: nothing listens on %s after %v", ErrServerStart, addr, timeout)
		}
		time.Sleep(10 * time.Millisecond) // poll interval, not a wait for readiness
	}
}
