package modules

import (
	"context"
	"errors"
	"testing"
	"time"
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
