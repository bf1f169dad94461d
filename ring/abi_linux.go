//go:build linux && (amd64 || arm64)

package ring

// This file mirrors the kernel ABI of include/uapi/linux/io_uring.h. Layouts
// are fixed by the kernel; the size checks at the bottom fail the build if a
// Go struct ever drifts from its C counterpart.
//
// amd64 and arm64 only: both are little-endian (the buffer-ring tail trick in
// bufring_linux.go and poll32_events depend on it) and both give uint64 fields
// 8-byte alignment, so Go's natural layout equals the C layout.

import (
	"strconv"
	"unsafe"
)

// Op is an io_uring opcode (enum io_uring_op). The comment on each constant
// gives the first kernel release that accepts it.
type Op uint8

// Opcodes, in kernel enum order. Use Ring.Supported to learn whether the
// running kernel accepts one.
const (
	OpNop            Op = iota // 5.1
	OpReadv                    // 5.1
	OpWritev                   // 5.1
	OpFsync                    // 5.1
	OpReadFixed                // 5.1
	OpWriteFixed               // 5.1
	OpPollAdd                  // 5.1
	OpPollRemove               // 5.1
	OpSyncFileRange            // 5.2
	OpSendmsg                  // 5.3
	OpRecvmsg                  // 5.3
	OpTimeout                  // 5.4
	OpTimeoutRemove            // 5.5
	OpAccept                   // 5.5
	OpAsyncCancel              // 5.5
	OpLinkTimeout              // 5.5
	OpConnect                  // 5.5
	OpFallocate                // 5.6
	OpOpenat                   // 5.6
	OpClose                    // 5.6
	OpFilesUpdate              // 5.6
	OpStatx                    // 5.6
	OpRead                     // 5.6
	OpWrite                    // 5.6
	OpFadvise                  // 5.6
	OpMadvise                  // 5.6
	OpSend                     // 5.6
	OpRecv                     // 5.6
	OpOpenat2                  // 5.6
	OpEpollCtl                 // 5.6
	OpSplice                   // 5.7
	OpProvideBuffers           // 5.7
	OpRemoveBuffers            // 5.7
	OpTee                      // 5.8
	OpShutdown                 // 5.11
	OpRenameat                 // 5.11
	OpUnlinkat                 // 5.11
	OpMkdirat                  // 5.15
	OpSymlinkat                // 5.15
	OpLinkat                   // 5.15
	OpMsgRing                  // 5.18
	OpFsetxattr                // 5.19
	OpSetxattr                 // 5.19
	OpFgetxattr                // 5.19
	OpGetxattr                 // 5.19
	OpSocket                   // 5.19
	OpUringCmd                 // 5.19
	OpSendZC                   // 6.0
	OpSendmsgZC                // 6.1
	OpReadMultishot            // 6.7
	OpWaitid                   // 6.7
	OpFutexWait                // 6.7
	OpFutexWake                // 6.7
	OpFutexWaitv               // 6.7
	OpFixedFdInstall           // 6.8
	OpFtruncate                // 6.9
	OpBind                     // 6.11
	OpListen                   // 6.11
	OpRecvZC                   // 6.15
	OpEpollWait                // 6.15
	OpReadvFixed               // 6.15
	OpWritevFixed              // 6.15
	OpPipe                     // 6.16
)

var opNames = [...]string{
	"NOP", "READV", "WRITEV", "FSYNC", "READ_FIXED", "WRITE_FIXED",
	"POLL_ADD", "POLL_REMOVE", "SYNC_FILE_RANGE", "SENDMSG", "RECVMSG",
	"TIMEOUT", "TIMEOUT_REMOVE", "ACCEPT", "ASYNC_CANCEL", "LINK_TIMEOUT",
	"CONNECT", "FALLOCATE", "OPENAT", "CLOSE", "FILES_UPDATE", "STATX",
	"READ", "WRITE", "FADVISE", "MADVISE", "SEND", "RECV", "OPENAT2",
	"EPOLL_CTL", "SPLICE", "PROVIDE_BUFFERS", "REMOVE_BUFFERS", "TEE",
	"SHUTDOWN", "RENAMEAT", "UNLINKAT", "MKDIRAT", "SYMLINKAT", "LINKAT",
	"MSG_RING", "FSETXATTR", "SETXATTR", "FGETXATTR", "GETXATTR", "SOCKET",
	"URING_CMD", "SEND_ZC", "SENDMSG_ZC", "READ_MULTISHOT", "WAITID",
	"FUTEX_WAIT", "FUTEX_WAKE", "FUTEX_WAITV", "FIXED_FD_INSTALL",
	"FTRUNCATE", "BIND", "LISTEN", "RECV_ZC", "EPOLL_WAIT", "READV_FIXED",
	"WRITEV_FIXED", "PIPE",
}

// String returns the kernel's name for the opcode without the IORING_OP_
// prefix, or "OP_<n>" for opcodes newer than this package.
func (op Op) String() string {
	if int(op) < len(opNames) {
		return opNames[op]
	}
	return "OP_" + strconv.Itoa(int(op))
}

// SQE flags (sqe->flags), set with SQE.SetFlags.
const (
	SQEFixedFile      uint8 = 1 << 0 // fd is an index into the registered file table (5.1)
	SQEIODrain        uint8 = 1 << 1 // issue after all earlier requests completed (5.2)
	SQEIOLink         uint8 = 1 << 2 // the next SQE starts only after this one succeeds (5.3)
	SQEIOHardlink     uint8 = 1 << 3 // like SQEIOLink, but the chain survives failure (5.5)
	SQEAsync          uint8 = 1 << 4 // skip the inline non-blocking attempt (5.6)
	SQEBufferSelect   uint8 = 1 << 5 // pick a buffer from sqe->buf_group (5.7)
	SQECQESkipSuccess uint8 = 1 << 6 // post no CQE when the request succeeds (5.17)
)

// io_uring_setup flags.
const (
	setupIOPoll       = 1 << 0
	setupSQPoll       = 1 << 1
	setupCQSize       = 1 << 3  // 5.5
	setupClamp        = 1 << 4  // 5.6
	setupSubmitAll    = 1 << 7  // 5.18
	setupCoopTaskrun  = 1 << 8  // 5.19
	setupTaskrunFlag  = 1 << 9  // 5.19
	setupSingleIssuer = 1 << 12 // 6.0
	setupDeferTaskrun = 1 << 13 // 6.1
)

// Feature bits reported by io_uring_setup (io_uring_params.features).
const (
	FeatSingleMmap     uint32 = 1 << 0  // 5.4
	FeatNoDrop         uint32 = 1 << 1  // 5.5
	FeatSubmitStable   uint32 = 1 << 2  // 5.5
	FeatRWCurPos       uint32 = 1 << 3  // 5.6
	FeatCurPersonality uint32 = 1 << 4  // 5.6
	FeatFastPoll       uint32 = 1 << 5  // 5.7
	FeatPoll32Bits     uint32 = 1 << 6  // 5.9
	FeatSQPollNonfixed uint32 = 1 << 7  // 5.11
	FeatExtArg         uint32 = 1 << 8  // 5.11
	FeatNativeWorkers  uint32 = 1 << 9  // 5.12
	FeatRsrcTags       uint32 = 1 << 10 // 5.13
	FeatCQESkip        uint32 = 1 << 11 // 5.17
	FeatLinkedFile     uint32 = 1 << 12 // 5.17
	FeatRegRegRing     uint32 = 1 << 13 // 6.3
	FeatRecvSendBundle uint32 = 1 << 14 // 6.10
	FeatMinTimeout     uint32 = 1 << 15 // 6.12
	FeatRWAttr         uint32 = 1 << 16 // 6.14
	FeatNoIOWait       uint32 = 1 << 17 // 6.15
)

var featNames = [...]string{
	"SINGLE_MMAP", "NODROP", "SUBMIT_STABLE", "RW_CUR_POS",
	"CUR_PERSONALITY", "FAST_POLL", "POLL_32BITS", "SQPOLL_NONFIXED",
	"EXT_ARG", "NATIVE_WORKERS", "RSRC_TAGS", "CQE_SKIP", "LINKED_FILE",
	"REG_REG_RING", "RECVSEND_BUNDLE", "MIN_TIMEOUT", "RW_ATTR", "NO_IOWAIT",
}

// SQ ring flags (sq_ring->flags), written by the kernel.
const (
	sqNeedWakeup = 1 << 0
	sqCQOverflow = 1 << 1 // completions wait in the kernel's overflow list
	sqTaskrun    = 1 << 2 // task work pending; enter with GETEVENTS to run it
)

// io_uring_enter flags.
const (
	enterGetEvents = 1 << 0
	enterExtArg    = 1 << 3 // 5.11
	enterRegRing   = 1 << 4 // 5.18: fd is an index into the task's registered rings
)

// io_uring_register opcodes.
const (
	registerFiles         = 2
	unregisterFiles       = 3
	registerProbe         = 8  // 5.6
	registerFiles2        = 13 // 5.13
	registerFilesUpdate2  = 14 // 5.13
	pbufRingInc           = 2  // IOU_PBUF_RING_INC (6.12): buffers consumed incrementally
	registerRingFds       = 20 // 5.18
	unregisterRingFds     = 21 // 5.18
	registerPbufRing      = 22 // 5.19
	unregisterPbufRing    = 23 // 5.19
	rsrcRegisterSparse    = 1 << 0
	ioURingOpSupported    = 1 << 0
	probeOpsCapacity      = 256
	offSQRing             = 0
	offCQRing             = 0x8000000
	offSQEs               = 0x10000000
	getEventsArgSize      = 24
	maxEntries            = 32768 // IORING_MAX_ENTRIES
	registerFilesSkipSlot = -2
)

// CQE flags (cqe->flags).
const (
	CQEFBuffer       uint32 = 1 << 0 // upper 16 bits carry a provided-buffer id (5.7)
	CQEFMore         uint32 = 1 << 1 // the request stays armed and will post more CQEs (5.19)
	CQEFSockNonempty uint32 = 1 << 2 // the socket had more data after this recv (5.19)
	CQEFNotif        uint32 = 1 << 3 // SEND_ZC notification: the buffer may be reused (6.0)
	CQEFBufMore      uint32 = 1 << 4 // incremental buffer: the kernel keeps using this buffer (6.12)

	// CQEBufferShift is how far cqe->flags is shifted to get the buffer id.
	CQEBufferShift = 16
)

// Per-opcode flags.
const (
	// TimeoutAbs makes a timeout absolute (CLOCK_MONOTONIC) instead of relative.
	TimeoutAbs uint32 = 1 << 0
	// TimeoutBoottime measures a timeout on CLOCK_BOOTTIME (5.15).
	TimeoutBoottime uint32 = 1 << 2
	// TimeoutRealtime measures a timeout on CLOCK_REALTIME (5.15).
	TimeoutRealtime uint32 = 1 << 3
	// TimeoutETimeSuccess reports an expired timeout as a success (6.0).
	TimeoutETimeSuccess uint32 = 1 << 5
	// TimeoutMultishot rearms a timeout count times, or forever if 0 (6.4).
	TimeoutMultishot uint32 = 1 << 6

	// CancelAll cancels every request matching the key, not only the first (5.19).
	CancelAll uint32 = 1 << 0
	// CancelFd keys the cancellation on the file descriptor instead of user_data (5.19).
	CancelFd uint32 = 1 << 1
	// CancelAny matches any request (5.19).
	CancelAny uint32 = 1 << 2
	// CancelFdFixed says the fd key is a registered-file index (5.19).
	CancelFdFixed uint32 = 1 << 3

	// PollAddMulti keeps a poll armed after it fires (5.13).
	pollAddMulti = 1 << 0

	// RecvSendPollFirst arms poll before the first transfer attempt (5.19).
	RecvSendPollFirst uint16 = 1 << 0
	recvMultishot            = 1 << 1 // 6.0
	// SendZCReportUsage makes the SEND_ZC notification report whether the
	// data was copied after all (IORING_NOTIF_USAGE_ZC_COPIED in res).
	SendZCReportUsage uint16 = 1 << 3
	// NotifUsageZCCopied is set in a notification's res when SendZCReportUsage
	// was requested and the kernel had to copy.
	NotifUsageZCCopied int32 = -1 << 31

	acceptMultishot = 1 << 0 // 5.19

	// FileIndexAlloc asks the kernel to pick a free registered-file slot.
	FileIndexAlloc uint32 = ^uint32(0)

	// SpliceFdInFixed says the splice input fd is a registered-file index.
	SpliceFdInFixed uint32 = 1 << 31
)

// SQE is one submission queue entry (struct io_uring_sqe, 64 bytes). It lives
// in memory shared with the kernel; obtain one from Ring.GetSQE, fill it with
// one prep method and optional flag setters, and do not touch it after
// Submit. Unions of the C struct are named after their most common member.
type SQE struct {
	Opcode      Op
	Flags       uint8
	IoPrio      uint16 // ioprio; also accept/recv/send flags
	Fd          int32
	Off         uint64 // off, addr2
	Addr        uint64 // addr, splice_off_in
	Len         uint32
	OpFlags     uint32 // rw_flags, msg_flags, timeout_flags, cancel_flags, splice_flags, ...
	UserData    uint64
	BufIndex    uint16 // buf_index, buf_group
	Personality uint16
	SpliceFdIn  int32 // splice_fd_in, file_index, addr_len
	Addr3       uint64
	pad         uint64
}

// CQE is one completion queue entry (struct io_uring_cqe, 16 bytes).
// Res is the operation's result: a count or fd when non-negative, a negated
// errno when negative.
type CQE struct {
	UserData uint64
	Res      int32
	Flags    uint32
}

// Timespec is struct __kernel_timespec.
type Timespec struct {
	Sec  int64
	Nsec int64
}

type sqringOffsets struct {
	head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
	userAddr                                                        uint64
}

type cqringOffsets struct {
	head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
	userAddr                                                        uint64
}

type params struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFd uint32
	resv                                                                   [3]uint32
	sqOff                                                                  sqringOffsets
	cqOff                                                                  cqringOffsets
}

type getEventsArg struct {
	sigmask   uint64
	sigmaskSz uint32
	minWaitUs uint32 // "pad" before 6.12
	ts        uint64
}

type probeOp struct {
	op    uint8
	resv  uint8
	flags uint16
	resv2 uint32
}

type probeBuf struct {
	lastOp uint8
	opsLen uint8
	resv   uint16
	resv2  [3]uint32
	ops    [probeOpsCapacity]probeOp
}

type rsrcRegister struct {
	nr, flags uint32
	resv2     uint64
	data      uint64
	tags      uint64
}

type rsrcUpdate2 struct {
	offset, resv uint32
	data, tags   uint64
	nr, resv2    uint32
}

// rsrcUpdate is struct io_uring_rsrc_update, the argument of
// IORING_(UN)REGISTER_RING_FDS.
type rsrcUpdate struct {
	offset, resv uint32
	data         uint64
}

type bufReg struct {
	ringAddr    uint64
	ringEntries uint32
	bgid        uint16
	flags       uint16
	resv        [3]uint64
}

// bufRingEntry is struct io_uring_buf. Entry 0's resv field doubles as the
// ring tail.
type bufRingEntry struct {
	addr uint64
	len  uint32
	bid  uint16
	resv uint16
}

// Compile-time layout checks: each line fails to build if a size is wrong.
var (
	_ [64 - unsafe.Sizeof(SQE{})]byte
	_ [unsafe.Sizeof(SQE{}) - 64]byte
	_ [16 - unsafe.Sizeof(CQE{})]byte
	_ [unsafe.Sizeof(CQE{}) - 16]byte
	_ [120 - unsafe.Sizeof(params{})]byte
	_ [unsafe.Sizeof(params{}) - 120]byte
	_ [getEventsArgSize - unsafe.Sizeof(getEventsArg{})]byte
	_ [unsafe.Sizeof(getEventsArg{}) - getEventsArgSize]byte
	_ [16 + 8*probeOpsCapacity - unsafe.Sizeof(probeBuf{})]byte
	_ [unsafe.Sizeof(probeBuf{}) - 16 - 8*probeOpsCapacity]byte
	_ [32 - unsafe.Sizeof(rsrcRegister{})]byte
	_ [32 - unsafe.Sizeof(rsrcUpdate2{})]byte
	_ [unsafe.Sizeof(rsrcUpdate2{}) - 32]byte
	_ [16 - unsafe.Sizeof(rsrcUpdate{})]byte
	_ [unsafe.Sizeof(rsrcUpdate{}) - 16]byte
	_ [40 - unsafe.Sizeof(bufReg{})]byte
	_ [unsafe.Sizeof(bufReg{}) - 40]byte
	_ [16 - unsafe.Sizeof(bufRingEntry{})]byte
	_ [unsafe.Sizeof(Timespec{}) - 16]byte
)
