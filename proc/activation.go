//go:build linux

package proc

import (
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/nproxy/nproxy/config"
)

// Socket activation (sd_listen_fds(3)).
//
// A service manager that opens the listening sockets itself (systemd's
// .socket units) starts the service with them as descriptors 3, 4, ...
// and says so in its environment: LISTEN_FDS is their number, LISTEN_PID
// the pid they are meant for (so that a child that inherits the
// environment does not take them too), LISTEN_FDNAMES their names,
// colon-separated. The master adopts each one as the socket of the listen
// address it is bound to: it binds nothing for that address, and every
// worker serves the one socket (listeners.go). A unit can so serve port
// 443 with no privilege at all, and the socket outlives restarts of the
// service. A socket no listen names is closed with a warning; a listen
// address no socket is bound to is bound by the master as usual.

// The variables of the protocol; listenFDsStart is the first descriptor.
const (
	listenPIDEnv   = "LISTEN_PID"
	listenFDsEnv   = "LISTEN_FDS"
	listenNamesEnv = "LISTEN_FDNAMES"
	listenFDsStart = 3
)

// activatedSocket is one socket the service manager passed.
type activatedSocket struct {
	addr string // the listen form of its address: "ip:port"
	name string // its LISTEN_FDNAMES entry, "" when unnamed
	fd   int
	f    *os.File
}

// activatedSockets returns the sockets the service manager passed to this
// process, none when it passed none, and clears the variables. Each must
// be a listening TCP socket: anything else is an error, since the unit
// and the configuration disagree.
func activatedSockets() ([]activatedSocket, error) {
	pid, fds, names := os.Getenv(listenPIDEnv), os.Getenv(listenFDsEnv), os.Getenv(listenNamesEnv)
	for _, v := range []string{listenPIDEnv, listenFDsEnv, listenNamesEnv} {
		os.Unsetenv(v)
	}
	if fds == "" || pid != strconv.Itoa(os.Getpid()) {
		return nil, nil
	}
	n, err := strconv.Atoi(fds)
	if err != nil || n < 0 {
		return nil, fmt.Errorf("%w: %s=%q", ErrActivation, listenFDsEnv, fds)
	}
	var nameList []string
	if names != "" {
		nameList = strings.Split(names, ":")
	}
	var out []activatedSocket
	for i := range n {
		s := activatedSocket{fd: listenFDsStart + i}
		if i < len(nameList) {
			s.name = nameList[i]
		}
		// Inherited without close-on-exec: a worker must get the socket
		// as its spec says, not by accident at the same number.
		unix.CloseOnExec(s.fd)
		if s.addr, err = listeningTCPAddr(s.fd); err != nil {
			for _, prev := range out {
				prev.f.Close()
			}
			return nil, fmt.Errorf("%w: %s: %v", ErrActivation, s.describe(), err)
		}
		if s.f, err = listenerFile(s.fd, "listen "+s.addr); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrActivation, s.describe(), err)
		}
		out = append(out, s)
	}
	return out, nil
}

// describe names the socket in messages: "fd 3 (\"https\")".
func (s activatedSocket) describe() string {
	if s.name == "" {
		return "fd " + strconv.Itoa(s.fd)
	}
	return fmt.Sprintf("fd %d (%q)", s.fd, s.name)
}

// listeningTCPAddr returns the address of fd, which must be a TCP socket
// that listens, in the form config gives listen addresses.
func listeningTCPAddr(fd int) (string, error) {
	typ, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
	if err != nil {
		return "", os.NewSyscallError("getsockopt SO_TYPE", err)
	}
	listening, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN)
	if err != nil {
		return "", os.NewSyscallError("getsockopt SO_ACCEPTCONN", err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return "", os.NewSyscallError("getsockname", err)
	}
	var ap netip.AddrPort
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		ap = netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port))
	case *unix.SockaddrInet6:
		ap = netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), uint16(sa.Port))
	default:
		return "", fmt.Errorf("not a TCP socket (ListenStream= takes an address, not a path)")
	}
	if typ != unix.SOCK_STREAM || listening == 0 {
		return "", fmt.Errorf("%v is not a listening TCP socket", ap)
	}
	return ap.String(), nil
}

// listenAddrs lists every listen address of cfg.
func listenAddrs(cfg *config.Config) []string {
	var out []string
	for _, s := range cfg.Servers {
		out = append(out, s.Listen...)
	}
	return out
}

// adoptSockets puts the activated sockets whose address a listen names
// into the pool, and closes the others with a warning.
func (m *master) adoptSockets(socks []activatedSocket, listen []string) {
	for _, s := range socks {
		if !slices.Contains(listen, s.addr) {
			m.log.Warnf("socket activation: %s is bound to %s, which no listen names: closed", s.describe(), s.addr)
			s.f.Close()
			continue
		}
		if prev := m.pool.shared[s.addr]; prev != nil {
			m.log.Warnf("socket activation: %s is bound to %s, like %s: closed", s.describe(), s.addr, prev.Name())
			s.f.Close()
			continue
		}
		m.pool.shared[s.addr] = s.f
		m.log.Infof("listen %s: the service manager's socket, %s, shared by the workers", s.addr, s.describe())
	}
}
