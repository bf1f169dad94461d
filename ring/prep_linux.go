//go:build linux && (amd64 || arm64)

package ring

// Prep helpers fill an SQE from Ring.GetSQE (which zeroes it). Each doc
// comment says which memory the kernel touches after submission and for how
// long; "off-heap" means memory from unix.Mmap/MmapPtr (or a BufRing), and
// "pinned" means a Go pointer pinned with runtime.Pinner until the stated
// event. user_data (SetUserData) is an integer, never a Go pointer.

import (
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

func bufAddr(b []byte) uint64 {
	return uint64(uintptr(unsafe.Pointer(unsafe.SliceData(b))))
}

func (s *SQE) prep(op Op, fd int, addr uint64, length uint32, off uint64) {
	s.Opcode = op
	s.Fd = int32(fd)
	s.Addr = addr
	s.Len = length
	s.Off = off
}

// SetUserData sets the value the completion carries back. Store integers
// (indexes, generation-tagged ids), never pointers.
func (s *SQE) SetUserData(v uint64) { s.UserData = v }

// SetFlags ORs IOSQE_* flags (SQEIOLink, SQEFixedFile, ...) into the SQE.
func (s *SQE) SetFlags(f uint8) { s.Flags |= f }

// Link makes the next SQE wait for this one (IOSQE_IO_LINK, 5.3); if this one
// fails or is short, the rest of the chain completes with -ECANCELED.
func (s *SQE) Link() { s.Flags |= SQEIOLink }

// FixedFile says Fd is an index into the registered file table
// (IOSQE_FIXED_FILE).
func (s *SQE) FixedFile() { s.Flags |= SQEFixedFile }

// SkipSuccess suppresses the CQE when the request succeeds
// (IOSQE_CQE_SKIP_SUCCESS, 5.17); failures still post one.
func (s *SQE) SkipSuccess() { s.Flags |= SQECQESkipSuccess }

// Async forces the request to io-wq instead of an inline non-blocking
// attempt (IOSQE_ASYNC, 5.6).
func (s *SQE) Async() { s.Flags |= SQEAsync }

// SetBufferGroup makes the kernel pick the receive buffer from provided-buffer
// group g (IOSQE_BUFFER_SELECT, 5.7); the CQE then carries CQEFBuffer and the
// buffer id.
func (s *SQE) SetBufferGroup(g uint16) {
	s.Flags |= SQEBufferSelect
	s.BufIndex = g
}

// SetFileIndex makes an accept (or socket/open) install a direct descriptor
// in registered-file slot instead of returning a normal fd (5.15); pass
// FileIndexAlloc to let the kernel pick a free slot (5.19), whose index is
// then the CQE result.
func (s *SQE) SetFileIndex(slot uint32) {
	if slot != FileIndexAlloc {
		slot++
	}
	s.SpliceFdIn = int32(slot)
}

// Nop prepares a request that does nothing and completes with res 0 (5.1).
func (s *SQE) Nop() { s.prep(OpNop, -1, 0, 0, 0) }

// Accept prepares accept4(fd, addr, addrLen, flags) (5.5). addr and addrLen
// may be nil; otherwise the kernel writes them at completion, so they must be
// off-heap or pinned until the CQE. res is the new fd.
func (s *SQE) Accept(fd int, addr *unix.RawSockaddrAny, addrLen *uint32, flags int) {
	s.prep(OpAccept, fd, uint64(uintptr(unsafe.Pointer(addr))), 0, uint64(uintptr(unsafe.Pointer(addrLen))))
	s.OpFlags = uint32(flags)
}

// AcceptMultishot prepares an accept that stays armed and posts one CQE per
// connection, each with CQEFMore while it remains armed (5.19). A CQE
// without CQEFMore ends it; re-arm then. No peer address is returned.
func (s *SQE) AcceptMultishot(fd int, flags int) {
	s.Accept(fd, nil, nil, flags)
	s.IoPrio |= acceptMultishot
}

// Recv prepares recv(fd, buf, flags) (5.6). buf must be off-heap or pinned
// until the CQE.
func (s *SQE) Recv(fd int, buf []byte, flags int) {
	s.prep(OpRecv, fd, bufAddr(buf), uint32(len(buf)), 0)
	s.OpFlags = uint32(flags)
}

// RecvMultishot prepares a receive that stays armed and takes one buffer
// from provided-buffer group for each CQE (6.0). Every CQE carries
// CQEFBuffer and the buffer id (CQE.BufferID) while res > 0; CQEFMore says the
// request is still armed. It ends with a CQE without CQEFMore: res 0 at EOF,
// -ENOBUFS when the group ran dry (refill the BufRing, then re-arm), or
// another error. No memory of the caller is referenced.
func (s *SQE) RecvMultishot(fd int, group uint16, flags int) {
	s.prep(OpRecv, fd, 0, 0, 0)
	s.OpFlags = uint32(flags)
	s.IoPrio |= recvMultishot
	s.SetBufferGroup(group)
}

// RecvMultishotLimit is RecvMultishot that ends by itself with the
// receive that brings the bytes it took to total or more (that CQE lacks
// CQEFMore, as after an error; the kernel does not cut the receive to
// the limit), so that at most total bytes and one buffer land after the
// caller stops wanting them even when a cancel cannot catch the request. The limit
// travels in sqe->optlen (the kernel's IORING_RECV_MSHOT_LIM; 6.18 has it);
// an older kernel refuses the SQE with EINVAL where it checks that the
// field is 0, and elsewhere receives without the limit.
func (s *SQE) RecvMultishotLimit(fd int, group uint16, flags int, total uint32) {
	s.RecvMultishot(fd, group, flags)
	s.SpliceFdIn = int32(total)
}

// RecvSelect prepares one receive into a buffer the kernel takes from
// provided-buffer group (5.7): a single CQE, carrying CQEFBuffer and the
// buffer id while res > 0, never CQEFMore. Unlike RecvMultishot it stops
// by itself: nothing arrives after its CQE. No memory of the caller is
// referenced.
func (s *SQE) RecvSelect(fd int, group uint16, flags int) {
	s.prep(OpRecv, fd, 0, 0, 0)
	s.OpFlags = uint32(flags)
	s.SetBufferGroup(group)
}

// Send prepares send(fd, buf, flags) (5.6). buf must be off-heap or pinned
// until the CQE. A short send is possible on stream sockets; resubmit the rest.
func (s *SQE) Send(fd int, buf []byte, flags int) {
	s.prep(OpSend, fd, bufAddr(buf), uint32(len(buf)), 0)
	s.OpFlags = uint32(flags)
}

// SendZC prepares a zero-copy send (6.0). It usually posts two CQEs with the
// same user_data: first the result (res = bytes sent) with CQEFMore set,
// then a notification with CQEFNotif once the kernel no longer reads buf.
// If the first CQE lacks CQEFMore (for example on error), no notification
// follows. buf must stay off-heap or pinned, and unmodified, until the
// notification. zcFlags may hold RecvSendPollFirst and SendZCReportUsage.
func (s *SQE) SendZC(fd int, buf []byte, flags int, zcFlags uint16) {
	s.prep(OpSendZC, fd, bufAddr(buf), uint32(len(buf)), 0)
	s.OpFlags = uint32(flags)
	s.IoPrio = zcFlags
}

// SendMsg prepares sendmsg(fd, msg, flags) (5.3). msg, its iovec array, the
// buffers they reference, and its name and control data must be off-heap or
// pinned until the CQE.
func (s *SQE) SendMsg(fd int, msg *unix.Msghdr, flags int) {
	s.prep(OpSendmsg, fd, uint64(uintptr(unsafe.Pointer(msg))), 1, 0)
	s.OpFlags = uint32(flags)
}

// Writev prepares pwritev(fd, iovecs, offset) (5.1); offset ^uint64(0) (-1)
// writes at the current position, as for sockets and pipes. The iovec array
// and the buffers it references must be off-heap or pinned until the CQE.
func (s *SQE) Writev(fd int, iovecs []unix.Iovec, offset uint64) {
	s.prep(OpWritev, fd, uint64(uintptr(unsafe.Pointer(unsafe.SliceData(iovecs)))), uint32(len(iovecs)), offset)
}

// Read prepares pread(fd, buf, offset) (5.6); offset ^uint64(0) reads at the
// current position (FeatRWCurPos). buf must be off-heap or pinned until the
// CQE.
func (s *SQE) Read(fd int, buf []byte, offset uint64) {
	s.prep(OpRead, fd, bufAddr(buf), uint32(len(buf)), offset)
}

// Splice prepares splice(fdIn, offIn, fdOut, offOut, n, flags) (5.7). One of
// the two descriptors must be a pipe. An offset of -1 means "no offset" and
// is required for pipes and sockets; a file offset is used as given and not
// advanced. flags are unix.SPLICE_F_* plus SpliceFdInFixed when fdIn is a
// registered-file index. No memory of the caller is referenced.
func (s *SQE) Splice(fdIn int, offIn int64, fdOut int, offOut int64, n uint32, flags uint32) {
	s.prep(OpSplice, fdOut, uint64(offIn), n, uint64(offOut))
	s.SpliceFdIn = int32(fdIn)
	s.OpFlags = flags
}

// Close prepares close(fd) (5.6).
func (s *SQE) Close(fd int) { s.prep(OpClose, fd, 0, 0, 0) }

// CloseDirect prepares the removal of registered-file slot (5.15).
func (s *SQE) CloseDirect(slot uint32) {
	s.prep(OpClose, 0, 0, 0, 0)
	s.SetFileIndex(slot)
}

// Shutdown prepares shutdown(fd, how) (5.11).
func (s *SQE) Shutdown(fd int, how int) { s.prep(OpShutdown, fd, 0, uint32(how), 0) }

// PollAdd prepares a one-shot poll for events (unix.POLLIN, ...) on fd
// (5.1). res is the ready event mask.
func (s *SQE) PollAdd(fd int, events uint32) {
	s.prep(OpPollAdd, fd, 0, 0, 0)
	s.OpFlags = events // poll32_events; little-endian layout assumed
}

// PollMultishot prepares a poll that stays armed and posts a CQE with
// CQEFMore each time fd becomes ready (5.13).
func (s *SQE) PollMultishot(fd int, events uint32) {
	s.PollAdd(fd, events)
	s.Len = pollAddMulti
}

// PollRemove prepares the removal of the poll request whose user_data is
// target (5.1).
func (s *SQE) PollRemove(target uint64) { s.prep(OpPollRemove, -1, target, 0, 0) }

// Connect prepares connect(fd, addr, addrLen) (5.5). addr must be off-heap or
// pinned until the CQE; Ring.PrepConnect manages that for you.
func (s *SQE) Connect(fd int, addr *unix.RawSockaddrAny, addrLen uint32) {
	s.prep(OpConnect, fd, uint64(uintptr(unsafe.Pointer(addr))), 0, uint64(addrLen))
}

// TimeoutAt prepares a timeout whose timespec ts the caller owns (5.4): it
// completes with -ETIME when the time passes, with 0 once count other
// completions were posted (count 0: pure timer), with -ECANCELED when
// removed. ts is read during submission; keep it off-heap or pinned until
// Submit returns. Ring.PrepTimeout manages that for you.
func (s *SQE) TimeoutAt(ts *Timespec, count uint32, flags uint32) {
	s.prep(OpTimeout, -1, uint64(uintptr(unsafe.Pointer(ts))), 1, uint64(count))
	s.OpFlags = flags
}

// LinkTimeoutAt prepares a timeout for the SQE before it, which must carry
// SQEIOLink (5.5). If ts passes first, that request is cancelled (-ECANCELED
// or -EINTR) and this one completes with -ETIME; otherwise this one completes
// with -ECANCELED. ts follows the rule of TimeoutAt.
func (s *SQE) LinkTimeoutAt(ts *Timespec, flags uint32) {
	s.prep(OpLinkTimeout, -1, uint64(uintptr(unsafe.Pointer(ts))), 1, 0)
	s.OpFlags = flags
}

// TimeoutRemove prepares the removal of the timeout whose user_data is target
// (5.5). res is 0, -ENOENT if not found, or -EALREADY if already firing.
func (s *SQE) TimeoutRemove(target uint64, flags uint32) {
	s.prep(OpTimeoutRemove, -1, target, 0, 0)
	s.OpFlags = flags
}

// AsyncCancel prepares the cancellation of the request whose user_data is
// target (5.5; CancelAll 5.19). res is 0 (or the count with CancelAll),
// -ENOENT, or -EALREADY; the cancelled request completes with -ECANCELED.
func (s *SQE) AsyncCancel(target uint64, flags uint32) {
	s.prep(OpAsyncCancel, -1, target, 0, 0)
	s.OpFlags = flags
}

// AsyncCancelFd prepares the cancellation of requests on fd
// (IORING_ASYNC_CANCEL_FD, 5.19); add CancelAll for all of them and
// CancelFdFixed when fd is a registered-file index.
func (s *SQE) AsyncCancelFd(fd int, flags uint32) {
	s.prep(OpAsyncCancel, fd, 0, 0, 0)
	s.OpFlags = flags | CancelFd
}

// DurationTimespec converts d into a kernel timespec; negative becomes zero.
func DurationTimespec(d time.Duration) Timespec {
	if d < 0 {
		d = 0
	}
	return Timespec{Sec: int64(d / time.Second), Nsec: int64(d % time.Second)}
}

// slotIndex returns the index of an SQE inside this ring's SQE array.
func (r *Ring) slotIndex(s *SQE) uint32 {
	off := uintptr(unsafe.Pointer(s)) - uintptr(r.sqePtr)
	return uint32(off/unsafe.Sizeof(SQE{})) & r.sqMask
}

// PrepTimeout prepares a relative timeout of d on s (see SQE.TimeoutAt) with
// the timespec in ring-owned off-heap memory: one slot per SQE index. The
// kernel copies the timespec while it consumes the SQE during submission,
// and the slot is not reused before GetSQE hands out the same SQE index
// again, which can only happen after that submission.
func (r *Ring) PrepTimeout(s *SQE, d time.Duration, count uint32, flags uint32) {
	ts := &r.scratch.ts[r.slotIndex(s)]
	*ts = DurationTimespec(d)
	s.TimeoutAt(ts, count, flags&^TimeoutAbs)
}

// PrepLinkTimeout prepares a linked timeout of d on s (see
// SQE.LinkTimeoutAt) with the timespec in ring-owned memory, as PrepTimeout.
func (r *Ring) PrepLinkTimeout(s *SQE, d time.Duration, flags uint32) {
	ts := &r.scratch.ts[r.slotIndex(s)]
	*ts = DurationTimespec(d)
	s.LinkTimeoutAt(ts, flags&^TimeoutAbs)
}

// PrepConnect prepares connect(fd, sa) on s with the socket address encoded
// into ring-owned off-heap memory, one slot per SQE index. The kernel copies
// the address into its own memory while it consumes the SQE during
// submission (in the connect prep step since 6.10; before, in the first
// non-blocking attempt or the async prep, both run during submission). Like
// PrepTimeout's timespec, the slot stays untouched until that SQE index is
// handed out again.
func (r *Ring) PrepConnect(s *SQE, fd int, sa unix.Sockaddr) error {
	raw := &r.scratch.sockaddr[r.slotIndex(s)]
	n, err := PutSockaddr(raw, sa)
	if err != nil {
		return err
	}
	s.Connect(fd, raw, n)
	return nil
}
