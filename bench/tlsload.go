//go:build linux

package bench

import (
	ctls "crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"

	nptls "github.com/nproxy/nproxy/tls"
	"golang.org/x/sys/unix"
)

// TLS on the generator's loops. Each connection's record layer is a
// nproxy/tls Conn, the same non-blocking engine the server runs: the loop
// feeds it the ciphertext a read returned, writes what Output gives, and
// reads plaintext out of it into the response parser. The handshake runs
// in one of the engine's bounded goroutines; each time it makes progress
// it calls the connection's wake function, which posts the connection to
// its loop (a queue under wakeMu and an eventfd in the loop's epoll set),
// and the loop advances it from there. Requests wait for the handshake:
// in closed loop latency counts from the send after it, as for a plain
// connection after its connect (wrk counts the same way); in open loop a
// request falls due on schedule whatever the handshake is doing.

// TLSLoad says how a run speaks TLS.
type TLSLoad struct {
	// ServerName is sent as SNI (unless it is an IP address) and keys the
	// session cache.
	ServerName string
	// Roots verifies the server's certificate chain. Nil accepts any
	// certificate, as wrk does; the handshake still checks the server's
	// signature with the certificate's key, so its cost is the same.
	Roots *x509.CertPool
	// Resume keeps one session cache for the whole run, so that every
	// connection after the first few resumes the session of an earlier
	// one with a session ticket (an abbreviated handshake). Without it
	// every connection starts with an empty cache: full handshakes only.
	Resume bool
	// Curves are the key exchange groups offered, most preferred first;
	// nil offers the tls package's default (X25519MLKEM768, X25519, P-256).
	Curves []ctls.CurveID
}

// validCurves reports whether list is a key exchange group list the tls
// package (and so tls_curves) takes.
func validCurves(list string) bool { return curvesError(list) == nil }

// curvesError is what is wrong with list, or nil.
func curvesError(list string) error {
	_, err := nptls.ParseCurves(list)
	return err
}

// tlsClient hands out the client configuration of each new connection.
type tlsClient struct {
	cfg    TLSLoad
	shared *nptls.ClientContext // Resume: the one session cache of the run
}

func newTLSClient(cfg *TLSLoad) *tlsClient {
	t := &tlsClient{cfg: *cfg}
	if cfg.Resume {
		t.shared = t.fresh()
	}
	return t
}

// fresh makes a client configuration with an empty session cache.
func (t *tlsClient) fresh() *nptls.ClientContext {
	c := nptls.NewClientConfig(t.cfg.ServerName, t.cfg.Roots, t.cfg.Roots != nil)
	if len(t.cfg.Curves) > 0 {
		c.SetCurves(t.cfg.Curves)
	}
	return c
}

// context returns the configuration of a new connection: the shared one
// when sessions are resumed, else one whose cache nothing else has filled,
// so that the handshake is a full one.
func (t *tlsClient) context() *nptls.ClientContext {
	if t.shared != nil {
		return t.shared
	}
	return t.fresh()
}

// wakeup names a connection a handshake goroutine advanced; gen tells a
// stale one (the connection was closed or reopened since) apart.
type wakeup struct {
	idx, gen int32
}

// openWakefd makes the eventfd the handshake goroutines signal and adds it
// to the loop's epoll set.
func (lp *loop) openWakefd() error {
	fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return fmt.Errorf("bench: %w", os.NewSyscallError("eventfd", err))
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: wakeTag}
	if err := unix.EpollCtl(lp.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		unix.Close(fd)
		return fmt.Errorf("bench: %w", os.NewSyscallError("epoll_ctl", err))
	}
	lp.wakefd = fd
	return nil
}

// post queues w for the loop and signals the eventfd when the queue was
// empty (a non-empty queue has a signal on its way already). Any
// goroutine: it is what the connections' wake functions do, and all they
// do.
func (lp *loop) post(w wakeup) {
	lp.wakeMu.Lock()
	first := len(lp.wakes) == 0
	lp.wakes = append(lp.wakes, w)
	lp.wakeMu.Unlock()
	if first {
		var one [8]byte
		binary.NativeEndian.PutUint64(one[:], 1)
		unix.Write(lp.wakefd, one[:]) // EAGAIN only if the counter is full: it is signalled then
	}
}

// drainWakes advances every connection posted since the last call. The
// eventfd is cleared before the queue is taken, so a post after the
// swap signals it again.
func (lp *loop) drainWakes(now int64) {
	var b [8]byte
	unix.Read(lp.wakefd, b[:])
	lp.wakeMu.Lock()
	lp.wakes, lp.spare = lp.spare[:0], lp.wakes
	lp.wakeMu.Unlock()
	for _, w := range lp.spare {
		c := &lp.conns[w.idx]
		if c.gen != w.gen || c.fd < 0 || c.tls == nil {
			continue // closed, or reopened, since
		}
		c.activity = now
		lp.tlsProgress(c, now)
	}
}

// yieldToHandshakes lets the handshake goroutines run before the loop
// waits again. While the run lasts every thread of the process is on the
// client CPUs, so the runtime soon runs it with as many Ps as those; with
// one, a goroutine made runnable by the loop thread would wait until
// sysmon takes the P from the thread blocked in epoll_wait, and the
// handshake rate would measure that wait. The server does the same (see
// server/tlsconn.go, handshakeYield).
func (lp *loop) yieldToHandshakes() {
	lp.yield = false
	runtime.Gosched()
}

// startTLS begins the handshake of a connection just connected.
func (lp *loop) startTLS(c *conn, now int64) {
	w := wakeup{idx: c.idx, gen: c.gen}
	c.tls = lp.tc.context().Client(func() { lp.post(w) })
	c.tlsReady = false
	c.tout, c.toff = c.tout[:0], 0
	lp.tlsProgress(c, now)
}

// tlsInput takes ciphertext the socket returned; b is copied.
func (lp *loop) tlsInput(c *conn, b []byte, now int64) {
	c.tls.Feed(b)
	lp.tlsProgress(c, now)
}

// tlsProgress advances c's handshake and, once it is done, decrypts every
// whole record received and parses the plaintext. lp.buf is free for the
// plaintext: Feed copied the ciphertext out of it.
func (lp *loop) tlsProgress(c *conn, now int64) {
	t, gen := c.tls, c.gen
	if !c.tlsReady {
		done, err := t.Handshake()
		if err != nil {
			lp.handshakeFailed(c, now, err)
			return
		}
		lp.tlsFlush(c, now) // the handshake's next flight, if it is out
		if c.fd < 0 || c.gen != gen {
			return
		}
		if !done {
			lp.yield = true
			return
		}
		lp.handshakeDone(c, now)
		if c.fd < 0 || c.gen != gen {
			return
		}
	}
	for {
		n, err := t.Read(lp.buf)
		if n > 0 {
			lp.res.Bytes += uint64(n)
			if !lp.consume(c, lp.buf[:n], now) {
				return
			}
			continue
		}
		switch {
		case errors.Is(err, nptls.ErrWouldBlock):
			if t.Pending() > 0 {
				lp.tlsFlush(c, now) // reading made records of its own (a KeyUpdate)
			}
		case errors.Is(err, io.EOF):
			lp.eof(c, now) // close_notify
		default:
			lp.fail(c, &lp.res.Errors.Read, now)
		}
		return
	}
}

// handshakeDone counts a completed handshake and starts c's requests.
func (lp *loop) handshakeDone(c *conn, now int64) {
	c.tlsReady = true
	lp.connFails = 0
	st := c.tls.State()
	if st.DidResume {
		lp.res.ResumedHandshakes++
	} else {
		lp.res.FullHandshakes++
	}
	if lp.res.TLSParams == "" {
		lp.res.TLSParams = tlsParams(&st)
	}
	lp.ready(c, now)
}

// tlsParams names what a handshake negotiated.
func tlsParams(st *ctls.ConnectionState) string {
	return ctls.VersionName(st.Version) + " " + ctls.CipherSuiteName(st.CipherSuite) + " " + st.CurveID.String()
}

// handshakeFailed drops c after a failed handshake. It counts once, or
// once per request an open loop queued on c meanwhile, and it counts
// toward the streak of failures after which the loop gives up, as a
// failed connect does: a server that refuses every handshake would
// otherwise be retried forever in count mode.
func (lp *loop) handshakeFailed(c *conn, now int64, err error) {
	lp.res.Errors.Handshake += uint64(max(c.inflight, 1))
	c.inflight = 0
	lp.closeFd(c)
	lp.connFails++
	if lp.connFails >= maxConnectStreak {
		lp.err = fmt.Errorf("bench: TLS handshake with %s: %d failures in a row, last: %w", lp.l.Addr, lp.connFails, err)
		return
	}
	lp.reopen(c, now)
}

// tlsFlush encrypts the request bytes queued on c, once its handshake is
// done, and writes what ciphertext the socket takes; the rest waits in
// c.tout for EPOLLOUT. Records cannot be rewritten from the request ring
// the way plain bytes are (each has its own sequence number), hence the
// per-connection buffer.
func (lp *loop) tlsFlush(c *conn, now int64) {
	t := c.tls
	if c.tlsReady {
		for c.wpend > 0 {
			off := (lp.reqLen - c.wpend%lp.reqLen) % lp.reqLen
			n := min(c.wpend, len(lp.ring)-off)
			if _, err := t.Write(lp.ring[off : off+n]); err != nil {
				lp.fail(c, &lp.res.Errors.Write, now)
				return
			}
			c.wpend -= n
		}
	}
	if t.Pending() > 0 {
		if c.toff == len(c.tout) {
			c.tout, c.toff = c.tout[:0], 0
		}
		c.tout = t.Output(c.tout)
	}
	for c.toff < len(c.tout) {
		w, err := unix.Write(c.fd, c.tout[c.toff:])
		if err == unix.EAGAIN {
			break
		}
		if err != nil {
			if c.handshaking() {
				lp.handshakeFailed(c, now, os.NewSyscallError("write", err))
			} else {
				lp.fail(c, &lp.res.Errors.Write, now)
			}
			return
		}
		c.toff += w
		c.activity = now
	}
	if c.toff == len(c.tout) {
		c.tout, c.toff = c.tout[:0], 0
	}
	if want := c.toff < len(c.tout); want != c.wantOut {
		c.wantOut = want
		ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: c.idx, Pad: c.gen}
		if want {
			ev.Events |= unix.EPOLLOUT
		}
		unix.EpollCtl(lp.epfd, unix.EPOLL_CTL_MOD, c.fd, &ev)
	}
}

// closeTLS frees c's TLS state; its handshake goroutine, if any, ends on
// its own and never calls wake again.
func (lp *loop) closeTLS(c *conn) {
	c.tls.Close()
	c.tls, c.tlsReady = nil, false
	c.tout, c.toff = c.tout[:0], 0
}
