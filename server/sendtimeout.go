//go:build linux

package server

import (
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// send_timeout, as nginx means it, bounds the time between two writes that
// made progress, not a whole response: a slow but moving reader of a large
// file must not be cut. The reactor reports only the end of a whole Send
// or SendFile, so the conn measures progress itself, from the kernel: when
// the timer of a send still in flight fires, the connection is closed only
// if the client acknowledged no byte since the timer was armed
// (tcpi_bytes_acked, Linux 4.1); otherwise the timer is armed again. This
// costs one getsockopt per send that has to wait, none per request that
// fits the socket buffer, and no piece boundaries in the file path. A
// client that reads a few bytes a second acknowledges nothing (its window
// opens by less than a segment), so it is still cut.

// armSendTimeout starts send_timeout for the conn's own output that could
// not be sent at once, noting how much the client has acknowledged.
func (c *conn) armSendTimeout() {
	c.acked = bytesAcked(c.rc.Fd())
	c.rc.SetTimeout(c.sendTimeout())
}

// sendTimeout is the send_timeout of the conn's own output: that of the
// route that answered the last request queued.
func (c *conn) sendTimeout() time.Duration {
	if c.routeSendMs > 0 {
		return time.Duration(c.routeSendMs) * time.Millisecond
	}
	return c.vh.cfg.SendTimeout
}

// sendMoved reports, when send_timeout fired, whether the client
// acknowledged bytes since the timer was armed, and notes the new count.
func (c *conn) sendMoved() bool {
	n := bytesAcked(c.rc.Fd())
	moved := n > c.acked
	c.acked = n
	return moved
}

// bytesAcked returns how many bytes the peer of the TCP socket fd has
// acknowledged, or 0 when the kernel does not say.
func bytesAcked(fd int) uint64 {
	var info unix.TCPInfo
	n := uint32(unsafe.Sizeof(info))
	_, _, e := unix.RawSyscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.IPPROTO_TCP, unix.TCP_INFO,
		uintptr(unsafe.Pointer(&info)), uintptr(unsafe.Pointer(&n)), 0)
	if e != 0 || uintptr(n) < unsafe.Offsetof(info.Bytes_acked)+unsafe.Sizeof(info.Bytes_acked) {
		return 0
	}
	return info.Bytes_acked
}
