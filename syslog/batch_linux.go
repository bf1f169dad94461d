package syslog

import (
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Batching.
//
// A worker's access log queues its lines (Queue) and the server flushes
// them once per turn of the event loop (Flush), so a busy worker sends
// the lines of all the requests a turn finished with one sendmmsg(2),
// still one datagram per line, and an idle one sends a line as soon as
// its turn ends: no system call per request, no added delay.
//
// Only UDP is batched. A UNIX datagram socket's receive queue holds
// net.unix.max_dgram_qlen datagrams (10 by default) until the daemon
// reads them, and a burst of more than that in one call is refused
// before the daemon can wake up; a line sent alone, as the request that
// made it ends, leaves the daemon the time of the next request to read
// it. So Queue sends a line to a UNIX socket at once.

// MaxBatch is the most lines one sendmmsg carries; BatchBytes bounds
// their bytes. A batch is sent early when either would be exceeded.
const (
	MaxBatch   = 64
	BatchBytes = 64 << 10
)

// batch is the lines a Writer has queued, one datagram each.
type batch struct {
	buf  []byte          // the datagrams, back to back
	ends [MaxBatch]int32 // where each ends in buf
	n    int
	msgs [MaxBatch]unix.Mmsghdr
	iovs [MaxBatch]unix.Iovec
}

// Queue queues msg (one line; a final newline is left out) at severity
// sev with the header of the second now, to be sent by the next Flush; a
// UNIX socket's line is sent at once (see Batching). It never blocks,
// and allocates nothing once the buffer has grown to the longest line.
func (w *Writer) Queue(now time.Time, sev int, msg []byte) {
	if w.t.Network != "udp" {
		w.Send(now, sev, msg)
		return
	}
	if n := len(msg); n > 0 && msg[n-1] == '\n' {
		msg = msg[:n-1]
	}
	b := &w.b
	if b.buf == nil {
		b.buf = make([]byte, 0, BatchBytes)
	}
	w.buf = w.AppendHeader(w.buf[:0], now, sev)
	if b.n == MaxBatch || len(b.buf)+len(w.buf)+len(msg) > BatchBytes && b.n > 0 {
		w.Flush(now)
	}
	b.buf = append(append(b.buf, w.buf...), msg...)
	b.ends[b.n] = int32(len(b.buf))
	b.n++
}

// Pending returns how many lines are queued.
func (w *Writer) Pending() int { return w.b.n }

// Flush sends the queued lines with sendmmsg(2), calling it again for
// what one call did not send. A line the kernel refuses is dropped and
// counted: on EAGAIN or ENOBUFS (the socket's buffer is full) every line
// left is, on another error (the server's port answered "unreachable",
// a line too long for a datagram) only the line it names.
func (w *Writer) Flush(now time.Time) {
	b := &w.b
	n := b.n
	if n == 0 {
		return
	}
	b.n = 0
	defer func() { b.buf = b.buf[:0] }()
	if w.fd < 0 {
		if now.UnixNano() < w.next {
			w.dropped.Add(uint64(n))
			return
		}
		w.next = now.UnixNano() + int64(retryEvery)
		if w.connect() != nil {
			w.dropped.Add(uint64(n))
			return
		}
	}
	start := int32(0)
	for i := 0; i < n; i++ {
		end := b.ends[i]
		iov := &b.iovs[i]
		iov.Base = unsafe.SliceData(b.buf[start:end])
		iov.SetLen(int(end - start))
		b.msgs[i] = unix.Mmsghdr{Hdr: unix.Msghdr{Iov: iov}}
		b.msgs[i].Hdr.SetIovlen(1)
		start = end
	}
	sent := 0
	for tries := 0; sent < n && tries < 2*MaxBatch; tries++ {
		r, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(w.fd), uintptr(unsafe.Pointer(&b.msgs[sent])), uintptr(n-sent), 0, 0, 0)
		switch {
		case errno == 0:
			sent += int(r)
		case errno == unix.EINTR:
		case errno == unix.EAGAIN || errno == unix.ENOBUFS:
			w.drop(errno)
			w.dropped.Add(uint64(n - sent - 1))
			sent = n
		default:
			w.drop(errno)
			sent++
		}
	}
	if sent < n { // EINTR without end: cannot happen on a non-blocking socket
		w.dropped.Add(uint64(n - sent))
	}
}
