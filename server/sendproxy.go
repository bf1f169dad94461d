//go:build linux

package server

import (
	"net/netip"
	"unsafe"

	"github.com/nproxy/nproxy/http"
	"golang.org/x/sys/unix"
)

// setConnAddrs fills in x.ClientAddr and x.LocalAddr for a reverse proxy
// that sends them to its backends in a PROXY protocol header
// (proxy_send_proxy_protocol): the client is the connection's peer, or
// the real client when real_ip_from or a PROXY header received named
// another address (its port is not known then: 0); local is the
// address the client connected to.
func setConnAddrs(x *http.Exchange) {
	c, ok := x.Takeover.(*conn)
	if !ok || c.rc == nil {
		x.ClientAddr, x.LocalAddr = netip.AddrPort{}, netip.AddrPort{}
		return
	}
	fd := c.rc.Fd()
	peer := sockAddrPort(fd, unix.SYS_GETPEERNAME)
	if client := c.peerAddr(); client.IsValid() && client != peer.Addr() {
		peer = netip.AddrPortFrom(client, 0)
	}
	x.ClientAddr, x.LocalAddr = peer, sockAddrPort(fd, unix.SYS_GETSOCKNAME)
}

// sockAddrPort returns the peer's (SYS_GETPEERNAME) or the socket's own
// (SYS_GETSOCKNAME) address of fd, without allocating; the zero
// AddrPort when the kernel cannot say.
func sockAddrPort(fd int, call uintptr) netip.AddrPort {
	var sa unix.RawSockaddrAny
	n := uint32(unix.SizeofSockaddrAny)
	_, _, e := unix.RawSyscall(call, uintptr(fd), uintptr(unsafe.Pointer(&sa)), uintptr(unsafe.Pointer(&n)))
	if e != 0 {
		return netip.AddrPort{}
	}
	switch sa.Addr.Family {
	case unix.AF_INET:
		p := (*unix.RawSockaddrInet4)(unsafe.Pointer(&sa))
		return netip.AddrPortFrom(netip.AddrFrom4(p.Addr), ntohs(p.Port))
	case unix.AF_INET6:
		p := (*unix.RawSockaddrInet6)(unsafe.Pointer(&sa))
		return netip.AddrPortFrom(netip.AddrFrom16(p.Addr).Unmap(), ntohs(p.Port))
	}
	return netip.AddrPort{}
}

// ntohs converts a port in network byte order, as the kernel stores it.
func ntohs(p uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(&p))
	return uint16(b[0])<<8 | uint16(b[1])
}
