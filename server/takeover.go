//go:build linux

package server

import (
	"net/netip"
	"time"
	"unsafe"

	"github.com/nproxy/nproxy/http"
	"github.com/nproxy/nproxy/reactor"
	"golang.org/x/sys/unix"
)

// The conn is the http.Takeover of the exchanges it serves, and the
// http.Client of the stream that hijacks it.
var (
	_ http.Takeover = (*conn)(nil)
	_ http.Client   = (*conn)(nil)
)

// Hijack hands the connection to st (see http.Takeover).
func (c *conn) Hijack(st http.Stream) http.Client {
	c.stream = st
	c.state = stTakeover
	c.startStream(c.s.x.Req, c.s.x.Buf) // the head is valid during Serve
	c.rc.SetTimeout(0)
	return c
}

// Send writes b to the client for the stream.
func (c *conn) Send(b []byte) (bool, error) {
	if c.rc == nil {
		return false, reactor.ErrClosed
	}
	done, err := c.rc.Send(b)
	c.streamSent(b)
	if err == nil && !done {
		c.streamSending = true
	}
	return done, err
}

// SpliceFrom moves n bytes from src to the client for the stream. They
// count as body bytes sent (the head went out with Send before).
func (c *conn) SpliceFrom(src *reactor.Conn, n int64) (bool, error) {
	if c.rc == nil {
		return false, reactor.ErrClosed
	}
	done, err := c.rc.Splice(src, n)
	if err != nil {
		return false, err
	}
	if o := c.obsv; o != nil && o.stream != nil {
		o.stream.body += n
	}
	if !done {
		c.streamSending = true
	}
	return done, nil
}

// PauseRecv stops client input (backpressure from the upstream side).
func (c *conn) PauseRecv() {
	if c.rc != nil {
		c.rc.StopRecv()
	}
}

// ResumeRecv restarts client input.
func (c *conn) ResumeRecv() {
	if c.rc != nil && !c.readClosed {
		c.rc.StartRecv()
	}
}

// Buffered returns the client bytes the stream has not taken.
func (c *conn) Buffered() []byte { return c.in }

// Consume drops n bytes of Buffered.
func (c *conn) Consume(n int) {
	if n <= 0 || c.in == nil {
		return
	}
	k := copy(c.in, c.in[n:])
	c.in = c.in[:k]
	if k == 0 {
		c.s.loop.PutBuf(c.in)
		c.in = nil
	}
}

// SetTimeout arms the client connection's timer for the stream.
func (c *conn) SetTimeout(d time.Duration) {
	if c.rc != nil {
		c.rc.SetTimeout(d)
	}
}

// Release ends the takeover: the connection reads its next request, or
// closes once its output is sent.
func (c *conn) Release(keepAlive bool) {
	if c.rc == nil {
		return
	}
	c.stream = nil
	c.streamSending = false
	c.endStream()
	c.state = stRead
	if !keepAlive || c.s.draining || c.readClosed {
		c.closeAfter = true
	}
	if c.busy {
		return // process goes on with the next request itself
	}
	c.flush()
}

// Abort closes the client connection for the stream.
func (c *conn) Abort() {
	c.stream = nil
	c.closeNow()
}

// ShutdownWrite half-closes the client connection.
func (c *conn) ShutdownWrite() {
	if c.rc != nil {
		c.rc.ShutdownWrite()
	}
}

// PeerAddr appends the client's address (without port) to b. It asks the
// kernel (getpeername) once per connection, the first time a proxied
// request needs it, rather than at every accept: getpeername per request
// was 6% of a worker's CPU in BenchmarkProxyGet.
func (c *conn) PeerAddr(b []byte) []byte {
	if !c.peer.IsValid() {
		c.peer = peerOf(c.rc.Fd())
	}
	if !c.peer.IsValid() {
		return b
	}
	return c.peer.AppendTo(b)
}

func peerOf(fd int) netip.Addr {
	var sa unix.RawSockaddrAny
	n := uint32(unix.SizeofSockaddrAny)
	_, _, e := unix.RawSyscall(unix.SYS_GETPEERNAME, uintptr(fd), uintptr(unsafe.Pointer(&sa)), uintptr(unsafe.Pointer(&n)))
	if e != 0 {
		return netip.Addr{}
	}
	switch sa.Addr.Family {
	case unix.AF_INET:
		p := (*unix.RawSockaddrInet4)(unsafe.Pointer(&sa))
		return netip.AddrFrom4(p.Addr)
	case unix.AF_INET6:
		p := (*unix.RawSockaddrInet6)(unsafe.Pointer(&sa))
		return netip.AddrFrom16(p.Addr).Unmap()
	}
	return netip.Addr{}
}

// Date returns the current Date header value.
func (c *conn) Date() []byte { return c.s.date.Get(c.s.loop.Now()) }
