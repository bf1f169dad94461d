package tls

import (
	"net"
	"sync"
	"time"
)

// TLS record layer constants (RFC 8446 §5.1, RFC 5246 §6.2.1).
const (
	recordHeaderLen = 5 // type, legacy version, length

	// maxCiphertext is the largest record body any version allows
	// (TLS 1.2: 2^14 + 2048); crypto/tls refuses a longer one as soon as
	// it has read the header.
	maxCiphertext = 16384 + 2048

	recordTypeChangeCipherSpec = 20
	recordTypeAlert            = 21
	recordTypeHandshake        = 22
	recordTypeApplicationData  = 23
)

// errWouldBlock is what the pipe's Read returns in non-blocking mode when
// no ciphertext is buffered.
//
// Why a temporary net.Error is safe: crypto/tls (Go 1.26, conn.go,
// readRecordOrCCS) reads a record with readFromUntil, first the 5-byte
// header and then the body, and after either read it stores the error in
// c.in.err — which would fail every later Read — only when the error is
// not a net.Error whose Temporary() is true. A temporary error is
// returned to the caller and nothing is poisoned. Bytes read before the
// error stay in c.rawInput (bytes.Buffer.ReadFrom keeps what a Read
// returned before its error), and a partial record is not consumed until
// all of it is there, so the next Read resumes where this one stopped.
// The connection tests read records fed a few bytes at a time to keep
// this fact checked.
var errWouldBlock net.Error = wouldBlockError{}

type wouldBlockError struct{}

func (wouldBlockError) Error() string   { return "tls: no ciphertext buffered" }
func (wouldBlockError) Timeout() bool   { return true }
func (wouldBlockError) Temporary() bool { return true }

// maxPooledBuffer is the largest buffer put back in bufferPool: a few
// records' worth. Larger ones (a client pipelining a big body) go to the
// garbage collector rather than stay pinned in the pool.
const maxPooledBuffer = 64 << 10

// bufferPool holds the pipe's input and output buffers while no
// connection needs them: an idle connection holds neither.
var bufferPool = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

func getBuffer() *[]byte { return bufferPool.Get().(*[]byte) }

func putBuffer(b *[]byte) {
	if cap(*b) > maxPooledBuffer {
		return
	}
	*b = (*b)[:0]
	bufferPool.Put(b)
}

// pipe is the net.Conn that crypto/tls reads ciphertext from and writes
// ciphertext to. Its Read hands over at most the rest of the current
// record, so crypto/tls never holds a byte of the next record; and it has
// two modes:
//
//   - blocking, while the handshake goroutine owns crypto/tls: Read waits
//     on cond until Feed delivers bytes or Close. Because of the record
//     limit, crypto/tls holds no byte beyond the last handshake record
//     when the handshake ends (the kernel TLS hand-over relies on it).
//     Write appends and calls wake.
//   - non-blocking, once the loop thread has seen the handshake finish:
//     Read starts a record only once all of it is buffered, and returns
//     errWouldBlock otherwise; Write appends. So crypto/tls's input is
//     empty between records, and Conn.Read can tell from the pipe alone
//     whether crypto/tls would block (hasRecord), without calling it:
//     crypto/tls allocates on every read that needs bytes.
//
// Everything is guarded by mu, because in blocking mode the handshake
// goroutine and the loop thread both touch it; the loop thread's later
// accesses are ordered after the goroutine's through the same mutex (the
// goroutine sets hsDone under it, the loop reads it under it).
type pipe struct {
	mu   sync.Mutex
	cond sync.Cond // L is &mu; signalled when input arrives or the pipe closes

	in    *[]byte // ciphertext fed and not yet read by crypto/tls, from inOff; nil when drained
	inOff int
	out   *[]byte // ciphertext written by crypto/tls and not yet taken by Output; nil when empty

	fed      bool // Feed has delivered at least one byte
	first    byte // the first byte fed, for LooksLikePlainHTTP
	blocking bool // the handshake goroutine owns crypto/tls
	closed   bool
	recLeft  int  // bytes of the current record Read has not handed over yet
	starved  bool // the handshake goroutine waits in Read for input (tests ask)

	hsDone bool  // the handshake goroutine has finished
	hsErr  error // its result
	site   int   // the site GetConfigForClient chose

	capture *capture // secrets and handshake records for EnableKTLS; nil unless captured

	// wakeMu is held while wake runs and while Close marks noWake, so that
	// no wake starts after Close returns and none is still running then.
	wakeMu sync.Mutex
	noWake bool
	wake   func()
}

func (p *pipe) init(wake func(), capture *capture) {
	p.cond.L = &p.mu
	p.blocking = true
	p.wake = wake
	p.capture = capture
}

// wakeNow calls wake unless the connection is closed. Any goroutine; never
// with mu held.
func (p *pipe) wakeNow() {
	p.wakeMu.Lock()
	if !p.noWake && p.wake != nil {
		p.wake()
	}
	p.wakeMu.Unlock()
}

// feed appends ciphertext received from the peer. Loop thread.
func (p *pipe) feed(b []byte) {
	if len(b) == 0 {
		return
	}
	p.mu.Lock()
	if !p.closed {
		if !p.fed {
			p.fed, p.first = true, b[0]
		}
		if p.in == nil {
			p.in, p.inOff = getBuffer(), 0
		} else if p.inOff > 0 {
			n := copy(*p.in, (*p.in)[p.inOff:])
			*p.in, p.inOff = (*p.in)[:n], 0
		}
		*p.in = append(*p.in, b...)
		p.cond.Signal()
	}
	p.mu.Unlock()
}

// Read hands buffered ciphertext to crypto/tls; see the type's comment for
// the two modes.
func (p *pipe) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		if p.closed {
			return 0, net.ErrClosed
		}
		avail := 0
		if p.in != nil {
			avail = len(*p.in) - p.inOff
		}
		if p.recLeft == 0 && (p.blocking && avail >= recordHeaderLen || p.wholeRecordLocked(avail)) {
			h := (*p.in)[p.inOff:]
			p.recLeft = recordHeaderLen + (int(h[3])<<8 | int(h[4]))
		}
		if p.recLeft > 0 && avail > 0 {
			n := p.takeLocked(b, min(avail, p.recLeft))
			p.recLeft -= n
			return n, nil
		}
		if !p.blocking {
			return 0, errWouldBlock
		}
		p.starved = true
		p.cond.Wait()
		p.starved = false
	}
}

// awaitingInput reports whether the handshake goroutine is blocked for
// want of input, so that only a Feed can move it on (and not merely yet
// to wake up for one).
func (p *pipe) awaitingInput() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	avail := 0
	if p.in != nil {
		avail = len(*p.in) - p.inOff
	}
	canRead := p.recLeft > 0 && avail > 0 || p.recLeft == 0 && avail >= recordHeaderLen
	return p.starved && !canRead && !p.closed
}

// wholeRecordLocked reports whether the buffered input starts with a
// whole record, or with a header crypto/tls will refuse by itself.
func (p *pipe) wholeRecordLocked(avail int) bool {
	if avail < recordHeaderLen {
		return false
	}
	h := (*p.in)[p.inOff:]
	n := int(h[3])<<8 | int(h[4])
	return avail >= recordHeaderLen+n || n > maxCiphertext
}

// hasRecord reports whether Read would hand crypto/tls anything: the rest
// of a record it has started, or a whole new one. Loop thread, after the
// handshake.
func (p *pipe) hasRecord() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.in == nil {
		return false
	}
	return p.recLeft > 0 || p.wholeRecordLocked(len(*p.in)-p.inOff)
}

// takeLocked copies up to n buffered bytes into b and releases the input
// buffer once it is drained.
func (p *pipe) takeLocked(b []byte, n int) int {
	n = copy(b[:min(len(b), n)], (*p.in)[p.inOff:])
	if p.capture != nil && p.blocking {
		p.capture.in = append(p.capture.in, b[:n]...)
	}
	p.inOff += n
	if p.inOff == len(*p.in) {
		putBuffer(p.in)
		p.in, p.inOff = nil, 0
	}
	return n
}

// Write appends ciphertext crypto/tls produced; in blocking mode it wakes
// the loop to send it.
func (p *pipe) Write(b []byte) (int, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return 0, net.ErrClosed
	}
	if p.out == nil {
		p.out = getBuffer()
	}
	*p.out = append(*p.out, b...)
	if p.capture != nil && p.blocking {
		p.capture.out = append(p.capture.out, b...)
	}
	async := p.blocking
	p.mu.Unlock()
	if async {
		p.wakeNow()
	}
	return len(b), nil
}

// output appends the pending ciphertext to dst and clears it. Loop thread.
func (p *pipe) output(dst []byte) []byte {
	p.mu.Lock()
	if p.out != nil {
		dst = append(dst, *p.out...)
		putBuffer(p.out)
		p.out = nil
	}
	p.mu.Unlock()
	return dst
}

// pending reports the bytes output would append. Loop thread.
func (p *pipe) pending() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.out == nil {
		return 0
	}
	return len(*p.out)
}

// buffered reports the ciphertext fed and not yet read by crypto/tls.
func (p *pipe) buffered() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.in == nil {
		return 0
	}
	return len(*p.in) - p.inOff
}

// firstByte reports the first byte fed, if any. Loop thread.
func (p *pipe) firstByte() (byte, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.first, p.fed
}

// finish records the handshake goroutine's result. Handshake goroutine.
func (p *pipe) finish(err error) {
	p.mu.Lock()
	p.hsDone, p.hsErr = true, err
	p.mu.Unlock()
}

// result reports whether the handshake goroutine has finished and how; once
// it has, the pipe switches to non-blocking mode. Loop thread.
func (p *pipe) result() (done bool, site int, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.hsDone {
		return false, 0, nil
	}
	p.blocking = false
	return true, p.site, p.hsErr
}

// setSite records the site SNI chose and returns the capture the
// handshake's secrets go to (nil if none, or if Close already ran).
// Handshake goroutine.
func (p *pipe) setSite(i int) *capture {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.site = i
	return p.capture
}

// takeCapture hands the captured handshake over (nil if none) and stops
// capturing. Loop thread, after the handshake.
func (p *pipe) takeCapture() *capture {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.capture
	p.capture = nil
	return c
}

// shutdown closes the pipe: a Read blocked in the handshake goroutine
// returns net.ErrClosed and the buffers go back to the pool. wake is
// silenced first, waiting out a call in flight, so that the goroutine's
// reaction to the close cannot wake the loop either. Loop thread.
func (p *pipe) shutdown() {
	p.wakeMu.Lock()
	p.noWake = true
	p.wakeMu.Unlock()
	p.mu.Lock()
	p.closed = true
	p.cond.Broadcast()
	if p.in != nil {
		putBuffer(p.in)
		p.in, p.inOff = nil, 0
	}
	if p.out != nil {
		putBuffer(p.out)
		p.out = nil
	}
	p.capture = nil
	p.mu.Unlock()
}

// Close is part of net.Conn; crypto/tls calls it only from its own Close,
// which this package never calls.
func (p *pipe) Close() error {
	p.mu.Lock()
	p.closed = true
	p.cond.Broadcast()
	p.mu.Unlock()
	return nil
}

// pipeAddr is the address a pipe reports: it has none of its own.
type pipeAddr struct{}

func (pipeAddr) Network() string { return "nproxy-tls" }
func (pipeAddr) String() string  { return "nproxy-tls" }

func (p *pipe) LocalAddr() net.Addr              { return pipeAddr{} }
func (p *pipe) RemoteAddr() net.Addr             { return pipeAddr{} }
func (p *pipe) SetDeadline(time.Time) error      { return nil }
func (p *pipe) SetReadDeadline(time.Time) error  { return nil }
func (p *pipe) SetWriteDeadline(time.Time) error { return nil }

var _ net.Conn = (*pipe)(nil)

// nextRecord splits the first whole record off a stream of records.
func nextRecord(stream []byte) (rec, rest []byte, ok bool) {
	if len(stream) < recordHeaderLen {
		return nil, stream, false
	}
	n := recordHeaderLen + (int(stream[3])<<8 | int(stream[4]))
	if len(stream) < n {
		return nil, stream, false
	}
	return stream[:n], stream[n:], true
}
