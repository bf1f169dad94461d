//go:build linux

package reactor

import (
	"time"

	"golang.org/x/sys/unix"
)

// Backend is the kernel interface of one Loop: a small table of operations
// that each backend fills in (nginx's ngx_event_actions_t is the model).
//
// The interface is completion-shaped: the loop asks for an operation and the
// backend reports when it is done. The epoll backend emulates a completion by
// doing the non-blocking syscall when the socket is ready; the io_uring
// backend hands the operation to the kernel. The connection state machine
// above the loop therefore never asks which backend runs it.
//
// Operations that may finish at once (Send, SendFile) report so with done:
// then no completion follows. Otherwise the backend later calls the
// connection's Handler (OnSendDone). Received bytes are delivered through
// Handler.OnRecv in a buffer the backend owns, valid only during the call.
//
// Every method runs on the loop's thread (the OS thread Loop.Run locked),
// except Wake, which any goroutine may call.
type Backend interface {
	// Name is "epoll" or "io_uring".
	Name() string

	// init binds the backend to its loop. It runs on the loop thread.
	init(l *Loop) error

	// listen starts accepting on the listening socket c. Accepted
	// sockets are handed to Loop.accepted.
	listen(c *Conn) error
	// unlisten stops accepting on c (drain); c is closed by the caller.
	unlisten(c *Conn)

	// attach registers a new connected (or connecting) socket.
	attach(c *Conn) error
	// startRecv asks for OnRecv calls until stopRecv; bytes that arrived
	// while receiving was stopped are delivered after startRecv.
	startRecv(c *Conn)
	// stopRecv pauses OnRecv calls (backpressure).
	stopRecv(c *Conn)
	// send writes all of b. done reports that it finished at once; else
	// OnSendDone follows, and b must stay untouched until then. done may
	// also mean that the backend took a copy of b it has not written yet
	// (io_uring, small sends): it then sets flagOutQueued on c until the
	// copy is written, and every later output of c (send, sendFile,
	// splice, a deferred ShutdownWrite) waits for it, as bytes written
	// into a socket buffer go out before those written after them.
	send(c *Conn, b []byte) (done bool, err error)
	// flushOut hands c's queued copy (flagOutQueued) to the kernel now:
	// the caller is about to make a system call on c's descriptor.
	flushOut(c *Conn)
	// sendFile writes n bytes of file from off, like sendfile(2).
	sendFile(c *Conn, file int, off int64, n int64) (done bool, err error)
	// splice starts the transfer c.sp, c being its destination (see
	// Conn.Splice); its end is reported by c's OnSendDone from the loop.
	splice(c *Conn)
	// spliceWait arranges for sp to run again (Loop.runSplice) when the
	// socket it blocked on is ready: flagReadReady of sp.src or
	// flagWriteReady of sp.dst was cleared by an EAGAIN.
	spliceWait(sp *splice)
	// kick serves c again from the loop soon: a transfer that spent its
	// budget or ended inside Splice.
	kick(c *Conn)
	// connect starts a non-blocking connect; OnConnect follows.
	connect(c *Conn, sa unix.Sockaddr) error
	// close forgets c and closes its socket; no callback for c follows.
	// A backend that still has output of c to write may keep the slot
	// (Loop.release comes later) and arm c's timer (closeLinger).
	close(c *Conn)
	// lingerExpired reports that the timer a close armed fired: output
	// still pending for c is given up.
	lingerExpired(c *Conn)

	// poll waits up to timeout for completions and dispatches them.
	poll(timeout time.Duration) error
	// wake makes a blocked poll return; safe from any goroutine.
	wake() error
	// shutdown releases the backend's kernel resources.
	shutdown()
}

// Handler receives a connection's completions. Its methods run on the
// loop's thread, one at a time; they may call any Conn method, including
// Close.
type Handler interface {
	// OnRecv delivers received bytes. data belongs to the backend and is
	// valid only until OnRecv returns: keep what is needed by copying.
	OnRecv(c *Conn, data []byte)
	// OnReadClosed reports the end of the input: err is nil for an
	// orderly EOF, else the read error.
	OnReadClosed(c *Conn, err error)
	// OnSendDone reports that the pending Send or SendFile finished.
	OnSendDone(c *Conn, err error)
	// OnConnect reports the result of Dial.
	OnConnect(c *Conn, err error)
	// OnTimeout reports that the deadline set with SetTimeout passed.
	OnTimeout(c *Conn)
}
