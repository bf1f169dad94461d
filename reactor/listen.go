//go:build linux

package reactor

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// ListenTCP returns a non-blocking listening socket bound to addr
// ("host:port"). Every worker gets its own socket on the same address
// (SO_REUSEPORT), so the kernel spreads connections across workers without
// a shared accept queue. Options set here are inherited by accepted
// sockets, which saves a setsockopt per connection:
//   - TCP_NODELAY: responses go out whole; Nagle would only delay the
//     last segment of a header-then-sendfile response.
//   - TCP_DEFER_ACCEPT: accept returns once the request's first bytes are
//     there, so the first read of a new connection rarely finds nothing
//     (nginx's "deferred").
func ListenTCP(addr string, backlog int) (int, error) {
	family, sa, err := tcpSockaddr(addr)
	if err != nil {
		return -1, err
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	opts := []struct{ level, opt, val int }{
		{unix.SOL_SOCKET, unix.SO_REUSEADDR, 1},
		{unix.SOL_SOCKET, unix.SO_REUSEPORT, 1},
		{unix.IPPROTO_TCP, unix.TCP_NODELAY, 1},
		{unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT, 1},
	}
	if family == unix.AF_INET6 {
		opts = append(opts, struct{ level, opt, val int }{unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1})
	}
	for _, o := range opts {
		if err := unix.SetsockoptInt(fd, o.level, o.opt, o.val); err != nil {
			unix.Close(fd)
			return -1, os.NewSyscallError("setsockopt", err)
		}
	}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("reactor: listen %s: %w", addr, os.NewSyscallError("bind", err))
	}
	if backlog <= 0 {
		backlog = 4096
	}
	if err := unix.Listen(fd, backlog); err != nil {
		unix.Close(fd)
		return -1, os.NewSyscallError("listen", err)
	}
	return fd, nil
}

// tcpSockaddr parses "host:port" ("", "*" and localhost allowed) into a
// socket address and its family.
func tcpSockaddr(addr string) (int, unix.Sockaddr, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, nil, fmt.Errorf("reactor: listen %s: %w", addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return 0, nil, fmt.Errorf("reactor: listen %s: bad port", addr)
	}
	if host == "" || host == "*" {
		host = "0.0.0.0"
	}
	if host == "localhost" {
		host = "127.0.0.1"
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return 0, nil, fmt.Errorf("reactor: listen %s: %w", addr, err)
	}
	if ip.Is4() || ip.Is4In6() {
		return unix.AF_INET, &unix.SockaddrInet4{Port: port, Addr: ip.Unmap().As4()}, nil
	}
	return unix.AF_INET6, &unix.SockaddrInet6{Port: port, Addr: ip.As16()}, nil
}

// CheckTCPFree fails with EADDRINUSE (in a "bind" SyscallError) when a
// socket of any process listens on addr or on a wildcard address that
// covers it. SO_REUSEPORT lets a socket of the same user join another
// process's group on the same port silently (a second master started on
// the address of a running one would then take half its connections),
// so the master asks this before it opens an address's first socket:
// a plain bind with SO_REUSEADDR is refused only by a listening socket,
// never by connections in TIME_WAIT. Port 0 is always free.
func CheckTCPFree(addr string) error {
	family, sa, err := tcpSockaddr(addr)
	if err != nil {
		return err
	}
	if p, ok := sa.(*unix.SockaddrInet4); ok && p.Port == 0 {
		return nil
	}
	if p, ok := sa.(*unix.SockaddrInet6); ok && p.Port == 0 {
		return nil
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return os.NewSyscallError("socket", err)
	}
	defer unix.Close(fd)
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		return os.NewSyscallError("setsockopt", err)
	}
	if family == unix.AF_INET6 {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1); err != nil {
			return os.NewSyscallError("setsockopt", err)
		}
	}
	if err := unix.Bind(fd, sa); err != nil {
		return fmt.Errorf("reactor: listen %s: %w", addr, os.NewSyscallError("bind", err))
	}
	return nil
}

// LocalPort returns the port a listening socket is bound to (useful after
// binding port 0).
func LocalPort(fd int) (int, error) {
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return 0, os.NewSyscallError("getsockname", err)
	}
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return a.Port, nil
	case *unix.SockaddrInet6:
		return a.Port, nil
	}
	return 0, fmt.Errorf("reactor: not an inet socket")
}
