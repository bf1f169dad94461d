//go:build linux && (amd64 || arm64) && !race

package ring

import (
	"testing"
	"time"
)

// TestLoopTurnAllocs fails if a loop turn (get, prep, submit-and-wait with a
// timeout, peek, advance) allocates.
func TestLoopTurnAllocs(t *testing.T) {
	r := newTestRing(t, Options{Entries: 16})
	cqes := make([]CQE, 16)
	var ud uint64
	allocs := testing.AllocsPerRun(200, func() {
		s := r.GetSQE()
		s.Nop()
		ud++
		s.SetUserData(ud)
		s = r.GetSQE()
		r.PrepTimeout(s, time.Hour, 1, 0)
		s.SetUserData(ud | 1<<63)
		if err := r.SubmitAndWait(2, time.Second); err != nil {
			t.Fatal(err)
		}
		n := r.PeekCQEs(cqes)
		r.CQAdvance(n)
		if n != 2 {
			t.Fatalf("reaped %d CQEs, want 2", n)
		}
	})
	if allocs != 0 {
		t.Fatalf("loop turn allocates %.1f times", allocs)
	}
}
