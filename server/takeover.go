//go:build linux

package server

import (
	"errors"
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
	if c.h2 != nil {
		return c.h2.hijack(st)
	}
	tk := c.tk
	if tk == nil {
		tk = c.getTakeover()
	}
	tk.stream = st
	c.state = stTakeover
	tk.want, tk.feed, tk.eofTold = wantNothing, true, false
	c.startStream(c.s.x.Req, c.s.x.Buf) // the head is valid during Serve
	c.rc.SetTimeout(0)
	return c
}

// errStreamBusy is returned to a stream that sends while its previous
// send is still in flight: a bug in the stream, reported rather than
// letting two sends share the connection.
var errStreamBusy = errors.New("server: stream send while the previous one is in flight")

// errNoSplice is returned by SpliceFrom on a connection that cannot take
// spliced bytes (TLS); streams ask CanSplice first.
var errNoSplice = errors.New("server: splice into a TLS connection")

// CanSplice reports whether SpliceFrom may be used.
func (c *conn) CanSplice() bool { return c.canSplice() }

// Send writes b to the client for the stream. While the conn's own
// output (responses to earlier pipelined requests) is still in flight, b
// waits for it: responses leave in request order.
func (c *conn) Send(b []byte) (bool, error) {
	if c.state != stTakeover {
		return false, reactor.ErrClosed
	}
	tk := c.tk
	if tk.streamSending {
		return false, errStreamBusy
	}
	c.countSent(len(b))
	if c.sending {
		tk.streamQueued, tk.streamSending, tk.streamBuf = b, true, b
		return false, nil
	}
	done, err := c.send(b)
	if err == nil && !done {
		tk.streamSending, tk.streamBuf = true, b
	}
	return done, err
}

// sendQueued sends the stream's Send that waited for the conn's own
// output, once that is out; called by flush, a conn method.
func (c *conn) sendQueued() {
	tk := c.tk
	b := tk.streamQueued
	if b == nil {
		return
	}
	tk.streamQueued = nil
	if tk.stream == nil {
		// Aborted while it waited: nothing more goes out (the buffer is
		// the conn's orphan now).
		tk.streamSending = false
		c.settle()
		return
	}
	done, err := c.send(b)
	if err == nil && !done {
		return // ClientSent follows from OnSendDone
	}
	tk.streamSending, tk.streamBuf = false, nil
	if tk.stream != nil {
		tk.stream.ClientSent(err)
	}
	c.settle()
}

// SpliceFrom moves n bytes from src to the client for the stream.
func (c *conn) SpliceFrom(src *reactor.Conn, n int64) (bool, error) {
	if c.state != stTakeover {
		return false, reactor.ErrClosed
	}
	if c.sending || c.tk.streamSending {
		return false, errStreamBusy
	}
	done, err := c.spliceFrom(src, n)
	if err != nil {
		return false, err
	}
	c.countSent(int(n))
	if !done {
		c.tk.streamSending = true
	}
	return done, nil
}

// PauseRecv stops client input (backpressure from the upstream side).
func (c *conn) PauseRecv() {
	if c.state == stTakeover {
		c.tk.feed = false
		c.rc.StopRecv()
	}
}

// ResumeRecv asks for client input again: bytes the conn holds are
// offered by settle, after the caller has returned.
func (c *conn) ResumeRecv() {
	if c.state != stTakeover {
		return
	}
	c.tk.feed = true
	if len(c.in) > 0 || c.readClosed && !c.tk.eofTold {
		c.post()
		return
	}
	if !c.readClosed {
		c.rc.StartRecv()
	}
}

// SetTimeout arms the client connection's timer for the stream.
func (c *conn) SetTimeout(d time.Duration) {
	if c.state == stTakeover {
		c.rc.SetTimeout(d)
	}
}

// SetResult records the streamed response's status and body bytes.
func (c *conn) SetResult(status int, body int64) {
	if o := c.obsv; o != nil && o.stream != nil {
		o.stream.result(status, body)
	}
	if tk := c.tk; tk != nil && tk.mods != nil {
		tk.mods.SetResult(status, body)
	}
}

// countSent adds n bytes a stream gave the connection to its $bytes_sent.
func (c *conn) countSent(n int) {
	if o := c.obsv; o != nil && o.stream != nil {
		o.stream.sent += int64(n)
	}
}

// StreamLog returns where the stream records the backends it tries,
// when the access log's format shows them.
func (c *conn) StreamLog() *http.StreamLog {
	if o := c.obsv; o != nil && o.stream != nil {
		return o.stream.streamLog()
	}
	return nil
}

// HeadFilter returns the modules' filter of the stream's response head,
// or nil.
func (c *conn) HeadFilter() http.HeadFilter {
	if c.state != stTakeover || c.tk.mods == nil {
		return nil
	}
	return c.tk.mods
}

// Release records that the stream gives the connection back; settle
// applies it.
func (c *conn) Release(keepAlive bool) {
	if c.state != stTakeover || c.tk.want != wantNothing {
		return
	}
	tk := c.tk
	tk.want = wantClose
	if keepAlive {
		tk.want = wantKeep
	}
	tk.stream = nil // no Stream call follows Release, even before it is applied
	c.post()
}

// Abort records that the stream wants the connection closed; settle
// applies it.
func (c *conn) Abort() {
	if c.state != stTakeover {
		return
	}
	tk := c.tk
	tk.want = wantAbort
	tk.stream = nil // no Stream call follows Abort, even before it is applied
	if tk.streamSending && tk.streamBuf != nil {
		// The stream's buffer still being sent is ours now (http.Client).
		tk.orphan, tk.streamBuf = tk.streamBuf, nil
	}
	c.post()
}

// post makes sure settle runs: when a conn method is on the stack it
// runs settle before returning; otherwise the stream acted on an event of
// its own, and the loop runs it once that event's handlers have returned.
func (c *conn) post() {
	if c.depth > 0 || c.posted {
		return
	}
	c.posted = true
	s := c.s
	s.ready = append(s.ready, connRef{c: c, seq: c.seq})
	if !s.readyQueued {
		s.readyQueued = true
		s.loop.DeferOnLoop(s)
	}
}

// connRef names one use of a recycled conn.
type connRef struct {
	c   *conn
	seq uint32
}

// RunDeferred settles the conns whose streams asked for something from
// outside a conn method (reactor.Deferred).
func (s *Server) RunDeferred() {
	s.readyQueued = false
	s.readyRun, s.ready = s.ready, s.readyRun[:0]
	for i, r := range s.readyRun {
		s.readyRun[i] = connRef{}
		c := r.c
		if c.seq != r.seq || c.state == stClosed {
			continue
		}
		c.posted = false
		c.enter()
		if c.h2 != nil {
			c.h2Flush() // a taken-over stream's step acted (h2proxy.go)
		} else {
			c.settle()
		}
		c.leave()
	}
	s.readyRun = s.readyRun[:0]
}

// settle applies what the stream asked for during the Stream call that
// just returned (or since it was posted): Abort closes, Release hands the
// connection back to request parsing, and input the stream asked for is
// offered from c.in, then the EOF that followed it. A conn method only.
func (c *conn) settle() {
	for c.state == stTakeover {
		tk := c.tk
		if tk.want != wantNothing {
			c.applyWant()
			if c.state == stRead && !c.inProcess {
				c.flush()
			}
			return
		}
		switch {
		case tk.stream == nil:
			return // released: Release or Abort waits for applyWant (want is set)
		case tk.feed && len(c.in) > 0:
			n := tk.stream.ClientData(c.in)
			c.consumeIn(n)
			if len(c.in) > 0 {
				tk.feed = false
				c.rc.StopRecv()
			} else if !c.readClosed {
				c.rc.StartRecv()
			}
		case c.readClosed && !tk.eofTold && len(c.in) == 0:
			tk.eofTold = true
			tk.stream.ClientClosed(nil)
		default:
			return
		}
	}
}

// applyWant applies a recorded Release or Abort.
func (c *conn) applyWant() {
	tk := c.tk
	if tk == nil {
		return
	}
	switch tk.want {
	case wantNothing:
		return
	case wantAbort:
		tk.want = wantNothing
		c.detachStream()
		c.closeNow()
	default:
		keep := tk.want == wantKeep
		tk.want = wantNothing
		c.detachStream()
		c.state = stRead
		// A stream that keeps the connection while the server drains
		// sent its response head before the drain began, saying
		// keep-alive: the connection goes back to waiting for a request,
		// which gets Connection: close, or for drain_idle_grace
		// (drain.go). Closing it now would race the client's next
		// request.
		if !keep || c.readClosed {
			c.closeAfter = true
		}
	}
}

// detachStream ends the takeover's bookkeeping: no Stream call follows.
// The takeover goes back to the pool, unless it holds the buffer of a
// send still in flight at Abort (teardown puts both).
func (c *conn) detachStream() {
	tk := c.tk
	tk.stream = nil
	tk.streamSending, tk.streamQueued, tk.streamBuf = false, nil, nil
	tk.feed, tk.eofTold = false, false
	c.endStream()
	if tk.orphan == nil {
		c.putTakeover()
	}
}

// consumeIn drops the first n bytes of c.in.
func (c *conn) consumeIn(n int) {
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

// ShutdownWrite half-closes the client connection.
func (c *conn) ShutdownWrite() {
	if c.state == stTakeover {
		c.shutdownWrite()
	}
}

// PeerAddr appends the client's address (without port) to b: the
// request's real client (real_ip_from, a PROXY protocol header) or the
// socket's peer (observe.go's peerAddr, which asks the kernel once per
// connection: getpeername per request was 6% of a worker's CPU in
// BenchmarkProxyGet).
func (c *conn) PeerAddr(b []byte) []byte {
	a := c.peerAddr()
	if !a.IsValid() {
		return b
	}
	return a.AppendTo(b)
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
