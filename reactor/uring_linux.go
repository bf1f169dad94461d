//go:build linux

package reactor

import (
	"errors"
	"os"
	"runtime"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/nproxy/nproxy/ring"
)

// uringBackend hands every operation to the kernel through one io_uring per
// loop (SINGLE_ISSUER|DEFER_TASKRUN, created on the loop's locked thread).
//
// One poll is one io_uring_enter: it submits everything the last dispatch
// prepared and waits for completions (GETEVENTS with an EXT_ARG timeout);
// the CQEs are then copied out in batches, the CQ head is advanced once per
// batch, and they are dispatched from the copy.
//
// Operations, by user_data op code (user_data = index<<32 | gen<<8 | op,
// never a pointer; the 24-bit generation catches a completion for a
// listener slot that was freed and reused):
//
//   - accept: one multishot ACCEPT per listener, re-armed when a CQE comes
//     without CQEFMore. At worker_connections the multishot is cancelled and
//     the descriptors it still produced wait in the listener's stash, handed
//     to the loop in order when accepting resumes (listen is called again by
//     Loop.resumeAccept), so no accepted connection is dropped.
//   - recv: one multishot RECV per receiving connection, its buffers picked
//     by the kernel from the loop's provided-buffer ring and given back
//     right after OnRecv returns, so an idle connection holds no buffer.
//     StopRecv is lazy: nothing is submitted until data arrives for a
//     stopped connection; then the bytes are copied into a per-connection
//     stash (a Loop buffer) and the multishot is cancelled. StartRecv
//     delivers the stash (from the next poll, never from inside the call)
//     before anything newer, then re-arms. OnRecv is never called while
//     receiving is stopped, as with epoll. Each multishot ends by itself
//     after recvLimit bytes and is re-armed, and a connection's receives
//     are single-shot after its first StopRecv, so what a connection
//     whose handler pushes back takes from its socket stays bounded even
//     when the cancel misses (stopRecv).
//   - send: SEND (MSG_WAITALL|MSG_NOSIGNAL). A send of at most
//     sendCopyMax bytes is copied into a Loop buffer and reported done at
//     once (flagOutQueued marks the copy until its CQE returns the buffer),
//     so that the caller goes on as it does after a write(2) that fit the
//     socket buffer: no send_timeout to arm, no OnSendDone to wait for,
//     and the SEND still goes out in the poll's enter with everything else
//     of the turn. A send while a copy is queued, a sendfile or a splice
//     waits for the copy's CQE (bytes leave in the order they were given),
//     and so does a ShutdownWrite; Conn.Fd submits the copy before the
//     caller's own system call on the descriptor. A longer send goes out
//     from the caller's buffer: a short send resubmits the rest, and
//     OnSendDone reports the end. Buffers on the Go heap (cached static
//     bodies) are pinned with the connection's runtime.Pinner until the
//     final CQE; off-heap Loop buffers make the Pin a no-op. Measured: see
//     BENCHMARKS.md, "io_uring acceleration (second round)"; a write(2)
//     tried first, and a non-sleeping enter to flush the sends before the
//     wait, both measured slower than the SEND in the poll's enter.
//   - sendfile: io_uring has no sendfile opcode. SPLICE file→pipe→socket is
//     always punted to io-wq worker threads by the kernel (splice has no
//     non-blocking issue path), which costs a thread hop per chunk and one
//     blocked kernel thread per slow client. Instead sendfile(2) runs here,
//     non-blocking, until EAGAIN or a 8 MiB budget, and a one-shot POLL_ADD
//     (POLLOUT) waits for room: the epoll backend's cost, with the wait
//     batched into the ring.
//   - splice (Conn.Splice): the same way as sendfile, for the same reason:
//     splice(2) calls here, non-blocking, and a one-shot POLL_ADD on the
//     side that blocked (POLLOUT on the destination, POLLIN on the source);
//     see uring_splice_linux.go.
//   - connect: CONNECT with the sockaddr in ring-owned memory.
//   - wake: a READ of the eventfd into an off-heap word, re-armed per wake.
//
// Close protocol: every request still in flight is cancelled by user_data,
// then the socket is closed with an OP_CLOSE queued behind the cancels
// (all with CQE_SKIP_SUCCESS: only a failure posts a CQE, which is
// ignored). A close(2) at once would be wrong: SQEs prepared earlier in
// the same turn name the descriptor by number, and an accept of the same
// turn could get that number before they are submitted. The kernel holds
// its own file references for requests in flight, so the socket itself
// goes away when the last one completes. Loop.release frees the slot when the
// last of them has posted its final CQE (c.inflight counts SQEs whose final
// CQE is pending). Completions for a closing connection are swallowed, its
// recv buffers recycled. If a SEND of the caller's buffer is in flight,
// the socket is shut down for writing first, so that the kernel can never
// copy from the caller's buffer after Close returns (the caller may reuse
// it at once). A queued copy (flagOutQueued) is the backend's own and was
// reported sent: the close goes behind it and it goes on, as bytes in a
// socket buffer outlive close(2), so a response sent just before Close
// (Connection: close) leaves whole even to a slow reader; the slot waits
// for its CQE, at most closeLinger (then it is cancelled).
type uringBackend struct {
	l     *Loop
	r     *ring.Ring
	br    *ring.BufRing
	cqes  []ring.CQE
	later []ring.CQE // completions reaped early to make room in the SQ path
	slots []*uslot   // backend state by connection index
	work  []uint64   // tags of connections (or listeners) with work queued
	doing []uint64
	evfd  int
	wakeW []byte // off-heap word the eventfd READ fills
	dead  bool   // shutdown ran
	// noRecvLimit: the kernel refused RecvMultishotLimit (see onRecv).
	noRecvLimit bool
}

// recvLimit is how many bytes one multishot receive takes before it ends
// and is armed again (stopRecv says why): a few requests' worth on a
// client connection, a few buffers of a large body, re-armed at the cost
// of one SQE.
const recvLimit = 32 << 10

var _ Backend = (*uringBackend)(nil)

// uslot is the per-connection state that does not fit in Conn.bk.
type uslot struct {
	stash    []byte // input that arrived while receiving was stopped
	readEnd  bool   // EOF or read error seen while stopped
	readErr  error
	pin      runtime.Pinner
	pinned   bool
	next     []byte // a send that waits for the queued copy (flagOutQueued)
	accepted []int  // listener: descriptors accepted at the limit
}

// Conn.bk bits of the io_uring backend.
const (
	ukRecvArmed    = 1 << iota // a multishot RECV is in flight
	ukRecvCancel               // and its cancel was submitted
	ukSend                     // a SEND is in flight
	ukPollOut                  // a POLL_ADD for sendfile is in flight
	ukConnect                  // a CONNECT is in flight
	ukAcceptArmed              // listener: a multishot ACCEPT is in flight
	ukAcceptCancel             // listener: and its cancel was submitted
	ukListening                // listener: between listen and unlisten
	ukQueued                   // in the work list
	ukPollIn                   // a POLL_ADD (POLLIN) for a splice source is in flight
	ukRecvOnce                 // receives are single-shot (see stopRecv)
	ukRecvSingle               // the RECV in flight is single-shot
	ukDialed                   // a connection we dialed (an upstream)
)

// user_data op codes.
const (
	opWake uint8 = iota + 1
	opAccept
	opRecv
	opSend
	opPollOut
	opConnect
	opCancel
	opPollIn
	opSendCopy
)

const (
	uringGenMask = 1<<24 - 1
	// wakeUserData names the eventfd READ; index ^0 is never a slot.
	wakeUserData = uint64(0xffffffff)<<32 | uint64(opWake)

	// uringEntries is the SQ size. A dispatch turn prepares about one SQE
	// per completion; when the SQ fills, it is submitted and refilled.
	uringEntries = 1024
	// uringCQEntries leaves room for multishot receives, which post many
	// CQEs per SQE, without overflowing into the kernel's slower list.
	uringCQEntries = 8 * uringEntries
	// recvBufs × recvBufSize is the provided-buffer ring: 8 MiB per loop
	// at most. Only recvBufsInitial buffers are published at start; each
	// ENOBUFS doubles the published set (see onRecv), so a quiet worker
	// touches 1 MiB of it, not 8 (the idle-connection benchmark counts
	// every touched page).
	// A buffer is held only while OnRecv runs, so the count bounds the
	// receive CQEs of one enter (beyond it a multishot ends with ENOBUFS
	// and is re-armed once the batch is recycled); 1024 covers a batch
	// from a thousand active connections. 8 KiB holds nearly every
	// request head in one CQE (nginx's large_client_header_buffers is
	// 8k) while a bulk upload still moves 8 KiB per CQE.
	recvBufs        = 1024
	recvBufsInitial = 128
	recvBufSize     = 8 << 10
	recvGroup       = 1
	// cqeBatch is how many CQEs are copied out per CQ head advance.
	cqeBatch = 512
	// sendfileBudget bounds the sendfile(2) chunks of one turn (8 MiB).
	sendfileBudget = 8
	// sendCopyMax is the largest send copied into a Loop buffer and
	// reported done at once (a small buffer: a response head with a small
	// body, a proxied request). A copy costs a memmove; waiting for the
	// SEND's completion costs the caller a send timer armed and disarmed
	// and a second handler call per send.
	sendCopyMax = SmallBuf
)

var (
	uringProbeOnce sync.Once
	uringProbeErr  error
)

// NewUring returns the io_uring backend, or the reason this process cannot
// run it (io_uring disabled by sysctl or seccomp, an opcode missing...).
// The probe sets up and closes a small ring once per process; the loop's
// own ring is created by Loop.Run on the loop's thread.
func NewUring() (Backend, error) {
	uringProbeOnce.Do(func() { uringProbeErr = ring.Available() })
	if uringProbeErr != nil {
		return nil, uringProbeErr
	}
	return &uringBackend{evfd: -1}, nil
}

func init() { newUring = NewUring }

func (u *uringBackend) Name() string { return "io_uring" }

func (u *uringBackend) init(l *Loop) error {
	u.l = l
	r, err := ring.New(ring.Options{
		Entries:   uringEntries,
		CQEntries: uringCQEntries,
		TaskRun:   ring.DeferTaskrun,
		SubmitAll: true,
	})
	if err != nil {
		return err
	}
	u.r = r
	// Each enter names the ring by index, skipping the descriptor lookup
	// (5.18; an older kernel refuses and the ring works as it is).
	r.RegisterRingFd()
	// Incremental consumption (6.12) packs the small receives of many
	// connections into one buffer instead of one buffer each; an older
	// kernel gets the plain ring.
	u.br, err = r.NewBufRingIncremental(recvGroup, recvBufs, recvBufSize, recvBufsInitial)
	if err != nil {
		u.br, err = r.NewBufRingPartial(recvGroup, recvBufs, recvBufSize, recvBufsInitial)
	}
	if err != nil {
		r.Close()
		return err
	}
	// A blocking eventfd: io_uring answers EAGAIN instead of waiting for a
	// READ on an O_NONBLOCK file that does not support nowait reads.
	if u.evfd, err = unix.Eventfd(0, unix.EFD_CLOEXEC); err != nil {
		r.Close()
		return os.NewSyscallError("eventfd", err)
	}
	if u.wakeW, err = unix.Mmap(-1, 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS); err != nil {
		unix.Close(u.evfd)
		r.Close()
		return os.NewSyscallError("mmap", err)
	}
	u.cqes = make([]ring.CQE, cqeBatch)
	u.armWake()
	return nil
}

func (u *uringBackend) shutdown() {
	if u.dead {
		return
	}
	u.dead = true
	for _, s := range u.slots {
		if s == nil {
			continue
		}
		for _, fd := range s.accepted {
			unix.Close(fd)
		}
		s.accepted = nil
	}
	// Closing the ring cancels what is still in flight; only then may
	// pinned buffers move. The OP_CLOSEs of the connections Run closed
	// on its way out are still in the SQ: submit them first.
	if u.r != nil {
		u.r.Submit()
		u.r.Close()
	}
	for _, s := range u.slots {
		if s != nil && s.pinned {
			s.pin.Unpin()
			s.pinned = false
		}
	}
	if u.evfd >= 0 {
		unix.Close(u.evfd)
	}
	if u.wakeW != nil {
		unix.Munmap(u.wakeW)
		u.wakeW = nil
	}
}

func (u *uringBackend) wake() error {
	one := uint64(1)
	_, err := unix.Write(u.evfd, (*[8]byte)(unsafe.Pointer(&one))[:])
	if err != nil && err != unix.EAGAIN {
		return os.NewSyscallError("write", err)
	}
	return nil
}

func (u *uringBackend) armWake() {
	s := u.sqe()
	s.Read(u.evfd, u.wakeW[:8], ^uint64(0))
	s.SetUserData(wakeUserData)
}

// userData tags an operation of c.
func userData(c *Conn, op uint8) uint64 {
	return uint64(c.idx)<<32 | uint64(c.gen&uringGenMask)<<8 | uint64(op)
}

// peek returns c's side state if it has any, without creating it: most
// connections never need one (an idle connection must stay small).
func (u *uringBackend) peek(c *Conn) *uslot {
	if int(c.idx) < len(u.slots) {
		return u.slots[c.idx]
	}
	return nil
}

func (u *uringBackend) slot(c *Conn) *uslot {
	for int(c.idx) >= len(u.slots) {
		u.slots = append(u.slots, nil)
	}
	s := u.slots[c.idx]
	if s == nil {
		s = new(uslot)
		u.slots[c.idx] = s
	}
	return s
}

// sqe returns a free SQE. When the SQ is full it submits what is queued
// and retries; if the kernel refuses more (ErrBusy), completions are moved
// out of the CQ into u.later, dispatched by the next poll.
func (u *uringBackend) sqe() *ring.SQE {
	for {
		if s := u.r.GetSQE(); s != nil {
			return s
		}
		if _, err := u.r.Submit(); err != nil {
			u.r.SubmitAndWait(0, 0)
			var tmp [64]ring.CQE // u.cqes may be the batch being dispatched
			for {
				n := u.r.PeekCQEs(tmp[:])
				if n == 0 {
					break
				}
				u.later = append(u.later, tmp[:n]...)
				u.r.CQAdvance(n)
			}
		}
	}
}

// cancel submits the cancellation of c's operation op; only a failed
// cancel posts a CQE (ignored by dispatch).
func (u *uringBackend) cancel(c *Conn, op uint8) {
	s := u.sqe()
	s.AsyncCancel(userData(c, op), 0)
	s.SkipSuccess()
	s.SetUserData(userData(c, opCancel))
}

// queue puts c on the work list served at the start of the next poll.
func (u *uringBackend) queue(c *Conn) {
	if c.bk&ukQueued == 0 {
		c.bk |= ukQueued
		u.work = append(u.work, tagOf(c))
	}
}

func (u *uringBackend) listen(c *Conn) error {
	c.bk |= ukListening
	if s := u.slot(c); len(s.accepted) > 0 {
		u.queue(c) // hand the stash out from the loop, not from here
		return nil
	}
	u.armAccept(c)
	return nil
}

func (u *uringBackend) armAccept(c *Conn) {
	if c.bk&ukAcceptArmed != 0 || c.bk&ukListening == 0 {
		return
	}
	s := u.sqe()
	s.AcceptMultishot(int(c.fd), unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
	s.SetUserData(userData(c, opAccept))
	c.bk |= ukAcceptArmed
}

func (u *uringBackend) unlisten(c *Conn) {
	// Every listener's accept is cancelled at the first call (the loop
	// unlistens them all in a row), so that the task work run below
	// cannot complete an accept of a listener not yet unlistened: its
	// CQE would find no listener and close the connection it carries.
	for _, ln := range u.l.listeners {
		if ln.bk&(ukAcceptArmed|ukAcceptCancel) == ukAcceptArmed {
			u.cancel(ln, opAccept)
			ln.bk |= ukAcceptCancel
		}
	}
	if c.bk&(ukAcceptArmed|ukAcceptCancel) == ukAcceptArmed {
		u.cancel(c, opAccept)
	}
	c.bk = 0 // later accept CQEs find no listener and close what they carry
	// The loop closes the listener with close(2) after this: hand the
	// kernel every SQE that names it by number first (drain is rare).
	//
	// And run the task work the cancels queued (GETEVENTS, no wait): with
	// DEFER_TASKRUN an accept's poll entry leaves the socket's wait queue
	// only then. Until it does, the entry still takes wake-ups, and accept
	// polls wait exclusively: a connection arriving in that window wakes
	// this ring, which no longer accepts, and no other waiter, so it
	// stays queued until the next connection comes. The socket is shared
	// with the worker that replaces this one (the same slot's socket on a
	// reload; every worker's, under socket activation), whose accept must
	// get those wake-ups; what arrived before the entry left is taken by
	// the drain's last sweep (server.acceptQueued), which runs after this.
	u.r.SubmitAndWait(0, 0)
	s := u.slot(c)
	for _, fd := range s.accepted {
		unix.Close(fd)
	}
	s.accepted = s.accepted[:0]
}

func (u *uringBackend) attach(c *Conn) error {
	if s := u.peek(c); s != nil {
		s.stash, s.readEnd, s.readErr = nil, false, nil
	}
	return nil
}

func (u *uringBackend) send(c *Conn, b []byte) (bool, error) {
	if len(b) == 0 {
		return true, nil
	}
	if c.flags&flagOutQueued != 0 {
		// A copy is still queued: b goes out after it (onSendCopy).
		s := u.slot(c)
		u.pin(c, s, b)
		s.next = b
		c.flags |= flagSending
		return false, nil
	}
	if len(b) <= sendCopyMax {
		c.out = append(u.l.GetBuf(len(b)), b...)
		c.flags |= flagOutQueued
		s := u.sqe()
		s.Send(int(c.fd), c.out, unix.MSG_WAITALL|unix.MSG_NOSIGNAL)
		s.SetUserData(userData(c, opSendCopy))
		c.inflight++
		return true, nil
	}
	u.pin(c, nil, b)
	c.out = b
	c.flags |= flagSending
	u.submitSend(c)
	return false, nil
}

// pin keeps b in place until the send of it completes: the loop's pooled
// buffers are off-heap already; anything else (a static file cached on
// the Go heap) is pinned with the connection's Pinner. s is c's side
// state, or nil to look it up only when needed.
func (u *uringBackend) pin(c *Conn, s *uslot, b []byte) {
	if u.l.bufs.owns(unsafe.SliceData(b)) {
		return
	}
	if s == nil {
		s = u.slot(c)
	}
	s.pin.Pin(unsafe.SliceData(b))
	s.pinned = true
}

// flushOut submits what the ring holds, c's queued copy among it.
func (u *uringBackend) flushOut(c *Conn) { u.r.Submit() }

func (u *uringBackend) submitSend(c *Conn) {
	s := u.sqe()
	s.Send(int(c.fd), c.out, unix.MSG_WAITALL|unix.MSG_NOSIGNAL)
	s.SetUserData(userData(c, opSend))
	c.bk |= ukSend
	c.inflight++
}

func (u *uringBackend) sendFile(c *Conn, file int, off, n int64) (bool, error) {
	c.fileFd, c.fileOff, c.fileN = int32(file), off, n
	c.flags |= flagSending
	if c.flags&flagOutQueued != 0 {
		return false, nil // started by onSendCopy, behind the copy
	}
	done, err := u.sendFileMore(c)
	if done || err != nil {
		c.flags &^= flagSending
		c.fileFd = -1
		return done, err
	}
	u.armPollOut(c)
	return false, nil
}

// sendFileMore continues a file transfer with non-blocking sendfile(2)
// until it ends, the socket is full or the turn's budget is spent.
func (u *uringBackend) sendFileMore(c *Conn) (bool, error) {
	for i := 0; i < sendfileBudget && c.fileN > 0; i++ {
		n, err := unix.Sendfile(int(c.fd), int(c.fileFd), &c.fileOff, int(min(c.fileN, sendfileChunk)))
		if n > 0 {
			c.fileN -= int64(n)
		}
		if err == unix.EAGAIN {
			return false, nil
		}
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return false, os.NewSyscallError("sendfile", err)
		}
		if n == 0 {
			return false, errFileShrunk
		}
	}
	return c.fileN == 0, nil
}

// armPollOut waits for room in c's socket. One poll at most is in flight
// per conn: onPollOut continues whatever output is pending when it fires
// (a sendfile, a splice), so a poll left over from a transfer that ended
// serves the next one.
func (u *uringBackend) armPollOut(c *Conn) {
	if c.bk&ukPollOut != 0 {
		return
	}
	s := u.sqe()
	s.PollAdd(int(c.fd), unix.POLLOUT)
	s.SetUserData(userData(c, opPollOut))
	c.bk |= ukPollOut
	c.inflight++
}

func (u *uringBackend) connect(c *Conn, sa unix.Sockaddr) error {
	s := u.sqe()
	if err := u.r.PrepConnect(s, int(c.fd), sa); err != nil {
		s.Nop() // the SQE is taken: make it harmless
		s.SetUserData(userData(c, opCancel))
		return err
	}
	s.SetUserData(userData(c, opConnect))
	c.bk |= ukConnect | ukDialed
	c.inflight++
	return nil
}

func (u *uringBackend) close(c *Conn) {
	if s := u.peek(c); s != nil {
		if s.stash != nil {
			u.l.PutBuf(s.stash)
			s.stash = nil
		}
		s.readEnd, s.readErr = false, nil
		s.next = nil // a send waiting for the copy: abandoned, never read
	}
	if c.bk&ukSend != 0 {
		// The caller may reuse the buffer as soon as Close returns; a
		// send retried after this fails with EPIPE instead of reading it.
		unix.Shutdown(int(c.fd), unix.SHUT_WR)
		u.cancel(c, opSend)
	}
	if c.flags&flagOutQueued != 0 {
		// The copy goes on: it is what the caller was told was sent.
		// A peer that reads nothing for closeLinger loses it
		// (lingerExpired), so that it cannot hold the slot longer.
		u.l.wheel.set(c, closeLinger)
	}
	if c.bk&(ukRecvArmed|ukRecvCancel) == ukRecvArmed {
		u.cancel(c, opRecv)
		c.bk |= ukRecvCancel
	}
	if c.bk&ukPollOut != 0 {
		u.cancel(c, opPollOut)
	}
	if c.bk&ukPollIn != 0 {
		u.cancel(c, opPollIn)
	}
	if c.bk&ukConnect != 0 {
		u.cancel(c, opConnect)
	}
	// OP_CLOSE, not close(2): SQEs prepared earlier in this turn name
	// the descriptor by number and are consumed in order before it, so
	// the number cannot be reused (by an accept of this turn) under them.
	s2 := u.sqe()
	s2.Close(int(c.fd))
	s2.SkipSuccess()
	s2.SetUserData(userData(c, opCancel))
	u.maybeRelease(c)
}

// maybeRelease frees a closing connection once no completion can name it.
func (u *uringBackend) maybeRelease(c *Conn) {
	if c.flags&flagClosing == 0 || c.inflight != 0 {
		return
	}
	if s := u.peek(c); s != nil && s.pinned {
		s.pin.Unpin()
		s.pinned = false
	}
	c.bk = 0
	u.l.release(c)
}

func (u *uringBackend) poll(timeout time.Duration) error {
	u.serveWork()
	if len(u.work) > 0 || len(u.later) > 0 {
		timeout = 0
	}
	var err error
	switch {
	case timeout <= 0:
		err = u.r.SubmitAndWait(0, 0)
	default:
		// A wait the runtime does not see first (see rawWait): under
		// load the next completion comes well within it. Only a quiet
		// loop goes on to the wait that lets the runtime hand the P over.
		raw := min(timeout, rawWait)
		err = u.r.SubmitAndWaitRaw(1, raw)
		if err == nil && timeout > raw && u.r.CQReady() == 0 {
			err = u.r.SubmitAndWait(1, timeout-raw)
		}
	}
	if err != nil && !errors.Is(err, ring.ErrBusy) {
		return err
	}
	if len(u.later) > 0 {
		later := u.later
		u.later = nil
		for i := range later {
			u.dispatch(&later[i])
		}
	}
	// Completions are copied out and the CQ head advanced before any is
	// handled, so handlers may prepare SQEs (even submit) freely. A few
	// rounds at most: with DEFER_TASKRUN nothing new is posted until the
	// next enter, so a short batch means the CQ is empty.
	for round := 0; round < 4; round++ {
		n := u.r.PeekCQEs(u.cqes)
		if n == 0 {
			break
		}
		u.r.CQAdvance(n)
		for i := range u.cqes[:n] {
			u.dispatch(&u.cqes[i])
		}
		u.br.Advance(recvBufs) // publish the buffers recycled by this batch
		if n < len(u.cqes) {
			break
		}
	}
	return nil
}

// lingerExpired gives up the queued copy of a closed connection whose
// peer read nothing for closeLinger.
func (u *uringBackend) lingerExpired(c *Conn) {
	if c.flags&flagOutQueued != 0 {
		u.cancel(c, opSendCopy)
	}
}

// serveWork delivers stashed input of connections that resumed receiving
// and hands out descriptors stashed by listeners that resumed accepting.
func (u *uringBackend) serveWork() {
	if len(u.work) == 0 {
		return
	}
	u.doing, u.work = u.work, u.doing[:0]
	for _, t := range u.doing {
		c := u.l.lookup(uint32(t>>32), uint32(t))
		if c == nil {
			continue
		}
		c.bk &^= ukQueued
		if c.flags&flagListener != 0 {
			u.resumeAccepting(c)
			continue
		}
		if c.splicingTo() && c.flags&flagClosing == 0 {
			gen := c.gen
			u.runSplice(c.sp, true)
			if c.gen != gen || !c.Open() {
				continue
			}
		}
		if c.flags&flagRecv != 0 && c.flags&flagClosing == 0 {
			u.deliver(c)
		}
	}
}

func (u *uringBackend) resumeAccepting(c *Conn) {
	if c.bk&ukListening == 0 {
		return
	}
	gen := c.gen
	for {
		s := u.slot(c)
		if len(s.accepted) == 0 {
			break
		}
		if !u.l.canAccept() {
			return
		}
		fd := s.accepted[0]
		s.accepted = append(s.accepted[:0], s.accepted[1:]...)
		u.l.accepted(c, fd)
		if c.gen != gen || c.bk&ukListening == 0 {
			return
		}
	}
	u.armAccept(c)
}

func (u *uringBackend) dispatch(cqe *ring.CQE) {
	ud := cqe.UserData
	op := uint8(ud)
	switch op {
	case opWake:
		if !u.dead {
			u.armWake()
		}
		return
	case opCancel:
		u.cancelFailed(ud, cqe.Res)
		return
	}
	var c *Conn
	if idx := uint32(ud >> 32); int(idx) < len(u.l.conns) {
		c = u.l.conns[idx]
		if c.gen&uringGenMask != uint32(ud>>8)&uringGenMask || c.flags&flagOpen == 0 {
			c = nil
		}
	}
	switch op {
	case opAccept:
		u.onAccept(c, cqe)
	case opRecv:
		u.onRecv(c, cqe)
		if c != nil && c.splicingFrom() && c.bk&ukRecvArmed == 0 {
			// The receive cancelled by Splice has ended: its last bytes
			// are stashed, and the transfer can start after them.
			u.runSplice(c.sp, true)
		}
	case opPollIn:
		u.onPollIn(c, cqe)
	case opSend:
		u.onSend(c, cqe)
	case opSendCopy:
		u.onSendCopy(c, cqe)
	case opPollOut:
		u.onPollOut(c, cqe)
	case opConnect:
		u.onConnect(c, cqe)
	}
}

func (u *uringBackend) onAccept(c *Conn, cqe *ring.CQE) {
	res := cqe.Res
	if c == nil || c.flags&flagListener == 0 || c.bk&ukListening == 0 {
		if res >= 0 {
			unix.Close(int(res)) // the listener is gone
		}
		return
	}
	if !cqe.More() {
		c.bk &^= ukAcceptArmed | ukAcceptCancel
	}
	gen := c.gen
	s := u.slot(c)
	switch {
	case res >= 0:
		if len(s.accepted) == 0 && u.l.canAccept() {
			u.l.accepted(c, int(res))
		} else {
			s.accepted = append(s.accepted, int(res))
		}
	case res != -int32(unix.ECANCELED):
		u.l.acceptFailed(os.NewSyscallError("accept4", unix.Errno(-res)))
	}
	if c.gen != gen || c.bk&ukListening == 0 {
		return
	}
	switch {
	case u.l.acceptPaused || len(u.slot(c).accepted) > 0:
		if c.bk&(ukAcceptArmed|ukAcceptCancel) == ukAcceptArmed {
			u.cancel(c, opAccept)
			c.bk |= ukAcceptCancel
		}
	default:
		u.armAccept(c)
	}
}

func (u *uringBackend) onSend(c *Conn, cqe *ring.CQE) {
	if c == nil {
		return
	}
	c.bk &^= ukSend
	c.inflight--
	if c.flags&flagClosing != 0 {
		u.maybeRelease(c)
		return
	}
	res := cqe.Res
	var err error
	switch {
	case res < 0:
		err = os.NewSyscallError("send", unix.Errno(-res))
	case int(res) < len(c.out) && res > 0:
		c.out = c.out[res:]
		u.submitSend(c)
		return
	case int(res) < len(c.out):
		err = os.NewSyscallError("send", unix.EPIPE)
	}
	u.finishSend(c, err)
}

// onSendCopy ends a queued copy: its buffer goes back to the pool, and the
// output that waited for it starts.
func (u *uringBackend) onSendCopy(c *Conn, cqe *ring.CQE) {
	if c == nil {
		return // cannot happen: c.inflight keeps the slot until this CQE
	}
	c.inflight--
	c.flags &^= flagOutQueued
	n := len(c.out)
	u.l.PutBuf(c.out)
	c.out = nil
	if c.flags&flagClosing != 0 {
		u.maybeRelease(c)
		return
	}
	var err error
	switch res := cqe.Res; {
	case res < 0:
		err = os.NewSyscallError("send", unix.Errno(-res))
	case int(res) < n:
		// MSG_WAITALL: io_uring retries a short send itself, so a short
		// result means the rest failed.
		err = os.NewSyscallError("send", unix.EPIPE)
	}
	if c.flags&flagSending == 0 {
		if err != nil {
			// The caller was told the bytes were sent: the input side
			// ends, so that it learns of the failure from OnReadClosed.
			unix.Shutdown(int(c.fd), unix.SHUT_RDWR)
		} else if c.flags&flagShutWrite != 0 {
			c.shutdownWrite()
		}
		return
	}
	s := u.peek(c)
	switch {
	case c.splicingTo():
		if err != nil {
			c.sp.fail(err) // reported by the transfer's end, from here
		}
		u.runSplice(c.sp, true)
	case err != nil:
		if s != nil {
			s.next = nil
		}
		u.finishSend(c, err)
	case s != nil && s.next != nil:
		c.out, s.next = s.next, nil
		u.submitSend(c)
	case c.fileFd >= 0:
		done, err := u.sendFileMore(c)
		if !done && err == nil {
			u.armPollOut(c)
			return
		}
		u.finishSend(c, err)
	}
}

func (u *uringBackend) finishSend(c *Conn, err error) {
	c.out, c.fileFd = nil, -1
	if s := u.peek(c); s != nil && s.pinned {
		s.pin.Unpin()
		s.pinned = false
	}
	c.outputDone()
	c.H.OnSendDone(c, err)
}

func (u *uringBackend) onPollOut(c *Conn, cqe *ring.CQE) {
	if c == nil {
		return
	}
	c.bk &^= ukPollOut
	c.inflight--
	if c.flags&flagClosing != 0 {
		u.maybeRelease(c)
		return
	}
	if c.splicingTo() {
		// An error shows in the splice(2) that follows.
		c.flags |= flagWriteReady
		u.runSplice(c.sp, true)
		return
	}
	if c.flags&flagSending == 0 || c.fileFd < 0 {
		return // left over from a transfer that ended: nothing waits
	}
	if cqe.Res < 0 {
		u.finishSend(c, os.NewSyscallError("poll", unix.Errno(-cqe.Res)))
		return
	}
	done, err := u.sendFileMore(c)
	if !done && err == nil {
		u.armPollOut(c)
		return
	}
	u.finishSend(c, err)
}

func (u *uringBackend) onConnect(c *Conn, cqe *ring.CQE) {
	if c == nil {
		return
	}
	c.bk &^= ukConnect
	c.inflight--
	if c.flags&flagClosing != 0 {
		u.maybeRelease(c)
		return
	}
	c.flags &^= flagConnecting
	var err error
	if cqe.Res < 0 {
		err = os.NewSyscallError("connect", unix.Errno(-cqe.Res))
	}
	c.H.OnConnect(c, err)
}
