package tls

import (
	ctls "crypto/tls"
	"errors"
	"fmt"
)

// connState is where a Conn stands. The allowed transitions:
//
//	stateNew         → stateQueued, stateHandshaking, stateFailed, stateClosed
//	stateQueued      → stateHandshaking, stateClosed
//	stateHandshaking → stateEstablished, stateFailed, stateClosed
//	stateEstablished → stateKernel, stateClosed
//	stateKernel      → stateClosed
//	stateFailed      → stateClosed
//
// Only the loop thread reads or changes it.
type connState uint8

const (
	// stateNew: made; a server waits for its first bytes, a client for
	// its first Handshake call. No goroutine, no crypto/tls state.
	stateNew connState = iota
	// stateQueued: waiting for a handshake slot; the limiter calls wake
	// when it grants one.
	stateQueued
	// stateHandshaking: the handshake goroutine owns crypto/tls.
	stateHandshaking
	// stateEstablished: records are read and written on the loop thread.
	stateEstablished
	// stateKernel: EnableKTLS handed the records to the kernel.
	stateKernel
	// stateFailed: the handshake failed; Conn.err says why.
	stateFailed
	// stateClosed: Close ran.
	stateClosed
)

// Conn is one connection's TLS state, driven by its worker's loop thread:
// Feed what the socket received, call Handshake until it reports done,
// then Read and Write; after each call, send what Output returns.
//
// All methods are for the loop thread only; the wake function given to
// Server or Client is the only thing called from other goroutines. A Conn
// must not be copied.
type Conn struct {
	p      pipe
	state  connState
	server bool
	used   bool // Read or Write ran after the handshake
	site   int
	err    error // why the handshake failed, in stateFailed

	// plainLeft: the last Read filled its buffer, so crypto/tls may hold
	// more plaintext of that record. readErr: an error crypto/tls returned
	// together with data, for the next Read.
	plainLeft bool
	readErr   error

	config *ctls.Config // what crypto/tls is started with
	tc     *ctls.Conn   // from the handshake's start until Close or EnableKTLS
	lim    *handshakeLimiter

	// kernelState is the connection state kept when EnableKTLS drops tc.
	kernelState *ctls.ConnectionState

	// The limiter's queue; guarded by lim.mu.
	wait               waitState
	waitPrev, waitNext *Conn
}

func newConn(server bool, config *ctls.Config, lim *handshakeLimiter, wake func(), capture *capture) *Conn {
	t := &Conn{server: server, config: config, lim: lim}
	t.p.init(wake, capture)
	return t
}

// Feed hands ciphertext received from the peer to the connection; b is
// copied. After a Feed call Handshake (during the handshake) or Read.
func (t *Conn) Feed(b []byte) {
	t.p.feed(b)
}

// Handshake advances the handshake without blocking. It returns done=true
// once the handshake is complete (and on every later call); until then
// the caller sends Output and calls Handshake again after the next Feed or
// wake. A non-nil error is fatal (wrapping ErrHandshake, or ErrPlainHTTP
// or ErrNotTLS for a first byte that is not TLS): send Output, which may
// hold an alert, then close.
//
// Ciphertext fed together with the peer's last handshake flight may
// already hold application data, so call Read right after done.
func (t *Conn) Handshake() (done bool, err error) {
	switch t.state {
	case stateEstablished, stateKernel:
		return true, nil
	case stateFailed:
		return false, t.err
	case stateClosed:
		return false, ErrClosed
	case stateNew:
		if t.server {
			first, fed := t.p.firstByte()
			if !fed {
				return false, nil // no goroutine or slot for a client that sent nothing yet
			}
			if first != recordTypeHandshake {
				if looksLikeMethod(first) {
					return false, t.fail(ErrPlainHTTP)
				}
				return false, t.fail(ErrNotTLS)
			}
		}
		if !t.lim.acquire(t) {
			t.state = stateQueued
			return false, nil
		}
		t.start()
		return false, nil
	case stateQueued:
		if !t.lim.takeGrant(t) {
			return false, nil
		}
		t.start()
		return false, nil
	}
	// stateHandshaking
	finished, site, hsErr := t.p.result()
	if !finished {
		return false, nil
	}
	if hsErr != nil {
		return false, t.fail(fmt.Errorf("%w: %w", ErrHandshake, hsErr))
	}
	t.state, t.site = stateEstablished, site
	return true, nil
}

// start runs the handshake in a goroutine; the caller holds a slot.
func (t *Conn) start() {
	t.state = stateHandshaking
	if t.server {
		t.tc = ctls.Server(&t.p, t.config)
	} else {
		t.tc = ctls.Client(&t.p, t.config)
	}
	go t.runHandshake(t.tc)
}

// runHandshake is the handshake goroutine. It touches only tc, the pipe
// and the limiter (never t's loop-thread fields); Close unblocks it by
// closing the pipe.
func (t *Conn) runHandshake(tc *ctls.Conn) {
	err := tc.Handshake()
	t.lim.release()
	t.p.finish(err)
	t.p.wakeNow()
}

func (t *Conn) fail(err error) error {
	t.state, t.err = stateFailed, err
	return err
}

// looksLikeMethod reports whether b can start an HTTP request line: every
// method token in use starts with an upper-case letter, and no TLS record
// type is one. nginx decides on the first byte as well.
func looksLikeMethod(b byte) bool {
	return 'A' <= b && b <= 'Z'
}

// LooksLikePlainHTTP reports whether the first bytes fed are an HTTP
// request (GET /, POST ...) rather than a TLS record: the server then
// answers nginx's "400 The plain HTTP request was sent to HTTPS port".
// Handshake returns ErrPlainHTTP in the same case.
func (t *Conn) LooksLikePlainHTTP() bool {
	first, fed := t.p.firstByte()
	return t.server && fed && looksLikeMethod(first)
}

// Read decrypts application data into p. It returns n > 0; or
// ErrWouldBlock when no whole record is buffered (Feed more and call
// again); or io.EOF after the peer's close_notify; or another error,
// which is fatal (send Output, which may hold an alert, then close).
// Reading can produce output of its own (a TLS 1.3 KeyUpdate answer):
// check Pending afterwards.
func (t *Conn) Read(p []byte) (int, error) {
	if t.state != stateEstablished {
		return 0, t.recordsError()
	}
	t.markUsed()
	if t.readErr != nil {
		return 0, t.readErr
	}
	if !t.plainLeft && !t.p.hasRecord() {
		// Nothing to decrypt: crypto/tls would only find that out at the
		// cost of an allocation.
		return 0, ErrWouldBlock
	}
	n, err := t.tc.Read(p)
	t.plainLeft = n > 0 && n == len(p)
	wouldBlock := errors.Is(err, errWouldBlock)
	if n > 0 {
		if err != nil && !wouldBlock {
			t.readErr = err
		}
		return n, nil
	}
	if wouldBlock {
		return 0, ErrWouldBlock
	}
	return 0, err
}

// Write encrypts p into records of at most 16 KiB of plaintext each and
// appends them to the output; the caller then sends Output. It returns
// len(p) unless the connection failed.
func (t *Conn) Write(p []byte) (int, error) {
	if t.state != stateEstablished {
		return 0, t.recordsError()
	}
	t.markUsed()
	return t.tc.Write(p)
}

// markUsed notes that records moved after the handshake, after which
// EnableKTLS can no longer know the sequence numbers, and drops the
// handshake records captured for it.
func (t *Conn) markUsed() {
	if !t.used {
		t.used = true
		t.p.takeCapture()
	}
}

func (t *Conn) recordsError() error {
	switch t.state {
	case stateFailed:
		return t.err
	case stateClosed:
		return ErrClosed
	case stateKernel:
		return ErrKernelRecords
	}
	return ErrHandshakeIncomplete
}

// CloseNotify queues a close_notify alert (send Output afterwards). It
// does nothing before the handshake is complete.
func (t *Conn) CloseNotify() {
	if t.state == stateEstablished {
		t.markUsed()
		_ = t.tc.CloseWrite() // only fails before the handshake or after a write error
	}
}

// Output appends the ciphertext that must be sent (handshake flights,
// alerts, records made by Write) to dst, clears it and returns the
// extended slice.
func (t *Conn) Output(dst []byte) []byte {
	return t.p.output(dst)
}

// Pending reports the bytes Output would append.
func (t *Conn) Pending() int {
	return t.p.pending()
}

// State reports the negotiated connection after the handshake: ServerName
// (the SNI), NegotiatedProtocol (ALPN), Version, CipherSuite, DidResume,
// PeerCertificates. Before the handshake completes it is the zero value.
func (t *Conn) State() ctls.ConnectionState {
	switch t.state {
	case stateEstablished:
		return t.tc.ConnectionState()
	case stateKernel:
		return *t.kernelState
	}
	return ctls.ConnectionState{}
}

// Site reports the index, into the slice given to NewContext, of the site
// the client's SNI chose (exact name, then the longest wildcard, then the
// first site). It is 0 before the handshake completes and on client
// connections.
func (t *Conn) Site() int {
	return t.site
}

// Close frees the connection's buffers and crypto/tls state. A handshake
// goroutine still running is unblocked and exits on its own; once Close
// returns, wake is never called again. Close is idempotent.
func (t *Conn) Close() {
	if t.state == stateClosed {
		return
	}
	if t.state == stateQueued {
		t.lim.cancel(t)
	}
	t.state = stateClosed
	t.p.shutdown()
	t.tc, t.config, t.kernelState = nil, nil, nil
}
