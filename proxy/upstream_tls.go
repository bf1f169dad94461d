//go:build linux

package proxy

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/netip"

	"github.com/nproxy/nproxy/config"
	"github.com/nproxy/nproxy/reactor"
	nptls "github.com/nproxy/nproxy/tls"
)

// TLS to https:// backends. The record layer sits inside upConn, between
// its reactor.Conn and the session (or health probe), which see plaintext
// only and do not know whether the backend speaks TLS:
//
//   - OnConnect starts the handshake, and the connection is reported up
//     (upConnected) only once the handshake is done, so a handshake that
//     fails (unknown authority, name mismatch, no common version, the
//     backend closing) is a connect failure: 502, the backend marked
//     failed, the request retried on another one, as for a refused
//     connect. proxy_connect_timeout, armed at the dial, runs until then,
//     so it covers the TCP connect and the handshake together.
//   - OnRecv feeds the ciphertext to the engine and hands each decrypted
//     record to the session; when the session stops reading (its buffer
//     is full) decryption stops too, and what stays buffered in the
//     engine is decrypted when it reads again.
//   - send encrypts the session's bytes one batch at a time (the engine's
//     Sender, the one the server's client connections use too), and
//     OnSendDone reaches the session only when all of them are out.
//
// The handshake runs in the engine's bounded goroutine; its progress is
// posted back to the loop. A pooled keep-alive connection keeps its TLS
// state, and a new connection resumes the session of an earlier one
// through its backend's ClientContext (its session cache). Splice cannot
// move TLS records, so a TLS backend's bodies always go by copy.

// testHookTLSBacklog, when set (by tests, before the worker starts), is
// called when decryption stops because the session paused reading.
var testHookTLSBacklog func()

// tlsPhase is where an upstream TLS connection stands. The transitions:
//
//	tlsHandshaking → tlsOpen, tlsFailed, tlsClosed
//	tlsOpen        → tlsEnded, tlsClosed
//	tlsEnded       → tlsClosed
//	tlsFailed      → tlsClosed
type tlsPhase uint8

const (
	// tlsHandshaking: the TCP connection is up and the handshake runs;
	// the session is not told about the connection yet.
	tlsHandshaking tlsPhase = iota
	// tlsOpen: records flow both ways; the session sees plaintext.
	tlsOpen
	// tlsEnded: the end of the backend's input (close_notify, EOF or a
	// read error) was reported; more input is ignored, sending goes on.
	tlsEnded
	// tlsFailed: the handshake failed and was reported as a connect
	// failure.
	tlsFailed
	// tlsClosed: release ran.
	tlsClosed
)

// upTLS is the TLS side of one upstream connection. Loop thread only.
type upTLS struct {
	t     *nptls.Conn
	out   nptls.Sender // sends t's records and the caller's bytes
	phase tlsPhase

	// Input: paused while the session's buffer is full; backlog when
	// decryption stopped for that with records possibly still buffered;
	// drainQueued while a drain waits in the loop's deferred queue;
	// readEnd once the socket's input ended (readErr why), which is
	// reported after the records before it.
	paused      bool
	backlog     bool
	drainQueued bool
	readEnd     bool
	readErr     error
}

// newClientContexts sets the TLS configuration the backends of an
// https:// proxy_pass get (backendTLS): the roots of proxy_tls_ca (the system roots without
// it), the server name (proxy_tls_server_name, by default the first
// backend's host name; with no name, each backend's own IP address,
// verified against the certificate's IP addresses and never sent as SNI,
// which carries names only) and proxy_tls_verify.
func (g *Group) newClientContexts(cfg *config.Server) error {
	var roots *x509.CertPool // nil: crypto/tls verifies against the system roots
	if cfg.ProxyTLSCA != "" && cfg.ProxyTLSVerify {
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(cfg.ProxyTLSCAPEM) { // as validated, not as the file is now
			return fmt.Errorf("proxy: proxy_tls_ca %s: no certificate", cfg.ProxyTLSCA)
		}
	}
	g.tlsRoots, g.tlsName, g.tlsVerify = roots, cfg.ProxyTLSServerName, cfg.ProxyTLSVerify
	g.tlsPlain = make([]byte, nptls.MaxRecordPlaintext) // one record per Read
	return nil
}

// backendTLS makes the TLS configuration of the backend at ip, as
// newClientContexts set the group's.
func (g *Group) backendTLS(ip netip.Addr) *nptls.ClientContext {
	name := g.tlsName
	if name == "" {
		name = ip.String()
	}
	return nptls.NewClientConfig(name, g.tlsRoots, g.tlsVerify)
}

// tlsStart begins the handshake once the TCP connection is up.
func (u *upConn) tlsStart() {
	t, rc := u.tls, u.rc
	l := u.g.loop
	var c *nptls.Conn
	onLoop := func() { u.tlsWakeOnLoop(c) }
	c = u.b.tls.Client(func() { l.Post(onLoop) })
	t.t = c
	t.out.Init(c, rc, l)
	rc.StartRecv()
	u.tlsHandshake()
}

// tlsWakeOnLoop continues a handshake whose goroutine made progress. A
// wake posted before the connection was closed (or for an earlier
// engine) finds it changed and does nothing.
func (u *upConn) tlsWakeOnLoop(c *nptls.Conn) {
	if u.rc == nil || u.tls == nil || u.tls.t != c || u.tls.phase != tlsHandshaking {
		return
	}
	u.tlsHandshake()
}

// tlsHandshake advances the handshake, sends what it produced and, once
// it is done, reports the connection up.
func (u *upConn) tlsHandshake() {
	t := u.tls
	done, err := t.t.Handshake()
	if _, perr := t.out.Flush(); err == nil && perr != nil {
		err = perr
	}
	if err != nil {
		u.tlsFail(err)
		return
	}
	if !done {
		return
	}
	t.phase = tlsOpen
	u.connected(nil)
	// Records that came with the backend's last flight (TLS 1.3 session
	// tickets) are taken now.
	if u.rc != nil && t.phase == tlsOpen {
		u.tlsDrain()
	}
}

// tlsFail reports a failed handshake as a connect failure; the session
// (or probe) closes the connection. An alert the engine produced may be
// in flight and is abandoned by the close.
func (u *upConn) tlsFail(err error) {
	u.tls.phase = tlsFailed
	u.connected(err)
}

// tlsRecv takes ciphertext from the socket.
func (u *upConn) tlsRecv(data []byte) {
	t := u.tls
	switch t.phase {
	case tlsHandshaking:
		t.t.Feed(data)
		u.tlsHandshake()
	case tlsOpen:
		t.t.Feed(data)
		u.tlsDrain()
	}
}

// tlsReadClosed handles the end of the socket's input.
func (u *upConn) tlsReadClosed(err error) {
	t := u.tls
	switch t.phase {
	case tlsHandshaking:
		// The handshake may have just finished or failed on what came
		// before the end: its own verdict says more than the end.
		if done, hsErr := t.t.Handshake(); hsErr != nil || done {
			if hsErr == nil {
				t.phase = tlsOpen
				t.readEnd, t.readErr = true, err
				u.connected(nil)
				if u.rc != nil && t.phase == tlsOpen {
					u.tlsDrain()
				}
				return
			}
			u.tlsFail(hsErr)
			return
		}
		if err == nil {
			err = errHandshakeClosed
		}
		u.tlsFail(err)
	case tlsOpen:
		t.readEnd, t.readErr = true, err
		u.tlsDrain()
	}
}

// tlsDrain decrypts the buffered records and hands their plaintext on,
// until none is left or the session pauses; then, if the socket's input
// has ended, reports the end. The end is the backend's close_notify, or
// an EOF between records (popular servers omit close_notify, and
// crypto/tls reads such an EOF as an end, too); an EOF inside a record is
// a truncation, reported as io.ErrUnexpectedEOF.
func (u *upConn) tlsDrain() {
	t := u.tls
	buf := u.g.tlsPlain
	for u.rc != nil && t.phase == tlsOpen {
		if t.paused && u.s != nil {
			t.backlog = true
			if testHookTLSBacklog != nil {
				testHookTLSBacklog()
			}
			return
		}
		n, err := t.t.Read(buf)
		if n > 0 {
			u.recvPlain(buf[:n])
			continue
		}
		t.backlog = false
		if t.t.Pending() > 0 {
			// Reading produced output of its own (an answer to a TLS 1.3
			// KeyUpdate). A send of the session's in flight carries it
			// out when it completes instead.
			if _, perr := t.out.Flush(); perr != nil {
				err = perr
			}
		}
		switch {
		case errors.Is(err, nptls.ErrWouldBlock):
			if !t.readEnd {
				return
			}
			err = t.readErr
			if err == nil && t.t.Buffered() > 0 {
				err = io.ErrUnexpectedEOF
			}
		case errors.Is(err, io.EOF):
			err = nil // close_notify
		}
		t.phase = tlsEnded
		u.readClosed(err)
		return
	}
}

// tlsResume continues decrypting after the session paused, once the loop
// has finished the current event: the session asks from inside its own
// handlers, which must not be re-entered.
func (u *upConn) tlsResume() {
	t := u.tls
	t.paused = false
	if t.backlog && !t.drainQueued && t.phase == tlsOpen {
		t.drainQueued = true
		u.g.loop.DeferOnLoop(u)
	}
}

// RunDeferred runs the drain tlsResume queued.
func (u *upConn) RunDeferred() {
	u.tls.drainQueued = false
	if u.rc != nil && u.tls.phase == tlsOpen && u.tls.backlog {
		u.tlsDrain()
	}
}

var _ reactor.Deferred = (*upConn)(nil)

// tlsSendDone handles the completion of a ciphertext send: the next
// batch goes out, and the caller hears of its send only once all of it
// is out.
func (u *upConn) tlsSendDone(err error) {
	t := u.tls
	busy, owed, err := t.out.SendDone(err)
	switch {
	case busy:
		// The next batch is on its way.
	case t.phase == tlsHandshaking:
		if err != nil {
			u.tlsFail(err)
		}
		// Else a handshake flight is out; the handshake goes on with the
		// backend's answer.
	case owed:
		u.sent(err)
	case err != nil:
		// Output of the engine's own (an alert, a KeyUpdate answer)
		// failed: the connection is broken.
		switch {
		case u.s != nil:
			u.s.upFailed(err)
		case u.probe != nil:
			u.probe.done(false)
		case u.rc != nil:
			u.g.dropIdle(u)
		}
	}
}

// tlsShutdownWrite half-closes after a close_notify, once the caller's
// send in flight is out; before the handshake is done (or once it
// failed) at once.
func (u *upConn) tlsShutdownWrite() {
	t := u.tls
	if t.phase == tlsHandshaking || t.phase == tlsFailed || t.phase == tlsClosed {
		u.rc.ShutdownWrite()
		return
	}
	t.out.ShutdownWrite()
}

// release frees the TLS state once the socket is closed (a send in
// flight was abandoned with it, so its buffer is free).
func (t *upTLS) release() {
	if t.phase == tlsClosed {
		return
	}
	t.phase = tlsClosed
	if t.t != nil {
		t.t.Close()
	}
	t.out.Release()
	t.readErr = nil
}
