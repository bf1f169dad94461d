package modules

import (
	"context"
	"sync"
	"time"
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
type callContext struct {
	context.Context // the parent: carries the module for the host functions

	timer *time.Timer

	mu       sync.Mutex
	done     chan struct{} // closed when the armed deadline passes
	deadline time.Time
	armed    bool // a call is in progress
	expired  bool // done is closed
}

// newCallContext returns a callContext with parent's values.
func newCallContext(parent context.Context) *callContext {
	c := &callContext{Context: parent, done: make(chan struct{})}
	c.timer = time.AfterFunc(time.Hour, c.expire)
	c.timer.Stop()
	return c
}

// arm starts a call that may last d.
func (c *callContext) arm(d time.Duration) {
	c.mu.Lock()
	c.armed, c.deadline = true, time.Now().Add(d)
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
// progress and past its deadline. A timer that fires after disarm finds
// none; one whose function started late, once the next call was armed,
// finds that call's deadline still ahead.
func (c *callContext) expire() {
	c.mu.Lock()
	if c.armed && !c.expired && !time.Now().Before(c.deadline) {
		c.expired = true
		close(c.done)
	}
	c.mu.Unlock()
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
