//go:build linux

package server

import (
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// A drain (reload, graceful stop) ends every connection without losing a
// request that reached the worker. The hazard is the keep-alive race: a
// client may send its next request at the very moment the server closes
// an idle connection, and that request is lost (the client sees an EOF or,
// when the request reached a closed socket, a reset). nginx's graceful
// shutdown closes idle keep-alive connections at once and has the race;
// so did nproxy. Here a draining worker ends a keep-alive connection only
//
//   - with a response that says Connection: close (the next response it
//     sends on a busy connection: serve sees s.draining), or
//   - after the connection stayed idle, with no byte received, for
//     drain_idle_grace: a request already on the wire when the drain began
//     has arrived by then,
//
// and always by lingering (shut the output down, read and drop input until
// the client's EOF or lingerTimeout), never with a close that unread input
// would turn into a reset. worker_shutdown_timeout, enforced by the
// caller, bounds the whole drain.
//
// The connections already queued on the worker's listening sockets when it
// stops accepting are accepted and served too (acceptQueued): the socket
// of a slot that a reload drops, of an address it removes, or any socket at
// a graceful stop closes with the worker's copy, and the kernel resets the
// connections still queued on a listening socket when it closes.

// Drain stops accepting (taking the connections already queued), then ends
// every connection as described above: busy ones with their next response
// (Connection: close), idle ones after drain_idle_grace. onIdle runs on
// the loop thread once no connection is left. Loop thread only.
func (s *Server) Drain(onIdle func()) {
	s.draining = true
	s.onIdle = onIdle
	queued := s.dupListeners()
	s.loop.StopAccepting()
	// Idle upstream keep-alive connections count as open connections:
	// close them, and make the proxies close the rest as they finish.
	for _, g := range s.groups {
		for _, vh := range g.vhosts {
			if vh.proxy != nil {
				vh.proxy.Close()
			}
		}
	}
	s.flushLogs()
	for _, c := range s.liveConns() {
		if c.h2 != nil {
			c.h2Drain()
		} else if c.idle() {
			c.rc.SetTimeout(c.drainGrace())
		}
	}
	s.acceptQueued(queued)
	s.checkIdle()
}

// listener is a listening socket the server accepts on, with the [server]
// blocks of its address.
type listener struct {
	fd int
	g  *addrGroup
}

// dupListeners returns a duplicate of every listening socket, so that
// what is queued on it can still be accepted after the loop stopped
// accepting and closed its own copies (which may have been the last).
func (s *Server) dupListeners() []listener {
	out := make([]listener, 0, len(s.listeners))
	for _, l := range s.listeners {
		fd, err := unix.FcntlInt(uintptr(l.fd), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			s.log.Warnf("drain: %v: connections queued on %s may be reset", os.NewSyscallError("fcntl", err), l.g.addr)
			continue
		}
		out = append(out, listener{fd: fd, g: l.g})
	}
	return out
}

// acceptQueued accepts, without waiting, every connection queued on the
// listening sockets ls, serves each like any other (its first response
// says Connection: close), and closes ls. Loop thread only.
func (s *Server) acceptQueued(ls []listener) {
	n := 0
	for _, l := range ls {
		for {
			fd, _, err := unix.Accept4(l.fd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
			if err == unix.EINTR || err == unix.ECONNABORTED {
				continue
			}
			if err != nil {
				if err != unix.EAGAIN {
					s.log.Warnf("drain: %s: %v", l.g.addr, os.NewSyscallError("accept4", err))
				}
				break
			}
			rc, err := s.loop.Attach(fd, nil)
			if err != nil {
				// Attach closed it: at worker_connections, as any accept.
				continue
			}
			s.accept(rc, l.g)
			n++
		}
		unix.Close(l.fd)
	}
	if n > 0 {
		s.log.Debugf("drain: took %d queued connections", n)
	}
}

// drainGrace is how long a draining connection may stay idle: the drain's
// idle grace, or the keep-alive timeout when that is shorter.
func (c *conn) drainGrace() time.Duration {
	return min(c.s.cfg.DrainIdleGrace, c.vh.cfg.KeepaliveTimeout)
}

// linger ends the connection without a reset: the output is shut down
// after what is queued, and input is read and dropped until the client's
// EOF or lingerTimeout (nginx's lingering close). Closing a socket whose
// receive queue holds unread bytes, or that receives bytes after the
// close, makes the kernel send a reset, and a reset can destroy the
// response the client has not read yet.
func (c *conn) linger() {
	c.state = stLinger
	c.shutdownWrite()
	c.rc.SetTimeout(lingerTimeout)
	c.rc.StartRecv()
}
