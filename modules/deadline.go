package modules

import (
	"context"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// callContext is the context of a WebAssembly module's hook calls: the
// per-call time limit as a context deadline, which wazero enforces (its
// compiled code checks, at every loop header, whether the module was
// closed, and a goroutine of wazero's closes it once the context is
// done). It is made once per module and re-armed for every call, so a
// call allocates no context, no timer and no channel; context.WithTimeout
// would allocate all three per request. A callContext is used by one
// loop thread; its timer's function runs on another goroutine, hence the
// lock.
//
// The limit is meant for a module that runs too long, not for a thread
// the kernel did not run: on a loaded machine the loop thread can be
// off its CPU for longer than the limit in the middle of a call of a few
// microseconds. So once the deadline has passed, the call is stopped only
// when its thread has run cpuGrace more (read from the thread's CPU
// clock, checked every checkEvery), or at the latest hardFactor times the
// limit after it started.
type callContext struct {
	context.Context // the parent: carries the module for the host functions

	timer *time.Timer

	mu       sync.Mutex
	done     chan struct{} // closed when the armed deadline passes
	deadline time.Time
	hard     time.Time // the call is stopped at this time whatever its thread did
	tid      int       // the thread making the call
	cpu0     time.Duration
	sampled  bool // cpu0 holds the thread's CPU time at the first check past the deadline
	armed    bool // a call is in progress
	expired  bool // done is closed
}

// The bounds of a call that passed its deadline (callContext).
const (
	// cpuGrace is the CPU time the call's thread may still run once the
	// deadline has passed: a call that runs on is stopped this much
	// later than the limit, one whose thread was kept off its CPU goes
	// on until it has run that much.
	cpuGrace = 10 * time.Millisecond
	// checkEvery spaces the checks of the thread's CPU time.
	checkEvery = 5 * time.Millisecond
	// hardFactor bounds a call in wall time, as a multiple of its limit,
	// however little its thread ran.
	hardFactor = 10
)

// newCallContext returns a callContext with parent's values.
func newCallContext(parent context.Context) *callContext {
	c := &callContext{Context: parent, done: make(chan struct{})}
	c.timer = time.AfterFunc(time.Hour, c.expire)
	c.timer.Stop()
	return c
}

// arm starts a call that may last d, made by the calling thread.
func (c *callContext) arm(d time.Duration) {
	tid := unix.Gettid()
	now := time.Now()
	c.mu.Lock()
	c.armed, c.deadline, c.hard = true, now.Add(d), now.Add(hardFactor*d)
	c.tid, c.sampled = tid, false
	c.mu.Unlock()
	c.timer.Reset(d)
}

// disarm ends the call. A deadline that passed meanwhile leaves a closed
// channel behind: the next call gets a new one (the only allocation, and
// only after a call hit its limit).
func (c *callContext) disarm() {
	c.timer.Stop()
	c.mu.Lock()
	c.armed = false
	if c.expired {
		c.done, c.expired = make(chan struct{}), false
	}
	c.mu.Unlock()
}

// expire is the timer's function: it closes done when a call is in
// progress, past its deadline, and its thread ran cpuGrace since the
// first check past it (or the hard bound passed, or the thread's clock
// cannot be read); otherwise it checks again checkEvery later. A timer
// that fires after disarm finds no call; one whose function started
// late, once the next call was armed, finds that call's deadline still
// ahead (and arm's Reset of the timer came after it).
func (c *callContext) expire() {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	if !c.armed || c.expired || now.Before(c.deadline) {
		return
	}
	if now.Before(c.hard) {
		if cpu, ok := threadCPU(c.tid); ok {
			if !c.sampled {
				c.cpu0, c.sampled = cpu, true
				c.timer.Reset(checkEvery)
				return
			}
			if cpu-c.cpu0 < cpuGrace {
				c.timer.Reset(checkEvery)
				return
			}
		}
	}
	c.expired = true
	close(c.done)
}

// threadCPU returns the CPU time thread tid of this process has used,
// from its CPU clock (the kernel's MAKE_THREAD_CPUCLOCK(tid,
// CPUCLOCK_SCHED)); false when it cannot be read (the thread is gone).
func threadCPU(tid int) (time.Duration, bool) {
	var ts unix.Timespec
	if err := unix.ClockGettime(^int32(tid)<<3|6, &ts); err != nil {
		return 0, false
	}
	return time.Duration(ts.Nano()), true
}

// Deadline returns the armed call's deadline.
func (c *callContext) Deadline() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.deadline, c.armed
}

// Done returns the channel closed at the armed call's deadline.
func (c *callContext) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.done
}

// Err returns context.DeadlineExceeded once the deadline passed.
func (c *callContext) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.expired {
		return context.DeadlineExceeded
	}
	return nil
}

// stop releases the timer.
func (c *callContext) stop() { c.timer.Stop() }
