package modules

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestCallContext checks the re-armed deadline of hook calls: done is
// closed once an armed call passes its deadline, a call that ends in time
// leaves it open, and after an expiry the next call gets an open one.
func TestCallContext(t *testing.T) {
	type key struct{}
	c := newCallContext(context.WithValue(context.Background(), key{}, "v"))
	defer c.stop()
	if c.Value(key{}) != "v" {
		t.Fatal("the parent's value is lost")
	}

	c.arm(time.Hour)
	if _, ok := c.Deadline(); !ok {
		t.Error("an armed call has no deadline")
	}
	c.disarm()
	select {
	case <-c.Done():
		t.Fatal("done closed for a call that ended in time")
	default:
	}

	c.arm(time.Millisecond)
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("done not closed after the deadline")
	}
	if !errors.Is(c.Err(), context.DeadlineExceeded) {
		t.Errorf("Err %v", c.Err())
	}
	c.disarm()
	if c.Err() != nil {
		t.Errorf("Err after disarm: %v", c.Err())
	}
	select {
	case <-c.Done():
		t.Error("the next call starts with a closed done")
	default:
	}

	// A late expiry, for a call already over, finds nothing to close.
	c.arm(time.Hour)
	c.disarm()
	c.expire()
	c.arm(time.Hour)
	c.expire() // the armed call's deadline is ahead
	select {
	case <-c.Done():
		t.Error("a stale expiry closed the next call's done")
	default:
	}
	c.disarm()
}

// TestCallContextThreadOffCPU checks that a call whose thread does not
// run (here it sleeps; on a loaded machine the kernel runs others) is not
// stopped at its deadline, and that one whose thread keeps running is.
func TestCallContextThreadOffCPU(t *testing.T) {
	const limit = 20 * time.Millisecond
	t.Run("sleeping", func(t *testing.T) {
		c := newCallContext(context.Background())
		defer c.stop()
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		c.arm(limit)
		// Sleep until the timer has looked at the thread's CPU time
		// past the deadline (bounded by the hard limit).
		for {
			time.Sleep(time.Millisecond)
			c.mu.Lock()
			sampled, expired, hard := c.sampled, c.expired, c.hard
			c.mu.Unlock()
			if expired {
				if time.Now().Before(hard) {
					t.Fatal("a call whose thread slept was stopped before its hard limit")
				}
				t.Skip("this machine kept the test's thread off its CPU past the hard limit")
			}
			if sampled {
				break
			}
		}
		c.disarm()
		if c.Err() != nil {
			t.Errorf("Err %v", c.Err())
		}
	})
	t.Run("running", func(t *testing.T) {
		c := newCallContext(context.Background())
		defer c.stop()
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		start := time.Now()
		c.arm(limit)
		for n := 0; ; n++ {
			if n%1024 == 0 {
				select {
				case <-c.Done():
					c.disarm()
					if took := time.Since(start); took < limit {
						t.Errorf("stopped after %v, before the limit", took)
					}
					return
				default:
				}
				if time.Since(start) > 10*time.Second {
					t.Fatal("a running call was never stopped")
				}
			}
		}
	})
}

func TestThreadCPU(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	tid := unix.Gettid()
	a, ok := threadCPU(tid)
	if !ok {
		t.Fatal("this thread's CPU clock cannot be read")
	}
	for start := time.Now(); time.Since(start) < 20*time.Millisecond; {
	}
	b, _ := threadCPU(tid)
	if b <= a {
		t.Errorf("CPU time %v then %v after running", a, b)
	}
}
