//go:build linux

package bench

import (
	"fmt"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	nptls "github.com/nproxy/nproxy/tls"
	"golang.org/x/sys/unix"
)

// readBufSize is the loop's one read buffer. The response parser is
// resumable, so connections keep no buffer of their own; 64 KiB takes a
// 1 MiB body in 16 reads (gnet uses the same size per loop).
const readBufSize = 64 << 10

// maxEvents is how many epoll events one epoll_wait returns at most.
const maxEvents = 256

// tickNs bounds how long the loop sleeps in epoll_wait, so that deadlines,
// timeouts and an abort are noticed within 100 ms.
const tickNs = int64(100 * time.Millisecond)

// timerTag marks the timerfd's epoll event and wakeTag the eventfd's
// (connection events carry their index, which is never negative).
const (
	timerTag = -1
	wakeTag  = -2
)

// conn is one client connection, owned by its loop's thread.
type conn struct {
	fd         int
	gen        int32 // bumped on every (re)connect; stale epoll events carry an older one
	global     int   // index among all connections of the run
	idx        int32 // index in its loop's conns, the epoll event's tag
	connecting bool
	retired    bool  // done for good (quota spent, or the run ends)
	quota      int64 // requests still to send; negative: unlimited
	p          respParser

	inflight int
	sched    []int64 // ring of send (or scheduled) times of requests in flight
	head     int

	wpend    int   // request bytes not yet written
	wantOut  bool  // EPOLLOUT is registered
	next     int64 // open loop: this connection's next scheduled send
	activity int64 // last progress (connect, read, write), for Timeout

	// TLS runs only (see tlsload.go). Until the handshake is done, wpend
	// counts request bytes waiting to be encrypted.
	tls      *nptls.Conn
	tlsReady bool   // the handshake is done: requests go out as records
	tout     []byte // ciphertext the socket has not taken yet, from toff
	toff     int
}

// handshaking reports whether c waits for its TLS handshake.
func (c *conn) handshaking() bool { return c.tls != nil && !c.tlsReady }

// loop is one event loop: an epoll instance on a locked OS thread, pinned to
// one CPU, driving its share of the connections.
type loop struct {
	l      *Load
	cpu    int
	sa     unix.Sockaddr
	family int
	base   time.Time

	epfd     int
	timerfd  int // open loop only, else -1
	conns    []conn
	active   int    // connections not retired
	ring     []byte // Pipeline copies of the request
	reqLen   int
	interval int64 // open loop: ns between two sends of one connection

	buf    []byte
	events []unix.EpollEvent

	deadline      int64 // ns since base; 0 in count mode
	connFails     int   // consecutive connect failures
	lastTimeoutAt int64

	abort atomic.Bool
	res   Result
	end   time.Duration
	err   error

	// TLS runs only (see tlsload.go). The handshake goroutines post the
	// connections they advanced to wakes and signal wakefd.
	tc     *tlsClient
	wakefd int
	wakeMu sync.Mutex
	wakes  []wakeup // guarded by wakeMu
	spare  []wakeup // the loop's, swapped with wakes
	yield  bool     // a handshake got work this turn: let its goroutine run
}

func newLoop(l *Load, cpu int, idx []int, sa unix.Sockaddr, family int, base time.Time) *loop {
	lp := &loop{l: l, cpu: cpu, sa: sa, family: family, base: base, epfd: -1, timerfd: -1, wakefd: -1}
	lp.conns = make([]conn, len(idx))
	for i, g := range idx {
		c := &lp.conns[i]
		c.fd = -1
		c.global = g
		c.idx = int32(i)
		c.quota = -1
		if l.Requests > 0 {
			n := int64(l.Connections)
			c.quota = l.Requests / n
			if int64(g) < l.Requests%n {
				c.quota++
			}
		}
		c.sched = make([]int64, l.Pipeline)
		if l.Rate > 0 {
			c.next = int64(float64(g) * 1e9 / l.Rate)
		}
	}
	if l.Rate > 0 {
		lp.interval = int64(float64(l.Connections) * 1e9 / l.Rate)
	}
	lp.reqLen = len(l.Request)
	for i := 0; i < l.Pipeline; i++ {
		lp.ring = append(lp.ring, l.Request...)
	}
	if l.Requests <= 0 {
		lp.deadline = int64(l.Duration)
	}
	return lp
}

func (lp *loop) now() int64 { return int64(time.Since(lp.base)) }

// run drives the loop to its end. It must run in its own goroutine: it locks
// that goroutine to its thread and never unlocks, so the pinned thread dies
// with it instead of going back to the runtime's pool.
func (lp *loop) run() {
	runtime.LockOSThread()
	defer func() {
		lp.end = time.Since(lp.base)
		lp.res.CPU = threadCPU()
	}()
	if lp.cpu >= 0 {
		var set unix.CPUSet
		set.Set(lp.cpu)
		if err := unix.SchedSetaffinity(0, &set); err != nil {
			lp.err = fmt.Errorf("bench: pin load generator to CPU %d: %w", lp.cpu, os.NewSyscallError("sched_setaffinity", err))
			return
		}
	}
	var err error
	lp.epfd, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		lp.err = os.NewSyscallError("epoll_create1", err)
		return
	}
	defer unix.Close(lp.epfd)
	if lp.l.Rate > 0 {
		lp.timerfd, err = unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
		if err != nil {
			lp.err = os.NewSyscallError("timerfd_create", err)
			return
		}
		defer unix.Close(lp.timerfd)
		ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: timerTag}
		if err := unix.EpollCtl(lp.epfd, unix.EPOLL_CTL_ADD, lp.timerfd, &ev); err != nil {
			lp.err = os.NewSyscallError("epoll_ctl", err)
			return
		}
	}
	if lp.tc != nil {
		if lp.err = lp.openWakefd(); lp.err != nil {
			return
		}
		defer unix.Close(lp.wakefd) // after closeAll: no wake comes after a Conn's Close
	}
	lp.buf = make([]byte, readBufSize)
	lp.events = make([]unix.EpollEvent, maxEvents)
	defer lp.closeAll()

	now := lp.now()
	for i := range lp.conns {
		c := &lp.conns[i]
		if c.quota == 0 {
			c.retired = true
			continue
		}
		lp.active++
		lp.open(c, now)
	}
	for lp.active > 0 && lp.err == nil {
		if lp.abort.Load() {
			return
		}
		wait := tickNs
		if lp.deadline > 0 {
			if left := lp.deadline - now; left < wait {
				wait = left
			}
		}
		if lp.l.Rate > 0 {
			wait = lp.armTimer(now, wait)
		}
		ms := 0
		if wait > 0 {
			ms = int((wait + int64(time.Millisecond) - 1) / int64(time.Millisecond))
		}
		n, err := unix.EpollWait(lp.epfd, lp.events, ms)
		if err != nil && err != unix.EINTR {
			lp.err = os.NewSyscallError("epoll_wait", err)
			return
		}
		now = lp.now()
		if lp.deadline > 0 && now >= lp.deadline {
			return
		}
		before := lp.res.Responses
		for _, ev := range lp.events[:max(n, 0)] {
			if ev.Fd == timerTag {
				var b [8]byte
				unix.Read(lp.timerfd, b[:]) // clears the expiration count
				continue
			}
			if ev.Fd == wakeTag {
				lp.drainWakes(now)
				continue
			}
			c := &lp.conns[ev.Fd]
			if c.gen != ev.Pad || c.fd < 0 {
				continue // stale: the connection was closed in this batch
			}
			lp.handle(c, ev.Events, now)
		}
		if lp.l.Rate > 0 {
			for i := range lp.conns {
				if c := &lp.conns[i]; !c.retired && !c.connecting && c.fd >= 0 && !c.handshaking() {
					lp.sendDue(c, now)
				}
			}
		}
		if lp.yield {
			lp.yieldToHandshakes()
		}
		if now-lp.lastTimeoutAt >= tickNs {
			lp.lastTimeoutAt = now
			lp.checkTimeouts(now)
		}
		if d := lp.res.Responses - before; d > 0 && lp.l.Progress != nil {
			lp.l.Progress.Add(d)
		}
	}
}

// armTimer returns how long to sleep at most and, when the next scheduled
// send is sooner than a millisecond can express, arms the timerfd for it.
func (lp *loop) armTimer(now, wait int64) int64 {
	earliest := int64(-1)
	for i := range lp.conns {
		c := &lp.conns[i]
		if c.retired || c.connecting || c.fd < 0 || c.handshaking() || c.inflight >= lp.l.Pipeline || c.quota == 0 {
			continue
		}
		if earliest < 0 || c.next < earliest {
			earliest = c.next
		}
	}
	if earliest < 0 {
		return wait
	}
	d := earliest - now
	if d <= 0 {
		return 0
	}
	if d >= wait {
		return wait
	}
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(d)}
	unix.TimerfdSettime(lp.timerfd, 0, &spec, nil)
	return wait
}

func (lp *loop) closeAll() {
	for i := range lp.conns {
		if c := &lp.conns[i]; c.fd >= 0 {
			lp.closeFd(c)
		}
	}
}

func sockaddrOf(a *net.TCPAddr) (unix.Sockaddr, int, error) {
	if ip4 := a.IP.To4(); ip4 != nil {
		sa := &unix.SockaddrInet4{Port: a.Port}
		copy(sa.Addr[:], ip4)
		return sa, unix.AF_INET, nil
	}
	if ip6 := a.IP.To16(); ip6 != nil {
		sa := &unix.SockaddrInet6{Port: a.Port}
		copy(sa.Addr[:], ip6)
		return sa, unix.AF_INET6, nil
	}
	return nil, 0, fmt.Errorf("bench: address %v is not an IP address", a)
}

// maxConnectStreak is how many connects in a row may fail before the loop
// gives up: a server that is gone would otherwise be hammered until the
// deadline, or forever in count mode.
const maxConnectStreak = 1000

// open starts a (re)connect of c.
func (lp *loop) open(c *conn, now int64) {
	c.gen++
	c.p.reset()
	c.inflight, c.head, c.wpend, c.wantOut = 0, 0, 0, false
	c.activity = now
	fd, err := unix.Socket(lp.family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		lp.err = fmt.Errorf("bench: %w", os.NewSyscallError("socket", err))
		return
	}
	unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	c.fd = fd
	err = unix.Connect(fd, lp.sa)
	switch err {
	case nil:
		c.connecting = false
	case unix.EINPROGRESS:
		c.connecting = true
	default:
		lp.connectFailed(c, now, os.NewSyscallError("connect", err))
		return
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: c.idx, Pad: c.gen}
	if c.connecting {
		ev.Events = unix.EPOLLOUT
	}
	if err := unix.EpollCtl(lp.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		lp.err = fmt.Errorf("bench: %w", os.NewSyscallError("epoll_ctl", err))
		return
	}
	if !c.connecting {
		lp.connected(c, now)
	}
}

func (lp *loop) connectFailed(c *conn, now int64, err error) {
	lp.res.Errors.Connect++
	lp.closeFd(c)
	lp.connFails++
	if lp.connFails >= maxConnectStreak {
		lp.err = fmt.Errorf("bench: connect to %s: %d failures in a row, last: %w", lp.l.Addr, lp.connFails, err)
		return
	}
	lp.reopen(c, now)
}

func (lp *loop) connected(c *conn, now int64) {
	c.connecting = false
	c.activity = now
	lp.res.Connects++
	if lp.tc != nil {
		lp.startTLS(c, now) // requests follow the handshake
		return
	}
	lp.connFails = 0
	lp.ready(c, now)
}

// ready starts the requests of a connection that can carry them.
func (lp *loop) ready(c *conn, now int64) {
	if lp.l.Rate > 0 {
		lp.sendDue(c, now)
		return
	}
	lp.send(c, lp.l.Pipeline, now, now)
}

func (lp *loop) closeFd(c *conn) {
	if c.tls != nil {
		lp.closeTLS(c)
	}
	if c.fd >= 0 {
		unix.Close(c.fd) // also removes it from the epoll set
		c.fd = -1
	}
	c.connecting = false
}

// reopen connects c again unless it has nothing left to do.
func (lp *loop) reopen(c *conn, now int64) {
	if c.quota == 0 {
		if !c.retired {
			c.retired = true
			lp.active--
		}
		return
	}
	lp.open(c, now)
}

// fail drops c after an error of the given kind: every request in flight on
// it is counted as failed, then c reconnects if it has more to send.
func (lp *loop) fail(c *conn, counter *uint64, now int64) {
	*counter += uint64(c.inflight)
	c.inflight = 0
	lp.closeFd(c)
	lp.reopen(c, now)
}

// send queues k requests on c (fewer if its quota says so), recording
// sched as their start time, and writes what the socket takes.
func (lp *loop) send(c *conn, k int, sched, now int64) {
	if c.quota >= 0 && int64(k) > c.quota {
		k = int(c.quota)
	}
	if k <= 0 {
		return
	}
	if c.quota > 0 {
		c.quota -= int64(k)
	}
	for i := 0; i < k; i++ {
		c.sched[(c.head+c.inflight)%len(c.sched)] = sched
		c.inflight++
	}
	lp.res.Sent += uint64(k)
	c.wpend += k * lp.reqLen
	lp.flush(c, now)
}

// sendDue sends, in open loop, every request of c whose time has come and
// for which a pipeline slot is free. Latency counts from the scheduled time.
func (lp *loop) sendDue(c *conn, now int64) {
	for c.next <= now && c.inflight < lp.l.Pipeline && c.quota != 0 && c.fd >= 0 {
		if lp.deadline > 0 && c.next >= lp.deadline {
			return
		}
		t := c.next
		c.next += lp.interval
		lp.send(c, 1, t, now)
	}
}

// flush writes pending request bytes. The ring holds Pipeline identical
// requests, so the unsent tail always starts at a known offset in it.
func (lp *loop) flush(c *conn, now int64) {
	if c.tls != nil {
		lp.tlsFlush(c, now)
		return
	}
	for c.wpend > 0 && c.fd >= 0 {
		off := (lp.reqLen - c.wpend%lp.reqLen) % lp.reqLen
		n := min(c.wpend, len(lp.ring)-off)
		w, err := unix.Write(c.fd, lp.ring[off:off+n])
		if err == unix.EAGAIN {
			break
		}
		if err != nil {
			lp.fail(c, &lp.res.Errors.Write, now)
			return
		}
		c.wpend -= w
		c.activity = now
	}
	if c.fd < 0 {
		return
	}
	if want := c.wpend > 0; want != c.wantOut {
		c.wantOut = want
		ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: c.idx, Pad: c.gen}
		if want {
			ev.Events |= unix.EPOLLOUT
		}
		unix.EpollCtl(lp.epfd, unix.EPOLL_CTL_MOD, c.fd, &ev)
	}
}

func (lp *loop) handle(c *conn, events uint32, now int64) {
	if c.connecting {
		if events&(unix.EPOLLOUT|unix.EPOLLERR|unix.EPOLLHUP) == 0 {
			return
		}
		soerr, err := unix.GetsockoptInt(c.fd, unix.SOL_SOCKET, unix.SO_ERROR)
		if err == nil && soerr != 0 {
			err = unix.Errno(soerr)
		}
		if err != nil {
			lp.connectFailed(c, now, os.NewSyscallError("connect", err))
			return
		}
		ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: c.idx, Pad: c.gen}
		unix.EpollCtl(lp.epfd, unix.EPOLL_CTL_MOD, c.fd, &ev)
		lp.connected(c, now)
		return
	}
	if events&(unix.EPOLLIN|unix.EPOLLERR|unix.EPOLLHUP) != 0 {
		lp.read(c, now)
	}
	if c.fd >= 0 && events&unix.EPOLLOUT != 0 {
		lp.flush(c, now)
	}
}

// read takes what the socket has, parses every response in it, and sends
// as many new requests as answers came back (closed loop).
func (lp *loop) read(c *conn, now int64) {
	n, err := unix.Read(c.fd, lp.buf)
	if err == unix.EAGAIN {
		return
	}
	if c.handshaking() && (err != nil || n == 0) {
		lp.handshakeFailed(c, now, errHandshakeCut)
		return
	}
	if err != nil {
		lp.fail(c, &lp.res.Errors.Read, now)
		return
	}
	if n == 0 {
		lp.eof(c, now)
		return
	}
	c.activity = now
	if c.tls != nil {
		lp.tlsInput(c, lp.buf[:n], now)
		return
	}
	lp.res.Bytes += uint64(n)
	lp.consume(c, lp.buf[:n], now)
}

// consume parses the response bytes b received on c, accounts for every
// answer complete in them and sends as many new requests (closed loop). It
// reports whether c is still the same open connection afterwards.
func (lp *loop) consume(c *conn, b []byte, now int64) bool {
	answered := 0
	gen := c.gen
	for len(b) > 0 {
		k, done, err := c.p.feed(b)
		b = b[k:]
		if err != nil {
			if c.inflight == 0 {
				c.inflight = 1 // bytes nobody asked for: still one bad answer
			}
			lp.fail(c, &lp.res.Errors.Malformed, now)
			return false
		}
		if !done {
			break
		}
		if c.inflight == 0 {
			// An answer to no request: count it and drop the connection.
			c.inflight = 1
			lp.fail(c, &lp.res.Errors.Malformed, now)
			return false
		}
		lp.complete(c, now)
		if c.fd < 0 || c.gen != gen {
			return false // closed (and maybe reopened) after that response
		}
		answered++
	}
	if answered > 0 && lp.l.Rate <= 0 {
		lp.send(c, answered, now, now)
	}
	if c.quota == 0 && c.inflight == 0 && c.fd >= 0 {
		lp.closeFd(c)
		lp.reopen(c, now)
		return false
	}
	return c.fd >= 0 && c.gen == gen
}

// complete accounts for the response the parser just finished on c.
func (lp *loop) complete(c *conn, now int64) {
	p := &c.p
	lp.res.Responses++
	lp.res.BodyBytes += uint64(p.bodyLen)
	lp.res.Latency.Record(time.Duration(now - c.sched[c.head]))
	c.head = (c.head + 1) % len(c.sched)
	c.inflight--
	switch {
	case p.status < 200 || p.status > 299:
		lp.res.Errors.Status++
	case lp.l.ExpectLength >= 0 && p.bodyLen != lp.l.ExpectLength:
		lp.res.Errors.Length++
	}
	closing := p.closing || lp.l.CloseEach
	p.reset()
	if closing {
		lp.fail(c, &lp.res.Errors.Read, now) // requests still in flight are lost
	}
}

// eof handles the server closing c.
func (lp *loop) eof(c *conn, now int64) {
	if c.p.eof() {
		lp.complete(c, now) // a close-delimited body ends here; it closes c
		return
	}
	if c.p.started && (c.p.state == stBody || c.p.state == stChunkData) {
		// Cut inside the body: the short answer counts as a length error.
		lp.res.Responses++
		lp.res.Errors.Length++
		c.head = (c.head + 1) % len(c.sched)
		c.inflight--
	}
	lp.fail(c, &lp.res.Errors.Read, now)
}

// checkTimeouts fails connections that waited longer than Load.Timeout.
func (lp *loop) checkTimeouts(now int64) {
	limit := int64(lp.l.Timeout)
	for i := range lp.conns {
		c := &lp.conns[i]
		if c.fd < 0 || now-c.activity < limit {
			continue
		}
		if c.connecting {
			lp.connectFailed(c, now, os.NewSyscallError("connect", unix.ETIMEDOUT))
			continue
		}
		if c.handshaking() {
			lp.handshakeFailed(c, now, errHandshakeTimeout)
			continue
		}
		if c.inflight > 0 {
			lp.fail(c, &lp.res.Errors.Timeout, now)
		}
	}
}

// threadCPU returns the CPU time (user and system) the calling thread has
// used; the loop's thread is locked, so that is the loop's own cost.
func threadCPU() time.Duration {
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_THREAD, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// processCPU returns the CPU time (user and system) the whole process has
// used.
func processCPU() time.Duration {
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
