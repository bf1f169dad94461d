//go:build linux

package proc

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/nproxy/nproxy/config"
	"github.com/nproxy/nproxy/reactor"
)

// The listening sockets.
//
// The master opens one SO_REUSEPORT socket per worker slot per address;
// the kernel makes the sockets of one address one group and spreads new
// connections over its members. Closing a listening socket resets every
// connection queued on it, including those whose handshake is complete
// but whose first bytes the kernel still waits for (TCP_DEFER_ACCEPT).
// So the master never closes the socket of an address it still serves:
// its pool holds every socket it opened for an address, in the order they
// were opened, which is also the order of the kernel's group. A reload
// that lowers worker_processes keeps the sockets of the dropped slots and
// hands each to one of the new workers as an extra listener (slot i takes
// the extras j with j mod n = i), and one that raises it again makes them
// slots again before opening any new socket. Only an address a reload
// removes, and every address at exit, has its sockets closed: then the
// workers take what is queued before they close their copies
// (server.Drain).
//
// An address whose socket the service manager passed (socket activation,
// activation.go) is the exception: the master binds nothing for it, and
// every worker serves that one socket, sharing its accept queue.

// socketPool is the master's listening sockets, by address.
type socketPool struct {
	socks map[string][]*os.File
	// shared are the sockets of the service manager, by address: one
	// per address, which every slot serves.
	shared map[string]*os.File
}

func newSocketPool() socketPool {
	return socketPool{socks: map[string][]*os.File{}, shared: map[string]*os.File{}}
}

// grow makes sure addr has at least n sockets and returns them all (the
// slots' first); it reports how many it opened, for undo. For a shared
// address it returns the one socket n times and opens none.
func (p *socketPool) grow(addr string, n int) ([]*os.File, int, error) {
	if f := p.shared[addr]; f != nil {
		return slices.Repeat([]*os.File{f}, n), 0, nil
	}
	socks := p.socks[addr]
	if len(socks) == 0 {
		if err := reactor.CheckTCPFree(addr); err != nil {
			return nil, 0, err
		}
	}
	opened := 0
	for len(socks) < n {
		f, err := openListener(addr)
		if err != nil {
			p.socks[addr] = socks
			p.shrink(addr, opened)
			return nil, 0, err
		}
		socks = append(socks, f)
		opened++
	}
	p.socks[addr] = socks
	return socks, opened, nil
}

// shrink closes the last n sockets of addr: those an aborted generation
// opened, the last in the group, so that no other member moves.
func (p *socketPool) shrink(addr string, n int) {
	socks := p.socks[addr]
	n = min(n, len(socks))
	for _, f := range socks[len(socks)-n:] {
		f.Close()
	}
	if socks = socks[:len(socks)-n]; len(socks) == 0 {
		delete(p.socks, addr)
	} else {
		p.socks[addr] = socks
	}
}

// closeExcept closes the sockets of every address keep does not name.
func (p *socketPool) closeExcept(keep []string) {
	for addr, socks := range p.socks {
		if slices.Contains(keep, addr) {
			continue
		}
		for _, f := range socks {
			f.Close()
		}
		delete(p.socks, addr)
	}
	for addr, f := range p.shared {
		if !slices.Contains(keep, addr) {
			f.Close()
			delete(p.shared, addr)
		}
	}
}

// workerSockets returns the sockets worker slot of n serves on one
// address: its own, then the extras (socks[n:]) that fall to it.
func workerSockets(socks []*os.File, slot, n int) []*os.File {
	out := []*os.File{socks[slot]}
	for j := n + slot; j < len(socks); j += n {
		out = append(out, socks[j])
	}
	return out
}

// Steering new connections to the current generation's sockets.
//
// Without a program the kernel hashes each new connection to any member
// of an address's SO_REUSEPORT group. Members are kept in an array in the
// order they started listening (closing one moves the last into its
// place), so the first n members of the group are the pool's first n
// sockets: the current generation's slots. Past them are the extras of
// slots a reload dropped, and the sockets a pending generation opened
// while its workers start (closed if they never do). The steering program
// picks one of the first n members at random, so each current worker gets
// its share of new connections and no new connection waits on a socket
// served only as an extra, or on one that may close. A random pick
// balances as the kernel's hash does; a retransmitted SYN still reaches
// its socket, since the kernel finds a pending connection by its
// addresses before it looks at listeners.

// Classic BPF ancillary data (linux/filter.h): an absolute load from
// SKF_AD_OFF (-0x1000) + SKF_AD_RANDOM (56) yields a random 32-bit
// number. The offset is a 32-bit two's complement field.
const skfAdRandom = 0x100000000 - 0x1000 + 56

// steerProgram returns the program that picks one of the first n members
// of a SO_REUSEPORT group: A = random % n, return A.
func steerProgram(n int) []unix.SockFilter {
	return []unix.SockFilter{
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: skfAdRandom},
		{Code: unix.BPF_ALU | unix.BPF_MOD | unix.BPF_K, K: uint32(n)},
		{Code: unix.BPF_RET | unix.BPF_A},
	}
}

// steerReuseport attaches to the SO_REUSEPORT group of the listening
// socket f the program that spreads new connections over the group's
// first n members (SO_ATTACH_REUSEPORT_CBPF, Linux 4.5): it replaces the
// group's program, whichever member it is set on.
func steerReuseport(f *os.File, n int) error {
	prog := steerProgram(n)
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: unsafe.SliceData(prog)}
	raw, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = unix.SetsockoptSockFprog(int(fd), unix.SOL_SOCKET, unix.SO_ATTACH_REUSEPORT_CBPF, &fprog)
	}); err != nil {
		return err
	}
	return os.NewSyscallError("setsockopt SO_ATTACH_REUSEPORT_CBPF", serr)
}

// listenError says why addr could not be bound, at the line of its
// listen key: "FILE:LINE: listen ADDR: bind: permission denied (...)".
func listenError(cfg *config.Config, addr string, err error) error {
	var se *os.SyscallError
	if errors.As(err, &se) {
		err = se
	}
	hint := ""
	switch {
	case errors.Is(err, unix.EACCES):
		hint = " (ports below 1024 need root, CAP_NET_BIND_SERVICE or socket activation)"
	case errors.Is(err, unix.EADDRINUSE):
		hint = " (another process listens there)"
	case errors.Is(err, unix.EADDRNOTAVAIL):
		hint = " (no interface of this machine has that address)"
	}
	return fmt.Errorf("%s: listen %s: %w%s", cfg.ListenAt(addr), addr, err, hint)
}
