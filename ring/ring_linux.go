//go:build linux && (amd64 || arm64)

package ring

import (
	"errors"
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TaskRun names how the kernel runs the completion side of requests (task
// work) for a ring, which is the main per-worker tuning of io_uring.
type TaskRun int

const (
	// DeferTaskrun is SINGLE_ISSUER|DEFER_TASKRUN (6.1): task work runs only
	// when the issuer enters with GETEVENTS, so completions are batched and no
	// inter-processor interrupt disturbs the loop. The ring must be created
	// and driven from one locked OS thread; another thread gets ErrNotIssuer.
	DeferTaskrun TaskRun = iota
	// CoopTaskrun is COOP_TASKRUN|TASKRUN_FLAG (5.19): task work runs at the
	// next kernel transition of the issuer instead of through an IPI; the
	// kernel sets IORING_SQ_TASKRUN when an enter is needed, which Submit
	// honours.
	CoopTaskrun
	// PlainTaskrun uses no task-run flags (any kernel with io_uring): task
	// work interrupts the issuing thread as soon as it is queued.
	PlainTaskrun
)

// String returns the setup flags the mode stands for.
func (t TaskRun) String() string {
	switch t {
	case DeferTaskrun:
		return "SINGLE_ISSUER|DEFER_TASKRUN"
	case CoopTaskrun:
		return "COOP_TASKRUN|TASKRUN_FLAG"
	case PlainTaskrun:
		return "plain"
	}
	return "TaskRun(" + fmt.Sprint(int(t)) + ")"
}

// Options configure New. The zero value asks for a 256-entry SQ with the
// kernel's default CQ (twice the SQ) and the best task-run mode.
type Options struct {
	// Entries is the SQ size; the kernel rounds it up to a power of two.
	// Zero means 256.
	Entries uint32
	// CQEntries, when non-zero, sets the CQ size with IORING_SETUP_CQSIZE
	// (5.5); it must be at least Entries (4×Entries suits multishot
	// receive, which posts many CQEs per SQE). Rounded up to a power of two.
	CQEntries uint32
	// TaskRun is the best mode to try. New falls back towards PlainTaskrun
	// when the kernel answers EINVAL; Ring.TaskRun reports the result.
	TaskRun TaskRun
	// SubmitAll sets IORING_SETUP_SUBMIT_ALL (5.18): a failing SQE in a batch
	// does not stop the submission of the SQEs after it. Dropped silently on
	// kernels that refuse it in the plain fallback.
	SubmitAll bool
}

// Ring is one io_uring instance: a submission queue, a completion queue and
// the memory shared with the kernel. A Ring is not safe for concurrent use:
// one goroutine owns it. With DeferTaskrun that goroutine must also stay on
// the OS thread that called New (runtime.LockOSThread before New, never
// unlocked while the ring lives).
//
// A Ring must not be copied.
type Ring struct {
	fd       int
	flags    uint32 // setup flags the kernel accepted
	features uint32
	taskRun  TaskRun

	ringPtr unsafe.Pointer // SQ ring, and CQ ring too with FeatSingleMmap
	ringLen uintptr
	cqPtr   unsafe.Pointer // separate CQ mapping, nil with FeatSingleMmap
	cqLen   uintptr
	sqePtr  unsafe.Pointer
	sqeLen  uintptr

	// Submission side. sqeTail counts SQEs handed out by GetSQE; sqeHead
	// counts those already published to the kernel through *sqTail.
	sqHead    *uint32 // written by the kernel
	sqTail    *uint32 // written by us, read by the kernel
	sqFlags   *uint32 // written by the kernel
	sqDropped *uint32
	sqMask    uint32
	sqEntries uint32
	sqes      []SQE
	sqeHead   uint32
	sqeTail   uint32

	// Completion side. cqHeadLocal mirrors *cqHead, which only we write.
	cqHead      *uint32 // written by us, read by the kernel
	cqTail      *uint32 // written by the kernel
	cqOverflow  *uint32
	cqMask      uint32
	cqEntries   uint32
	cqes        []CQE
	cqHeadLocal uint32

	// scratch is ring-owned off-heap memory the kernel reads: the
	// EXT_ARG wait argument and its timespec, plus one timespec and one
	// sockaddr slot per SQE index for the Ring.Prep* helpers.
	scratch   scratchArea
	probe     *Probe
	bufRings  map[uint16]*BufRing
	regRing   bool   // RegisterRingFd: enter names the ring by ringIndex
	ringIndex uint32 // index among the issuer thread's registered rings
	closed    bool
	closeErrs error
}

// New creates a ring. Call it from the goroutine that will drive the ring;
// for DeferTaskrun (the default) that goroutine must have called
// runtime.LockOSThread first.
//
// Kernel minimums: io_uring_setup 5.1; CQEntries 5.5 (New fails below);
// CoopTaskrun 5.19 and DeferTaskrun 6.1 (New falls back, see Options.TaskRun).
func New(opts Options) (*Ring, error) {
	entries := opts.Entries
	if entries == 0 {
		entries = 256
	}
	if entries > maxEntries || (opts.CQEntries != 0 && opts.CQEntries < entries) ||
		opts.TaskRun < DeferTaskrun || opts.TaskRun > PlainTaskrun {
		return nil, fmt.Errorf("%w: entries %d, cq entries %d, task run %v", ErrInvalid, entries, opts.CQEntries, opts.TaskRun)
	}
	base := uint32(0)
	if opts.CQEntries != 0 {
		base |= setupCQSize
	}
	if opts.SubmitAll {
		base |= setupSubmitAll
	}

	var lastErr error
	for mode := opts.TaskRun; mode <= PlainTaskrun; mode++ {
		attempts := [][2]uint32{{base | modeFlags(mode), 0}}
		if mode == PlainTaskrun && base&setupSubmitAll != 0 {
			attempts = append(attempts, [2]uint32{base &^ setupSubmitAll, 0})
		}
		for _, a := range attempts {
			p := params{flags: a[0], cqEntries: opts.CQEntries}
			fd, err := setup(entries, &p)
			if err == nil {
				r, err := newFromFd(fd, &p, mode)
				if err != nil {
					unix.Close(fd)
					return nil, err
				}
				return r, nil
			}
			lastErr = err
			if !errors.Is(err, unix.EINVAL) {
				return nil, explainSetupError(err)
			}
		}
	}
	return nil, lastErr
}

func modeFlags(m TaskRun) uint32 {
	switch m {
	case DeferTaskrun:
		return setupSingleIssuer | setupDeferTaskrun
	case CoopTaskrun:
		return setupCoopTaskrun | setupTaskrunFlag
	}
	return 0
}

// setup calls io_uring_setup. p is a Go pointer handed to the kernel only for
// the duration of the call, which the uintptr conversion in the argument list
// keeps alive and in place.
func setup(entries uint32, p *params) (int, error) {
	fd, _, errno := unix.Syscall(unix.SYS_IO_URING_SETUP, uintptr(entries), uintptr(unsafe.Pointer(p)), 0)
	if errno != 0 {
		return -1, os.NewSyscallError("io_uring_setup", errno)
	}
	return int(fd), nil
}

func newFromFd(fd int, p *params, mode TaskRun) (*Ring, error) {
	r := &Ring{fd: fd, flags: p.flags, features: p.features, taskRun: mode}
	if err := r.mapRings(p); err != nil {
		r.unmap()
		return nil, err
	}
	if err := r.scratch.init(r.sqEntries); err != nil {
		r.unmap()
		return nil, err
	}
	return r, nil
}

// mapRings maps the SQ ring, the CQ ring (one mapping with FeatSingleMmap,
// 5.4; two before) and the SQE array, and fills the SQ index array with the
// identity so that SQE slot i is always submitted through array entry i.
func (r *Ring) mapRings(p *params) error {
	const prot = unix.PROT_READ | unix.PROT_WRITE
	const flags = unix.MAP_SHARED | unix.MAP_POPULATE
	sqLen := uintptr(p.sqOff.array) + uintptr(p.sqEntries)*4
	cqLen := uintptr(p.cqOff.cqes) + uintptr(p.cqEntries)*unsafe.Sizeof(CQE{})
	single := p.features&FeatSingleMmap != 0
	if single {
		sqLen = max(sqLen, cqLen)
	}
	var err error
	r.ringPtr, err = unix.MmapPtr(r.fd, offSQRing, nil, sqLen, prot, flags)
	if err != nil {
		r.ringPtr = nil
		return os.NewSyscallError("mmap", err)
	}
	r.ringLen = sqLen
	cqBase := r.ringPtr
	if !single {
		r.cqPtr, err = unix.MmapPtr(r.fd, offCQRing, nil, cqLen, prot, flags)
		if err != nil {
			r.cqPtr = nil
			return os.NewSyscallError("mmap", err)
		}
		r.cqLen = cqLen
		cqBase = r.cqPtr
	}
	r.sqeLen = uintptr(p.sqEntries) * unsafe.Sizeof(SQE{})
	r.sqePtr, err = unix.MmapPtr(r.fd, offSQEs, nil, r.sqeLen, prot, flags)
	if err != nil {
		r.sqePtr = nil
		return os.NewSyscallError("mmap", err)
	}

	sq := r.ringPtr
	r.sqHead = (*uint32)(unsafe.Add(sq, p.sqOff.head))
	r.sqTail = (*uint32)(unsafe.Add(sq, p.sqOff.tail))
	r.sqFlags = (*uint32)(unsafe.Add(sq, p.sqOff.flags))
	r.sqDropped = (*uint32)(unsafe.Add(sq, p.sqOff.dropped))
	r.sqMask = *(*uint32)(unsafe.Add(sq, p.sqOff.ringMask))
	r.sqEntries = *(*uint32)(unsafe.Add(sq, p.sqOff.ringEntries))
	array := unsafe.Slice((*uint32)(unsafe.Add(sq, p.sqOff.array)), r.sqEntries)
	for i := range array {
		array[i] = uint32(i)
	}
	r.sqes = unsafe.Slice((*SQE)(r.sqePtr), r.sqEntries)
	r.sqeHead = *r.sqTail
	r.sqeTail = r.sqeHead

	r.cqHead = (*uint32)(unsafe.Add(cqBase, p.cqOff.head))
	r.cqTail = (*uint32)(unsafe.Add(cqBase, p.cqOff.tail))
	r.cqOverflow = (*uint32)(unsafe.Add(cqBase, p.cqOff.overflow))
	r.cqMask = *(*uint32)(unsafe.Add(cqBase, p.cqOff.ringMask))
	r.cqEntries = *(*uint32)(unsafe.Add(cqBase, p.cqOff.ringEntries))
	r.cqes = unsafe.Slice((*CQE)(unsafe.Add(cqBase, p.cqOff.cqes)), r.cqEntries)
	r.cqHeadLocal = *r.cqHead
	return nil
}

func (r *Ring) unmap() {
	note := func(err error) {
		if err != nil {
			r.closeErrs = errors.Join(r.closeErrs, os.NewSyscallError("munmap", err))
		}
	}
	r.sqes, r.cqes = nil, nil
	if r.sqePtr != nil {
		note(unix.MunmapPtr(r.sqePtr, r.sqeLen))
		r.sqePtr = nil
	}
	if r.cqPtr != nil {
		note(unix.MunmapPtr(r.cqPtr, r.cqLen))
		r.cqPtr = nil
	}
	if r.ringPtr != nil {
		note(unix.MunmapPtr(r.ringPtr, r.ringLen))
		r.ringPtr = nil
	}
	note(r.scratch.free())
}

// Close unregisters and frees the ring's buffer rings, unmaps the shared
// memory and closes the ring descriptor. The kernel cancels requests still in
// flight; memory they reference (buffers, msghdrs) must stay valid until the
// ring is closed. Call Close from the ring's own thread: with DeferTaskrun
// the kernel refuses the buffer-ring unregistration from any other (the
// error is returned, the ring is closed anyway). Close is idempotent: later
// calls return nil.
func (r *Ring) Close() error {
	if r.closed {
		return nil
	}
	for _, br := range r.bufRings {
		if err := br.Close(); err != nil {
			r.closeErrs = errors.Join(r.closeErrs, err)
		}
	}
	if err := r.unregisterRingFd(); err != nil {
		r.closeErrs = errors.Join(r.closeErrs, err)
	}
	r.unmap()
	if err := unix.Close(r.fd); err != nil {
		r.closeErrs = errors.Join(r.closeErrs, os.NewSyscallError("close", err))
	}
	r.closed = true
	r.fd = -1
	err := r.closeErrs
	r.closeErrs = nil
	return err
}

// Fd returns the ring's file descriptor, or -1 after Close.
func (r *Ring) Fd() int { return r.fd }

// TaskRun reports the task-run mode the kernel accepted.
func (r *Ring) TaskRun() TaskRun { return r.taskRun }

// SetupFlags returns the IORING_SETUP_* flags the ring was created with.
func (r *Ring) SetupFlags() uint32 { return r.flags }

// Features returns the IORING_FEAT_* bits the kernel reported at setup.
func (r *Ring) Features() uint32 { return r.features }

// SQEntries returns the size of the submission queue.
func (r *Ring) SQEntries() uint32 { return r.sqEntries }

// CQEntries returns the size of the completion queue.
func (r *Ring) CQEntries() uint32 { return r.cqEntries }

// scratchArea is one anonymous mapping holding everything the kernel reads
// from ring-owned memory:
//
//	[0, 24)    struct io_uring_getevents_arg for EXT_ARG waits
//	[32, 48)   the wait timespec that arg points to
//	[64, ...)  one Timespec per SQE index, then one RawSockaddrAny per SQE index
type scratchArea struct {
	mem      []byte
	arg      *getEventsArg
	waitTS   *Timespec
	ts       []Timespec
	sockaddr []unix.RawSockaddrAny
}

const scratchSlotsOff = 64

func (s *scratchArea) init(n uint32) error {
	tsBytes := uintptr(n) * unsafe.Sizeof(Timespec{})
	saBytes := uintptr(n) * unsafe.Sizeof(unix.RawSockaddrAny{})
	size := int(scratchSlotsOff + tsBytes + saBytes)
	mem, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return os.NewSyscallError("mmap", err)
	}
	s.mem = mem
	base := unsafe.Pointer(&mem[0])
	s.arg = (*getEventsArg)(base)
	s.waitTS = (*Timespec)(unsafe.Add(base, 32))
	s.ts = unsafe.Slice((*Timespec)(unsafe.Add(base, scratchSlotsOff)), n)
	s.sockaddr = unsafe.Slice((*unix.RawSockaddrAny)(unsafe.Add(base, scratchSlotsOff+tsBytes)), n)
	return nil
}

func (s *scratchArea) free() error {
	if s.mem == nil {
		return nil
	}
	err := unix.Munmap(s.mem)
	*s = scratchArea{}
	return err
}
