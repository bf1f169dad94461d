//go:build linux && (amd64 || arm64)

package ring

// Memory ordering. The rings are single-producer/single-consumer queues shared
// with the kernel. sync/atomic operations are sequentially consistent in Go,
// which is at least as strong as the acquire/release pairs liburing uses:
//
//   - SQ: SQEs are filled with plain stores, then the new tail is published
//     with atomic.StoreUint32(sqTail) (release): the kernel, which reads the
//     tail with an acquire load, sees complete SQEs. The SQ head is written
//     by the kernel and read with atomic.LoadUint32 before reusing slots.
//   - CQ: the tail is read with atomic.LoadUint32 (acquire) before any CQE is
//     read; after the CQEs have been copied out, the head is published with
//     one atomic.StoreUint32 (release) so the kernel never overwrites a CQE
//     that is still being read.
//   - Flags words written by the kernel (sq flags) are read atomically.
//
// SQPOLL is not used, so the kernel only consumes SQEs inside io_uring_enter.

import (
	"fmt"
	"os"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// NoTimeout makes SubmitAndWait wait without a time limit.
const NoTimeout time.Duration = -1

// GetSQE returns the next free submission queue entry, zeroed, or nil when
// the SQ is full; then Submit and retry. The entry belongs to the kernel from
// the next Submit or SubmitAndWait on.
func (r *Ring) GetSQE() *SQE {
	if r.closed {
		return nil
	}
	head := atomic.LoadUint32(r.sqHead)
	if r.sqeTail-head >= r.sqEntries {
		return nil
	}
	sqe := &r.sqes[r.sqeTail&r.sqMask]
	r.sqeTail++
	*sqe = SQE{}
	return sqe
}

// SQReady returns how many SQEs were handed out by GetSQE and are not yet
// consumed by the kernel.
func (r *Ring) SQReady() int {
	return int(r.sqeTail - atomic.LoadUint32(r.sqHead))
}

// flushSQ publishes the SQEs handed out since the last flush and returns how
// many the kernel has not consumed yet.
func (r *Ring) flushSQ() uint32 {
	tail := r.sqeTail
	if r.sqeHead != tail {
		r.sqeHead = tail
		atomic.StoreUint32(r.sqTail, tail)
	}
	return tail - atomic.LoadUint32(r.sqHead)
}

// cqNeedsEnter reports whether completions wait in the kernel: overflowed
// CQEs (flushed by the next GETEVENTS enter) or, with CoopTaskrun, task work
// announced by IORING_SQ_TASKRUN.
func (r *Ring) cqNeedsEnter() bool {
	return atomic.LoadUint32(r.sqFlags)&(sqCQOverflow|sqTaskrun) != 0
}

// Submit hands all prepared SQEs to the kernel without waiting and returns
// how many it consumed. When the kernel reports overflowed completions or
// pending task work, Submit also passes GETEVENTS (with no minimum) so that
// they reach the CQ.
//
// Submit uses unix.RawSyscall6: without GETEVENTS and a minimum, or with a
// minimum of zero, io_uring_enter never sleeps (network opcodes are first
// tried non-blocking and otherwise armed for poll or punted to io-wq), so
// the runtime need not hand off the P.
//
// With DeferTaskrun, Submit alone never runs task work: completions only
// appear after SubmitAndWait (which always passes GETEVENTS).
func (r *Ring) Submit() (int, error) {
	if r.closed {
		return 0, ErrClosed
	}
	n := r.flushSQ()
	var flags uint32
	if r.cqNeedsEnter() {
		flags |= enterGetEvents
	}
	if n == 0 && flags == 0 {
		return 0, nil
	}
	for {
		got, err := r.enter(false, n, 0, flags, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return got, r.enterError(err)
		}
		return got, nil
	}
}

// SubmitAndWait submits all prepared SQEs and waits, in the same
// io_uring_enter, until at least n completions are in the CQ or timeout has
// passed. It always passes GETEVENTS, so it also runs deferred task work and
// flushes overflowed completions; SubmitAndWait(0, 0) does exactly that
// without sleeping.
//
// timeout < 0 (NoTimeout) waits without limit; timeout == 0 never sleeps;
// timeout > 0 is passed with IORING_ENTER_EXT_ARG (5.11; ErrUnsupported
// before), whose argument and timespec live in ring-owned off-heap memory.
// An expired timeout (ETIME) is not an error: the caller finds fewer CQEs.
// EINTR (the Go runtime signals threads for preemption) restarts the wait
// with the time left. EBUSY/EAGAIN return nil when completions are ready to
// reap, ErrBusy otherwise.
//
// Waits go through unix.Syscall6 so the runtime can hand the P to another
// thread while this one sleeps in the kernel; non-sleeping calls use
// RawSyscall6 as Submit does.
func (r *Ring) SubmitAndWait(n int, timeout time.Duration) error {
	return r.submitAndWait(n, timeout, false)
}

// SubmitAndWaitRaw is SubmitAndWait with the wait made through
// unix.RawSyscall6: the Go scheduler is not told that the thread blocks.
//
// Why: with one P (GOMAXPROCS=1), a goroutine that blocks in Syscall6 for
// longer than a tick of the runtime's sysmon thread (20 us while it is
// busy) has its P taken away, and the hand-off wakes another thread that
// finds nothing to run and sleeps again; every such retake also keeps
// sysmon at its 20 us tick. A loop that waits a few microseconds at a
// time under load pays that on most waits (measured: see BENCHMARKS.md,
// "io_uring acceleration (second round)"). A raw wait is not retaken, so
// sysmon backs off to its 10 ms tick.
//
// The cost: while the thread waits, its P runs nothing else, and a
// stop-the-world waits for the wait to end (the runtime's preemption
// signal interrupts it with EINTR, after which the caller's next function
// call yields). Keep timeout short (the runtime's 10 ms preemption slice
// at most) and follow an empty raw wait with SubmitAndWait for the rest
// of the time.
// A negative timeout (no limit) is refused with ErrInvalid.
func (r *Ring) SubmitAndWaitRaw(n int, timeout time.Duration) error {
	if timeout < 0 {
		return fmt.Errorf("%w: a raw wait needs a time limit", ErrInvalid)
	}
	return r.submitAndWait(n, timeout, true)
}

func (r *Ring) submitAndWait(n int, timeout time.Duration, raw bool) error {
	if r.closed {
		return ErrClosed
	}
	if n < 0 || timeout == 0 {
		n = 0
	}
	var deadline time.Time
	if timeout > 0 {
		if r.features&FeatExtArg == 0 {
			return ErrUnsupported
		}
		deadline = time.Now().Add(timeout)
	}
	for {
		toSubmit := r.flushSQ()
		if toSubmit == 0 && n > 0 && r.CQReady() >= n && !r.cqNeedsEnter() {
			return nil
		}
		var arg *getEventsArg
		flags := uint32(enterGetEvents)
		if timeout > 0 && n > 0 {
			left := time.Until(deadline)
			if left <= 0 {
				left = 0
			}
			r.scratch.waitTS.Sec = int64(left / time.Second)
			r.scratch.waitTS.Nsec = int64(left % time.Second)
			arg = r.scratch.arg
			*arg = getEventsArg{ts: uint64(uintptr(unsafe.Pointer(r.scratch.waitTS)))}
			flags |= enterExtArg
		}
		_, err := r.enter(n > 0 && !raw, toSubmit, uint32(n), flags, arg)
		switch {
		case err == nil:
			// When it submitted something, the kernel returns the count
			// even if the wait was cut short (EINTR, ETIME), so check.
			if toSubmit > 0 && n > 0 && r.CQReady() < n &&
				(timeout < 0 || time.Now().Before(deadline)) {
				continue
			}
			return nil
		case err == unix.ETIME:
			return nil
		case err == unix.EINTR:
			if timeout > 0 && !time.Now().Before(deadline) {
				return nil
			}
			continue
		case (err == unix.EBUSY || err == unix.EAGAIN) && r.CQReady() > 0:
			return nil
		}
		return r.enterError(err)
	}
}

// enter calls io_uring_enter, naming the ring by its registered index
// after RegisterRingFd. arg, when set, points into ring-owned off-heap
// memory, which is why passing it as a uintptr is sound.
func (r *Ring) enter(wait bool, toSubmit, minComplete, flags uint32, arg *getEventsArg) (int, error) {
	var argp, argSz uintptr
	if arg != nil {
		argp, argSz = uintptr(unsafe.Pointer(arg)), getEventsArgSize
	}
	fd := uintptr(r.fd)
	if r.regRing {
		fd = uintptr(r.ringIndex)
		flags |= enterRegRing
	}
	var ret uintptr
	var errno unix.Errno
	if wait {
		ret, _, errno = unix.Syscall6(unix.SYS_IO_URING_ENTER, fd, uintptr(toSubmit), uintptr(minComplete), uintptr(flags), argp, argSz)
	} else {
		ret, _, errno = unix.RawSyscall6(unix.SYS_IO_URING_ENTER, fd, uintptr(toSubmit), uintptr(minComplete), uintptr(flags), argp, argSz)
	}
	if errno != 0 {
		return 0, errno
	}
	return int(ret), nil
}

func (r *Ring) enterError(errno error) error {
	sysErr := os.NewSyscallError("io_uring_enter", errno)
	switch errno {
	case unix.EEXIST:
		return wrap(ErrNotIssuer, sysErr)
	case unix.EBUSY, unix.EAGAIN:
		return wrap(ErrBusy, sysErr)
	case unix.EBADR:
		return wrap(ErrCQDropped, sysErr)
	}
	return sysErr
}

// CQReady returns how many completions are in the CQ ring, ready to peek.
func (r *Ring) CQReady() int {
	return int(atomic.LoadUint32(r.cqTail) - r.cqHeadLocal)
}

// PeekCQEs copies up to len(dst) ready completions into dst, oldest first,
// and returns how many. They stay in the CQ until CQAdvance. If the CQ ring
// is empty while the kernel holds overflowed completions
// (IORING_SQ_CQ_OVERFLOW; kept since FeatNoDrop, 5.5, dropped and counted in
// CQOverflow before), PeekCQEs enters the kernel with GETEVENTS once to move
// them into the ring; no other call makes a system call.
func (r *Ring) PeekCQEs(dst []CQE) int {
	if r.closed {
		return 0
	}
	head := r.cqHeadLocal
	ready := atomic.LoadUint32(r.cqTail) - head
	if ready == 0 && atomic.LoadUint32(r.sqFlags)&sqCQOverflow != 0 {
		r.enter(false, 0, 0, enterGetEvents, nil) // errors show as an empty CQ
		ready = atomic.LoadUint32(r.cqTail) - head
	}
	n := min(int(ready), len(dst))
	for i := range n {
		dst[i] = r.cqes[(head+uint32(i))&r.cqMask]
	}
	return n
}

// CQAdvance marks n completions as consumed with one atomic store of the CQ
// head, returning their slots to the kernel. n must not exceed what the last
// PeekCQEs calls returned.
func (r *Ring) CQAdvance(n int) {
	if n <= 0 || r.closed {
		return
	}
	r.cqHeadLocal += uint32(n)
	atomic.StoreUint32(r.cqHead, r.cqHeadLocal)
}

// CQOverflow returns the kernel's count of completions it could not post.
// Since FeatNoDrop (5.5) it only grows when memory for the overflow list
// could not be allocated.
func (r *Ring) CQOverflow() uint32 {
	return atomic.LoadUint32(r.cqOverflow)
}

// SQDropped returns the kernel's count of invalid SQ index entries.
func (r *Ring) SQDropped() uint32 {
	return atomic.LoadUint32(r.sqDropped)
}
