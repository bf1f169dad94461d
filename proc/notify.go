//go:build linux

package proc

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// The service manager protocol (sd_notify(3)).
//
// systemd starts a Type=notify service with NOTIFY_SOCKET naming a
// datagram socket: a path, or an abstract name written with a leading
// '@'. The service sends it newline-separated VARIABLE=VALUE lines:
//
//	READY=1                 the start is complete: every worker accepts
//	RELOADING=1             a reload began; with MONOTONIC_USEC, the
//	MONOTONIC_USEC=N        CLOCK_MONOTONIC time it began (required by
//	                        Type=notify-reload, harmless otherwise)
//	READY=1                 the reload is over, promoted or refused
//	STOPPING=1              the shutdown began
//	STATUS=TEXT             one line shown by systemctl status
//
// Only the master talks to the service manager: a worker's environment
// has no NOTIFY_SOCKET (spawn.go), since the manager ignores messages
// from other processes of the unit unless NotifyAccess=all.

// notifySocketEnv names the service manager's socket.
const notifySocketEnv = "NOTIFY_SOCKET"

// notifier sends state changes to the service manager. A nil *notifier
// (no NOTIFY_SOCKET) sends nothing.
type notifier struct {
	fd   int
	addr *unix.SockaddrUnix
}

// newNotifier opens the socket NOTIFY_SOCKET names, or returns nil when
// it is unset. A socket that cannot be used is an error: a unit that
// waits for READY=1 would otherwise time out with no word why.
func newNotifier() (*notifier, error) {
	name := os.Getenv(notifySocketEnv)
	if name == "" {
		return nil, nil
	}
	if name[0] != '/' && name[0] != '@' {
		return nil, fmt.Errorf("%w: %s=%q: want an absolute path or an @abstract name", ErrNotifySocket, notifySocketEnv, name)
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotifySocket, os.NewSyscallError("socket", err))
	}
	// x/sys/unix turns a leading '@' into the abstract namespace's NUL.
	return &notifier{fd: fd, addr: &unix.SockaddrUnix{Name: name}}, nil
}

// send writes one message of lines. A message that cannot be sent is
// returned as an error for the log; the server goes on either way.
func (n *notifier) send(lines ...string) error {
	if n == nil {
		return nil
	}
	msg := strings.Join(lines, "\n")
	if err := unix.Sendto(n.fd, []byte(msg), unix.MSG_NOSIGNAL, n.addr); err != nil {
		return os.NewSyscallError("sendto "+notifySocketEnv, err)
	}
	return nil
}

// close closes the socket.
func (n *notifier) close() {
	if n != nil {
		unix.Close(n.fd)
	}
}

// monotonicUsec is CLOCK_MONOTONIC in microseconds, as MONOTONIC_USEC
// wants it.
func monotonicUsec() string {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return strconv.FormatInt(ts.Nano()/1000, 10)
}

// statusLine makes a STATUS= line of text: one line, as systemctl shows
// it.
func statusLine(text string) string {
	return "STATUS=" + strings.ReplaceAll(text, "\n", "; ")
}
