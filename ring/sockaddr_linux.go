//go:build linux && (amd64 || arm64)

package ring

import (
	"encoding/binary"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// PutSockaddr encodes sa (*unix.SockaddrInet4, *unix.SockaddrInet6 or
// *unix.SockaddrUnix) into dst in the kernel's layout and returns the length
// to pass with it. Put dst in off-heap or pinned memory when the kernel reads
// it after submission (see SQE.Connect).
func PutSockaddr(dst *unix.RawSockaddrAny, sa unix.Sockaddr) (uint32, error) {
	*dst = unix.RawSockaddrAny{}
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		raw := (*unix.RawSockaddrInet4)(unsafe.Pointer(dst))
		raw.Family = unix.AF_INET
		binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&raw.Port))[:], uint16(sa.Port))
		raw.Addr = sa.Addr
		return unix.SizeofSockaddrInet4, nil
	case *unix.SockaddrInet6:
		raw := (*unix.RawSockaddrInet6)(unsafe.Pointer(dst))
		raw.Family = unix.AF_INET6
		binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&raw.Port))[:], uint16(sa.Port))
		raw.Addr = sa.Addr
		raw.Scope_id = sa.ZoneId
		return unix.SizeofSockaddrInet6, nil
	case *unix.SockaddrUnix:
		raw := (*unix.RawSockaddrUnix)(unsafe.Pointer(dst))
		if len(sa.Name) >= len(raw.Path) {
			return 0, fmt.Errorf("%w: unix socket path of %d bytes", ErrInvalid, len(sa.Name))
		}
		raw.Family = unix.AF_UNIX
		for i := 0; i < len(sa.Name); i++ {
			raw.Path[i] = int8(sa.Name[i])
		}
		n := uint32(2 + len(sa.Name))
		if len(sa.Name) > 0 && sa.Name[0] != '@' {
			n++ // NUL terminator for pathname sockets
		} else if len(sa.Name) > 0 {
			raw.Path[0] = 0 // abstract socket
		}
		return n, nil
	}
	return 0, fmt.Errorf("%w: unsupported sockaddr %T", ErrInvalid, sa)
}
