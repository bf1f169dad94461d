//go:build linux

// Package ring is nproxy's io_uring binding: setup and teardown of a ring,
// preparation of submission queue entries (SQEs), submission, batched reaping
// of completion queue entries (CQEs), registered files, provided-buffer
// rings, and probing of what the running kernel supports. It is written on
// golang.org/x/sys/unix alone; it is Linux only, and amd64/arm64 only (both
// little-endian; other architectures fail to build, see
// arch_other_linux.go).
//
// # One ring per worker
//
// A Ring is owned by one goroutine and is not safe for concurrent use. The
// default setup, SINGLE_ISSUER|DEFER_TASKRUN (6.1), also ties it to one OS
// thread: call runtime.LockOSThread in the worker goroutine before New and
// never unlock while the ring lives; calls from another thread fail with
// ErrNotIssuer. When the kernel refuses those flags (EINVAL), New falls back
// to COOP_TASKRUN|TASKRUN_FLAG (5.19), then to no task-run flags;
// Ring.TaskRun says which was used.
//
// A loop turn looks like:
//
//	sqe := r.GetSQE()          // nil when the SQ is full: Submit, retry
//	sqe.RecvMultishot(fd, group, 0)
//	sqe.SetUserData(connID<<16 | gen)
//	r.SubmitAndWait(1, time.Second) // submit and wait in one io_uring_enter
//	n := r.PeekCQEs(cqes)      // copy the ready batch
//	... handle cqes[:n] ...
//	r.CQAdvance(n)             // one atomic store of the CQ head
//
// With DEFER_TASKRUN, completions are produced only while the issuer is in
// io_uring_enter with GETEVENTS: the loop must call SubmitAndWait (with n = 0
// and timeout = 0 when it must not sleep); Submit alone never makes
// completions appear.
//
// # Memory ordering
//
// SQEs are written with plain stores and published with one atomic store of
// the SQ tail; the CQ tail is loaded atomically before CQEs are read and the
// CQ head is stored atomically after they were copied out; the buffer-ring
// tail is published with an atomic 32-bit store (see BufRing.Advance). Go's
// atomics are sequentially consistent, which covers the acquire/release
// pairs the kernel expects. SQPOLL is not used.
//
// # Memory ownership
//
// The kernel reads and writes user memory after io_uring_enter returns. Any
// such memory must not be on the Go heap unless pinned (runtime.Pinner)
// until the event named in each prep helper's comment, usually the CQE:
//
//   - Ring-owned, off-heap: the SQ/CQ rings and SQEs, the EXT_ARG wait
//     argument and timespec, per-SQE-slot timespecs (Ring.PrepTimeout,
//     PrepLinkTimeout) and sockaddrs (Ring.PrepConnect), BufRing rings and
//     buffers.
//   - Caller-owned: buffers passed to Recv, Send, SendZC (until the
//     notification CQE), Read; iovec arrays and their buffers (Writev);
//     msghdrs with everything they point to (SendMsg); accept address
//     outputs; timespecs given to TimeoutAt/LinkTimeoutAt and sockaddrs
//     given to Connect.
//   - Arguments of io_uring_setup/io_uring_register are used only during
//     the call and may be ordinary Go values.
//
// user_data is a plain uint64: put integers there (ids with a generation),
// never pointers, since the garbage collector cannot see them.
//
// # System calls
//
// Waiting (SubmitAndWait with n > 0 and a non-zero timeout) uses
// unix.Syscall6 so the runtime can hand the P to another thread while this
// one sleeps in the kernel. Submission without waiting (Submit, the
// non-sleeping SubmitAndWait, the overflow flush in PeekCQEs) uses
// unix.RawSyscall6: io_uring_enter without a wait never sleeps, because
// requests that would block are armed for poll or punted to io-wq.
//
// # Kernel minimums
//
//	io_uring_setup/enter, NOP, READV/WRITEV, POLL_ADD  5.1
//	TIMEOUT                                           5.4 (count semantics 5.5)
//	SINGLE_MMAP feature                               5.4 (two mappings before)
//	ACCEPT, CONNECT, LINK_TIMEOUT, ASYNC_CANCEL,
//	  TIMEOUT_REMOVE, CQSIZE, NODROP                  5.5 (CQ overflow drops before)
//	SEND, RECV, READ, CLOSE                           5.6
//	REGISTER_PROBE                                    5.6 (Probe fails before)
//	SPLICE, buffer select                             5.7
//	SHUTDOWN, EXT_ARG wait timeouts                   5.11 (ErrUnsupported before)
//	REGISTER_FILES2/FILES_UPDATE2                     5.13
//	multishot POLL                                    5.13
//	CQE_SKIP_SUCCESS                                  5.17
//	SUBMIT_ALL                                        5.18 (dropped in the plain fallback)
//	multishot ACCEPT, PBUF_RING, COOP_TASKRUN,
//	  sparse file tables, ASYNC_CANCEL_FD/ALL         5.19
//	multishot RECV, SEND_ZC, SINGLE_ISSUER            6.0
//	DEFER_TASKRUN                                     6.1 (New falls back)
//
// Available checks the whole set the proxy needs (6.0) and says in words why
// io_uring cannot be used; Describe summarises support for `nproxy -V`.
package ring
