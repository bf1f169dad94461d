//go:build linux

package reactor

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// rawWait bounds the part of a poll's wait that the Go scheduler does not
// see (ring.SubmitAndWaitRaw; epoll_pwait through RawSyscall6). With one P
// (GOMAXPROCS=1), a thread blocked in Syscall6 for longer than a tick of
// the runtime's sysmon (20 us while busy) has its P retaken and handed off,
// waking another thread that finds nothing to do, and every retake keeps
// sysmon on that fast tick: a loop that waits a few microseconds at a time
// under load paid it on most waits. A raw wait is never retaken. Its bound
// is the runtime's own preemption slice (sysmon signals a goroutine that
// ran 10 ms without yielding; the signal ends the wait with EINTR), so
// other goroutines and a stop-the-world wait no longer than they would
// behind a busy loop; a loop still idle after it waits on in Syscall6. 1 ms
// measured worse than 10: this shared machine's load has gaps longer than
// that, and each one put sysmon back on its fast tick (see BENCHMARKS.md,
// "io_uring acceleration (second round)").
const rawWait = 10 * time.Millisecond

// closeLinger bounds how long a closed connection's last output may still
// wait for the peer to read it (io_uring's queued copy, see
// Backend.lingerExpired): nginx's lingering_timeout. A variable for tests.
var closeLinger = 5 * time.Second

// AcceptFunc is called on the loop thread for every accepted connection. It
// sets c.H (and usually c.Ctx) and starts receiving; returning an error
// closes the connection.
type AcceptFunc func(c *Conn) error

// Options configure a Loop.
type Options struct {
	// MaxConns bounds the open connections (worker_connections), listeners
	// and upstream connections included, as nginx counts them.
	MaxConns int
	// OnTick runs on the loop thread after each poll, with the loop's
	// clock: the place for once-a-second work such as the Date header.
	OnTick func(now time.Time)
	// Logf reports rare events (accept errors). Nil means silent.
	Logf func(format string, args ...any)
}

// Loop is one worker's event loop: a backend, the connection table, the
// timing wheel and the buffer pools. Everything in it runs on one locked OS
// thread; only Post, Stop and Wake may be called from elsewhere.
type Loop struct {
	b    Backend
	opts Options

	conns []*Conn  // by index
	free  []uint32 // reusable indexes
	chunk []Conn   // Conns are allocated in chunks to keep them together

	wheel  wheel
	now    int64 // cached clock, UnixNano, refreshed once per poll
	active int   // open non-listener connections

	listeners    []*Conn
	accepts      []listenerAccept // each listener's AcceptFunc
	acceptPaused bool             // at MaxConns or backing off after EMFILE
	acceptRetry  int64            // when a backed-off accept may retry (UnixNano)

	bufs    bufPool
	splices []*splice // idle splices with their (empty) pipes
	tickers []func(now int64)

	deferred  []Deferred // loop-thread work for the end of this turn
	deferring []Deferred // the batch being run

	mu      sync.Mutex
	posted  []func()
	running []func()
	stop    atomic.Bool
	started atomic.Bool // the backend can be woken
}

// NewLoop returns a loop on backend b. Call Run on the goroutine that will
// own it.
func NewLoop(b Backend, opts Options) *Loop {
	if opts.MaxConns <= 0 {
		opts.MaxConns = 10240
	}
	return &Loop{b: b, opts: opts}
}

// Backend returns the loop's backend.
func (l *Loop) Backend() Backend { return l.b }

// Now returns the loop's cached clock: the time of the last poll return.
func (l *Loop) Now() time.Time { return time.Unix(0, l.now) }

// NowNano is Now as Unix nanoseconds, without building a time.Time.
func (l *Loop) NowNano() int64 { return l.now }

// Active returns the number of open connections (listeners excluded).
func (l *Loop) Active() int { return l.active }

// AddTicker registers f to run on the loop thread after every poll (at
// least once a second), with the loop's clock in Unix nanoseconds.
func (l *Loop) AddTicker(f func(now int64)) { l.tickers = append(l.tickers, f) }

// ForEach calls f for every open connection (listeners excluded). f may
// close the connection it is given.
func (l *Loop) ForEach(f func(c *Conn)) {
	for _, c := range l.conns {
		if c.Open() && c.flags&flagListener == 0 {
			f(c)
		}
	}
}

// Listen adds a listening socket (non-blocking, already bound and
// listening). accept is called for each connection it accepts.
func (l *Loop) Listen(fd int, accept AcceptFunc) (*Conn, error) {
	c, err := l.newConn(fd)
	if err != nil {
		return nil, err
	}
	c.flags |= flagListener
	l.active--
	l.accepts = append(l.accepts, listenerAccept{idx: c.idx, gen: c.gen, f: accept})
	if err := l.b.listen(c); err != nil {
		l.freeConn(c)
		return nil, err
	}
	l.listeners = append(l.listeners, c)
	return c, nil
}

// StopAccepting stops every listener of the loop and closes the loop's
// copies of their sockets: the first step of a graceful drain.
func (l *Loop) StopAccepting() {
	for _, c := range l.listeners {
		l.b.unlisten(c)
		unix.Close(int(c.fd))
		l.freeConn(c)
	}
	l.listeners, l.accepts = nil, nil
}

// Attach adds a connected socket (for example one accepted elsewhere) with
// handler h. Receiving starts when the handler calls StartRecv.
func (l *Loop) Attach(fd int, h Handler) (*Conn, error) {
	c, err := l.newConn(fd)
	if err != nil {
		return nil, err
	}
	c.H = h
	if err := l.b.attach(c); err != nil {
		l.freeConn(c)
		unix.Close(fd)
		return nil, err
	}
	return c, nil
}

// Dial starts a non-blocking TCP connect to sa; h.OnConnect reports the
// result.
func (l *Loop) Dial(sa unix.Sockaddr, h Handler) (*Conn, error) {
	family := unix.AF_INET
	if _, ok := sa.(*unix.SockaddrInet6); ok {
		family = unix.AF_INET6
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	c, err := l.Attach(fd, h)
	if err != nil {
		return nil, err
	}
	c.flags |= flagConnecting
	if err := l.b.connect(c, sa); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func (l *Loop) newConn(fd int) (*Conn, error) {
	if l.active >= l.opts.MaxConns {
		return nil, ErrTooManyConns
	}
	var c *Conn
	if n := len(l.free); n > 0 {
		c = l.conns[l.free[n-1]]
		l.free = l.free[:n-1]
	} else {
		if len(l.chunk) == 0 {
			l.chunk = make([]Conn, 64)
		}
		c = &l.chunk[0]
		l.chunk = l.chunk[1:]
		c.idx = uint32(len(l.conns))
		l.conns = append(l.conns, c)
	}
	gen := c.gen + 1
	if gen == 0 {
		gen = 1
	}
	idx := c.idx
	*c = Conn{loop: l, fd: int32(fd), idx: idx, gen: gen, flags: flagOpen, tprev: -1, tnext: -1, fileFd: -1}
	l.active++
	return c, nil
}

// freeConn returns c's slot to the table. The backend must be done with it.
func (l *Loop) freeConn(c *Conn) {
	l.wheel.remove(c)
	if c.flags&flagListener == 0 {
		l.active--
	}
	c.flags = 0
	c.H, c.Ctx, c.out = nil, nil, nil
	l.free = append(l.free, c.idx)
	if l.acceptPaused && l.active < l.opts.MaxConns && l.acceptRetry == 0 {
		l.resumeAccept()
	}
}

func (l *Loop) closeConn(c *Conn) {
	l.wheel.remove(c)
	c.flags |= flagClosing
	c.flags &^= flagRecv
	if c.sp != nil {
		l.spliceClosing(c)
	}
	l.b.close(c) // the backend calls release when it holds no reference
}

// release frees a closed connection's slot; backends call it once the
// kernel holds no reference to the connection's memory.
func (l *Loop) release(c *Conn) { l.freeConn(c) }

// lookup returns the open connection (index, gen), or nil if the slot has
// been reused or closed since the operation was started.
func (l *Loop) lookup(idx, gen uint32) *Conn {
	if int(idx) >= len(l.conns) {
		return nil
	}
	c := l.conns[idx]
	if c.gen != gen || c.flags&flagOpen == 0 {
		return nil
	}
	return c
}

// canAccept reports whether another connection may be accepted now.
func (l *Loop) canAccept() bool {
	if l.acceptPaused {
		return false
	}
	if l.active >= l.opts.MaxConns {
		l.acceptPaused = true
		l.logf("worker_connections (%d) reached: not accepting until one closes", l.opts.MaxConns)
		return false
	}
	return true
}

// acceptFailed handles an accept(2) error. Running out of descriptors or
// memory pauses accepting for 100 ms instead of spinning on a listener
// that stays readable (nginx disables accept events the same way).
func (l *Loop) acceptFailed(err error) {
	switch {
	case errors.Is(err, unix.EMFILE), errors.Is(err, unix.ENFILE),
		errors.Is(err, unix.ENOBUFS), errors.Is(err, unix.ENOMEM):
		l.logf("accept: %v: pausing accepts for 100ms", err)
		l.acceptPaused = true
		l.acceptRetry = l.now + int64(100*time.Millisecond)
	default:
		// ECONNABORTED and friends concern one connection only.
	}
}

func (l *Loop) resumeAccept() {
	l.acceptPaused = false
	l.acceptRetry = 0
	for _, c := range l.listeners {
		l.b.listen(c)
	}
}

// accepted takes a new connection from a backend.
// listenerAccept is the AcceptFunc of one listener: each listening socket
// hands its connections to its own (one per listen address: the [server]
// blocks of that address), never to the last one registered.
type listenerAccept struct {
	idx, gen uint32
	f        AcceptFunc
}

// acceptFor returns ln's AcceptFunc.
func (l *Loop) acceptFor(ln *Conn) AcceptFunc {
	for i := range l.accepts {
		if a := &l.accepts[i]; a.idx == ln.idx && a.gen == ln.gen {
			return a.f
		}
	}
	return nil
}

func (l *Loop) accepted(ln *Conn, fd int) {
	c, err := l.newConn(fd)
	if err != nil {
		unix.Close(fd)
		return
	}
	if err := l.b.attach(c); err != nil {
		l.freeConn(c)
		unix.Close(fd)
		return
	}
	accept := l.acceptFor(ln)
	if accept == nil {
		c.Close() // the listener is gone (its accept raced the close)
		return
	}
	if err := accept(c); err != nil {
		c.Close()
	}
}

// Deferred is work a loop-thread caller hands back to the loop to run
// once the current event's handlers have returned (nginx's posted
// events): a state change that must not run while the object it changes
// is still on the stack.
type Deferred interface {
	// RunDeferred runs on the loop thread, with no handler on the stack.
	RunDeferred()
}

// DeferOnLoop queues d to run after the current completion batch, before
// the loop waits again (the wait does not block while work is queued).
// Loop thread only; it does not allocate once the queue has grown.
func (l *Loop) DeferOnLoop(d Deferred) { l.deferred = append(l.deferred, d) }

// runDeferred runs the queued deferred work; work queued meanwhile waits
// for the next turn, whose poll then does not block.
func (l *Loop) runDeferred() {
	if len(l.deferred) == 0 {
		return
	}
	l.deferring, l.deferred = l.deferred, l.deferring[:0]
	for i, d := range l.deferring {
		l.deferring[i] = nil
		d.RunDeferred()
	}
	l.deferring = l.deferring[:0]
}

// Post runs f on the loop thread soon; safe from any goroutine.
func (l *Loop) Post(f func()) {
	l.mu.Lock()
	l.posted = append(l.posted, f)
	if l.started.Load() {
		l.b.wake()
	}
	l.mu.Unlock()
}

// Stop makes Run return after the current iteration; safe from any
// goroutine. Open connections are closed.
func (l *Loop) Stop() {
	l.stop.Store(true)
	l.mu.Lock()
	if l.started.Load() {
		l.b.wake()
	}
	l.mu.Unlock()
}

// Run locks the calling goroutine to its OS thread (io_uring's
// SINGLE_ISSUER and the per-worker affinity rely on it) and runs the loop
// until Stop.
func (l *Loop) Run() error {
	runtime.LockOSThread()
	l.now = time.Now().UnixNano()
	l.wheel.init(l, l.now)
	if err := l.b.init(l); err != nil {
		return fmt.Errorf("reactor: %s backend: %w", l.b.Name(), err)
	}
	defer func() {
		l.mu.Lock()
		l.started.Store(false)
		l.mu.Unlock()
		l.b.shutdown()
	}()
	l.mu.Lock()
	l.started.Store(true)
	l.mu.Unlock()
	l.runPosted()
	for !l.stop.Load() {
		wait := l.wheel.next(l.now)
		if len(l.deferred) > 0 {
			wait = 0
		}
		if err := l.b.poll(wait); err != nil {
			return fmt.Errorf("reactor: %s poll: %w", l.b.Name(), err)
		}
		l.now = time.Now().UnixNano()
		l.wheel.advance(l.now)
		if l.acceptRetry != 0 && l.now >= l.acceptRetry {
			l.resumeAccept()
		}
		l.runPosted()
		l.runDeferred()
		for _, f := range l.tickers {
			f(l.now)
		}
		if l.opts.OnTick != nil {
			l.opts.OnTick(time.Unix(0, l.now))
		}
	}
	for _, c := range l.conns {
		if c.Open() {
			c.Close()
		}
	}
	l.closeSplices()
	return nil
}

func (l *Loop) runPosted() {
	l.mu.Lock()
	l.running, l.posted = l.posted, l.running[:0]
	l.mu.Unlock()
	for _, f := range l.running {
		f()
	}
	clear(l.running)
}

func (l *Loop) logf(format string, args ...any) {
	if l.opts.Logf != nil {
		l.opts.Logf(format, args...)
	}
}

// mappedBytes counts the off-heap buffer memory mapped by every loop's
// pool of this process (see MappedBufferBytes).
var mappedBytes atomic.Int64

// MappedBufferBytes returns the off-heap buffer memory the loops of this
// process have mapped: it grows with peak concurrency and never with the
// number of requests served.
func MappedBufferBytes() int64 { return mappedBytes.Load() }
