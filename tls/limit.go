package tls

import "sync"

// MaxConcurrentHandshakes bounds the handshake goroutines of one process
// (one worker), server and client handshakes together.
//
// Why 256: a handshake goroutine spends almost all of its life parked in
// the pipe's Read, waiting one round trip for the peer's next flight; its
// CPU work (an X25519 or P-256 exchange and one signature) is well under a
// millisecond. The number in flight is about (handshakes per second) ×
// (round trips waited), so 256 keeps a core busy with thousands of
// handshakes per second at internet round trips of tens of milliseconds,
// while bounding the memory that stalled or hostile peers can pin: a
// handshake goroutine's stack plus its crypto/tls state is tens of KiB,
// so 256 of them stay within a few MiB. Connections beyond the bound wait
// in a FIFO queue that costs no goroutine and no buffer.
const MaxConcurrentHandshakes = 256

// processLimiter is the bound every Context and ClientContext of this
// process shares, so that several listening addresses and upstreams
// cannot multiply it.
var processLimiter = newHandshakeLimiter(MaxConcurrentHandshakes)

// waitState is where a Conn stands in a handshakeLimiter's queue.
type waitState uint8

const (
	notWaiting waitState = iota // not in the queue (never queued, or its slot started)
	waiting                     // in the queue, no slot yet
	granted                     // out of the queue, a slot reserved until the loop starts it
)

// handshakeLimiter is a counting semaphore with a FIFO queue of waiting
// connections. A slot that frees goes to the first waiter, which is marked
// granted and woken; its loop then starts the handshake. The queue is an
// intrusive list through Conn.waitPrev/waitNext, so queueing allocates
// nothing and a Close of a waiting connection is O(1).
type handshakeLimiter struct {
	size int // slots in all

	mu         sync.Mutex
	free       int
	head, tail *Conn // waiting connections, oldest first
}

func newHandshakeLimiter(n int) *handshakeLimiter {
	return &handshakeLimiter{size: n, free: n}
}

// acquire takes a slot for t, or queues t and returns false. Loop thread
// of t.
func (l *handshakeLimiter) acquire(t *Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.free > 0 {
		l.free--
		return true
	}
	t.wait = waiting
	t.waitPrev, t.waitNext = l.tail, nil
	if l.tail != nil {
		l.tail.waitNext = t
	} else {
		l.head = t
	}
	l.tail = t
	return false
}

// takeGrant reports whether a queued t has been granted a slot; the slot
// is then t's. Loop thread of t.
func (l *handshakeLimiter) takeGrant(t *Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if t.wait != granted {
		return false
	}
	t.wait = notWaiting
	return true
}

// release frees a slot: the first waiter gets it and is woken. Any
// goroutine.
func (l *handshakeLimiter) release() {
	l.mu.Lock()
	w := l.head
	if w == nil {
		l.free++
		l.mu.Unlock()
		return
	}
	l.unlinkLocked(w)
	w.wait = granted
	l.mu.Unlock()
	w.p.wakeNow()
}

// cancel takes a closing t out of the queue, and passes on a slot it was
// granted but never started. Loop thread of t.
func (l *handshakeLimiter) cancel(t *Conn) {
	l.mu.Lock()
	switch t.wait {
	case waiting:
		l.unlinkLocked(t)
		t.wait = notWaiting
		l.mu.Unlock()
	case granted:
		t.wait = notWaiting
		l.mu.Unlock()
		l.release()
	default:
		l.mu.Unlock()
	}
}

func (l *handshakeLimiter) unlinkLocked(t *Conn) {
	if t.waitPrev != nil {
		t.waitPrev.waitNext = t.waitNext
	} else {
		l.head = t.waitNext
	}
	if t.waitNext != nil {
		t.waitNext.waitPrev = t.waitPrev
	} else {
		l.tail = t.waitPrev
	}
	t.waitPrev, t.waitNext = nil, nil
}

// inUse reports the slots taken, for tests.
func (l *handshakeLimiter) inUse() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.size - l.free
}
