//go:build linux

package ring

import (
	"errors"
	"fmt"
)

// Sentinel errors. Errors from system calls are *os.SyscallError values that
// name the call; where a sentinel below applies, it is wrapped together with
// the system call error so both errors.Is checks work.
var (
	// ErrClosed is returned by every method of a Ring or BufRing after Close.
	ErrClosed = errors.New("ring: closed")

	// ErrUnavailable is returned by Available, New and Describe when io_uring
	// cannot be used at all in this process; the message says why.
	ErrUnavailable = errors.New("ring: io_uring unavailable")

	// ErrUnsupported is returned when the running kernel lacks a feature a
	// call needs (for example a wait timeout without IORING_FEAT_EXT_ARG,
	// kernels before 5.11), or on an architecture this package does not know.
	ErrUnsupported = errors.New("ring: not supported by this kernel")

	// ErrMissingOps is returned by Available when the kernel refuses an
	// opcode the proxy needs; the message lists them.
	ErrMissingOps = errors.New("ring: required io_uring opcodes missing")

	// ErrNotIssuer is returned when a ring created with SINGLE_ISSUER is
	// entered from a thread other than the one that created it (the kernel
	// answers EEXIST). Create and drive the ring from one goroutine that
	// called runtime.LockOSThread and never unlocks.
	ErrNotIssuer = errors.New("ring: ring used from a thread other than its single issuer")

	// ErrBusy is returned by Submit and SubmitAndWait when the kernel cannot
	// take more submissions until completions are reaped (EBUSY or EAGAIN).
	// Reap with PeekCQEs and CQAdvance, then retry.
	ErrBusy = errors.New("ring: kernel busy, reap completions and retry")

	// ErrCQDropped is returned when the kernel had to drop completions
	// (EBADR: the overflow list could not be allocated). State built on
	// user_data accounting is no longer trustworthy.
	ErrCQDropped = errors.New("ring: completions were dropped")

	// ErrInvalid is returned for arguments this package rejects before any
	// system call, such as a buffer ring size that is not a power of two.
	ErrInvalid = errors.New("ring: invalid argument")
)

// wrap returns an error that matches both sentinel and err with errors.Is
// and reads "sentinel: err".
func wrap(sentinel, err error) error {
	return fmt.Errorf("%w: %w", sentinel, err)
}
