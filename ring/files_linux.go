//go:build linux && (amd64 || arm64)

package ring

import (
	"fmt"
	"os"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// register calls io_uring_register. arg is a Go pointer (or nil) used by the
// kernel only during the call; the uintptr conversion in the argument list
// keeps it alive and in place. Pointers nested inside *arg must be off-heap
// or pinned by the caller.
func (r *Ring) register(op uint32, arg unsafe.Pointer, nr uint32) (int, error) {
	if r.closed {
		return 0, ErrClosed
	}
	ret, _, errno := unix.Syscall6(unix.SYS_IO_URING_REGISTER, uintptr(r.fd), uintptr(op), uintptr(arg), uintptr(nr), 0, 0)
	if errno != 0 {
		if errno == unix.EEXIST {
			return 0, wrap(ErrNotIssuer, os.NewSyscallError("io_uring_register", errno))
		}
		return 0, os.NewSyscallError("io_uring_register", errno)
	}
	return int(ret), nil
}

// RegisterFilesSparse registers a table of n empty file slots
// (IORING_REGISTER_FILES2 with IORING_RSRC_REGISTER_SPARSE, 5.19). Fill
// slots with RegisterFilesUpdate or with direct-descriptor accepts
// (SQE.SetFileIndex) and use them with SQE.FixedFile.
func (r *Ring) RegisterFilesSparse(n uint32) error {
	reg := rsrcRegister{nr: n, flags: rsrcRegisterSparse}
	_, err := r.register(registerFiles2, unsafe.Pointer(&reg), uint32(unsafe.Sizeof(reg)))
	return err
}

// RegisterFilesUpdate stores fds into the registered file table starting at
// slot off (IORING_REGISTER_FILES_UPDATE2, 5.13) and returns how many slots
// were updated. An fd of -1 empties a slot; -2 leaves it unchanged.
func (r *Ring) RegisterFilesUpdate(off uint32, fds []int32) (int, error) {
	if len(fds) == 0 {
		return 0, nil
	}
	var pin runtime.Pinner
	pin.Pin(&fds[0])
	defer pin.Unpin()
	up := rsrcUpdate2{offset: off, data: uint64(uintptr(unsafe.Pointer(&fds[0]))), nr: uint32(len(fds))}
	return r.register(registerFilesUpdate2, unsafe.Pointer(&up), uint32(unsafe.Sizeof(up)))
}

// UnregisterFiles drops the registered file table (5.1).
func (r *Ring) UnregisterFiles() error {
	_, err := r.register(unregisterFiles, nil, 0)
	return err
}

// RegisterRingFd registers the ring's own descriptor with the calling
// thread (IORING_REGISTER_RING_FDS, 5.18), so that every io_uring_enter
// names it by a small index and the kernel skips looking the descriptor up
// (and taking a reference on it, an atomic operation in a multi-threaded
// process) on each call. The registration belongs to the calling thread:
// call it from the thread that drives the ring (DeferTaskrun's issuer);
// an enter from any other thread fails afterwards. Close unregisters it.
func (r *Ring) RegisterRingFd() error {
	if r.regRing {
		return nil
	}
	up := rsrcUpdate{offset: ^uint32(0), data: uint64(r.fd)}
	n, err := r.register(registerRingFds, unsafe.Pointer(&up), 1)
	if err != nil {
		return err
	}
	if n != 1 {
		return fmt.Errorf("%w: io_uring_register(REGISTER_RING_FDS) registered %d descriptors", ErrInvalid, n)
	}
	r.regRing, r.ringIndex = true, up.offset
	return nil
}

// unregisterRingFd drops the registration of RegisterRingFd.
func (r *Ring) unregisterRingFd() error {
	if !r.regRing {
		return nil
	}
	r.regRing = false
	up := rsrcUpdate{offset: r.ringIndex}
	_, err := r.register(unregisterRingFds, unsafe.Pointer(&up), 1)
	return err
}
