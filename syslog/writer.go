package syslog

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// retryEvery is how often a Writer whose socket is not connected (a
// UNIX socket nobody listens on yet, or one its server re-created) tries
// to connect again; the lines in between are dropped.
const retryEvery = time.Second

// Writer is one process's socket to a Target. Its Send, Queue, Flush
// and Close run on one thread at a time (an access log's worker loop, or
// under the error log's lock); Dropped and TakeDropped may be called
// from any thread.
// A Writer must not be copied.
type Writer struct {
	t    Target
	host string // "" with NoHostname
	sa   unix.Sockaddr
	fd   int   // -1 while not connected
	next int64 // unix ns of the next connect attempt, while fd is -1

	// The header's time, formatted once per second.
	sec   int64
	stamp []byte
	buf   []byte // one datagram
	b     batch  // the lines Queue keeps for Flush (batch_linux.go)

	dropped atomic.Uint64 // lines not sent, ever
	taken   atomic.Uint64 // of dropped, what TakeDropped returned
	lastErr atomic.Uintptr
}

// Open returns a Writer to t. A host name in t's address is resolved now
// (the first address, as nginx takes it); a UNIX socket that refuses the
// connection now is tried again later (the syslog daemon may start after
// nproxy), its lines dropped in between.
func Open(t Target) (*Writer, error) {
	w := &Writer{t: t, fd: -1, sec: -1, buf: make([]byte, 0, 1024)}
	if !t.NoHostname {
		h, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("syslog: %w", err)
		}
		w.host = h
	}
	switch t.Network {
	case "unixgram":
		w.sa = &unix.SockaddrUnix{Name: t.Addr}
	case "udp":
		ua, err := net.ResolveUDPAddr("udp", t.Addr)
		if err != nil {
			return nil, fmt.Errorf("syslog: server=%s: %w", t.Addr, err)
		}
		if ip4 := ua.IP.To4(); ip4 != nil {
			w.sa = &unix.SockaddrInet4{Port: ua.Port, Addr: [4]byte(ip4)}
		} else {
			w.sa = &unix.SockaddrInet6{Port: ua.Port, Addr: [16]byte(ua.IP.To16())}
		}
	default:
		return nil, fmt.Errorf("syslog: unknown network %q", t.Network)
	}
	if err := w.connect(); err != nil && t.Network == "udp" {
		return nil, err // a UDP connect only fails for a reason that lasts
	}
	return w, nil
}

// Target returns the target w sends to.
func (w *Writer) Target() Target { return w.t }

// connect opens a non-blocking datagram socket connected to the server.
func (w *Writer) connect() error {
	domain := unix.AF_UNIX
	switch w.sa.(type) {
	case *unix.SockaddrInet4:
		domain = unix.AF_INET
	case *unix.SockaddrInet6:
		domain = unix.AF_INET6
	}
	fd, err := unix.Socket(domain, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("syslog: %w", os.NewSyscallError("socket", err))
	}
	if err := unix.Connect(fd, w.sa); err != nil {
		unix.Close(fd)
		w.setErr(err)
		return fmt.Errorf("syslog: server=%s: %w", w.t.Addr, os.NewSyscallError("connect", err))
	}
	w.fd = fd
	return nil
}

// Send sends msg (one line; a final newline is left out) at severity sev
// with the header of the second now. It never blocks: a datagram the
// kernel does not take at once is dropped and counted. It allocates
// nothing once the datagram buffer has grown to the longest line.
func (w *Writer) Send(now time.Time, sev int, msg []byte) {
	if n := len(msg); n > 0 && msg[n-1] == '\n' {
		msg = msg[:n-1]
	}
	if w.fd < 0 {
		if now.UnixNano() < w.next {
			w.drop(nil)
			return
		}
		w.next = now.UnixNano() + int64(retryEvery)
		if w.connect() != nil {
			w.dropped.Add(1)
			return
		}
	}
	w.buf = append(w.AppendHeader(w.buf[:0], now, sev), msg...)
	_, err := unix.Write(w.fd, w.buf)
	if err == nil {
		return
	}
	w.drop(err)
	// A UNIX socket whose server went away (ECONNREFUSED) or was
	// re-created at the same path (a restarted daemon: the old socket
	// is gone) must be connected again; a UDP socket's ECONNREFUSED is
	// the ICMP error of an earlier datagram, and the next may arrive.
	if w.t.Network == "unixgram" && (err == unix.ECONNREFUSED || err == unix.ENOTCONN) {
		unix.Close(w.fd)
		w.fd, w.next = -1, now.UnixNano()+int64(retryEvery)
	}
}

// drop counts a line not sent, and why (nil keeps the last reason).
func (w *Writer) drop(err error) {
	w.dropped.Add(1)
	if err != nil {
		w.setErr(err)
	}
}

func (w *Writer) setErr(err error) {
	if e, ok := err.(unix.Errno); ok {
		w.lastErr.Store(uintptr(e))
	}
}

// AppendHeader appends the RFC 3164 header of a line at severity sev
// sent at now: "<PRI>Mmm dd hh:mm:ss HOSTNAME TAG: ", without HOSTNAME
// and its space for a NoHostname target.
func (w *Writer) AppendHeader(b []byte, now time.Time, sev int) []byte {
	if sec := now.Unix(); sec != w.sec {
		w.sec = sec
		w.stamp = now.Local().AppendFormat(w.stamp[:0], time.Stamp)
	}
	b = append(b, '<')
	b = strconv.AppendInt(b, int64(w.t.Facility*8+sev), 10)
	b = append(b, '>')
	b = append(b, w.stamp...)
	b = append(b, ' ')
	if w.host != "" {
		b = append(b, w.host...)
		b = append(b, ' ')
	}
	b = append(b, w.t.Tag...)
	return append(b, ':', ' ')
}

// Dropped returns how many lines w has dropped since it was opened.
func (w *Writer) Dropped() uint64 { return w.dropped.Load() }

// TakeDropped returns the lines dropped since its last call and the
// reason of the last drop, so that a caller reports each drop once.
func (w *Writer) TakeDropped() (uint64, error) {
	d := w.dropped.Load()
	n := d - w.taken.Swap(d)
	if n == 0 {
		return 0, nil
	}
	var err error = unix.EAGAIN
	if e := w.lastErr.Load(); e != 0 {
		err = unix.Errno(e)
	}
	return n, fmt.Errorf("syslog: %d lines dropped: %w", n, err)
}

// Close sends the queued lines and closes the socket.
func (w *Writer) Close() error {
	w.Flush(time.Now())
	if w.fd < 0 {
		return nil
	}
	err := unix.Close(w.fd)
	w.fd = -1
	if err != nil {
		return fmt.Errorf("syslog: %w", os.NewSyscallError("close", err))
	}
	return nil
}
