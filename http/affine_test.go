//go:build linux

package http

import (
	"fmt"
	"strings"
	"testing"
)

// namedConn is an AffineConn that records, in closed, when it is closed.
type namedConn struct {
	name   string
	closed *[]string
}

func (c *namedConn) CloseAffine() { *c.closed = append(*c.closed, c.name) }

// TestAffineSlot checks an AffineSlot's bookkeeping: it keeps up to its
// limit (1 by default, at most AffineMax), oldest first; a full slot
// closes its oldest to park a new one; TakeAt and Remove take one out
// without closing it; a lower limit closes the oldest past it; Close
// closes all and empties the slot.
func TestAffineSlot(t *testing.T) {
	tests := []struct {
		name       string
		limit      int    // SetLimit before the steps; 0: none
		steps      string // park NAME, take I, remove NAME, limit N, close
		wantConns  string // what the slot holds at the end, oldest first
		wantClosed string // what was closed, in order
	}{
		{name: "default limit is 1", steps: "park a; park b", wantConns: "b", wantClosed: "a"},
		{name: "within the limit", limit: 3, steps: "park a; park b; park c", wantConns: "a b c"},
		{name: "full closes the oldest", limit: 2, steps: "park a; park b; park c", wantConns: "b c", wantClosed: "a"},
		{name: "take keeps order", limit: 3, steps: "park a; park b; park c; take 1", wantConns: "a c"},
		{name: "remove does not close", limit: 3, steps: "park a; park b; remove a; remove x; park c", wantConns: "b c"},
		{name: "lower limit closes the oldest", limit: 4, steps: "park a; park b; park c; limit 1", wantConns: "c", wantClosed: "a b"},
		{name: "limit is clamped", limit: 1000, steps: "limit 0; park a; park b", wantConns: "b", wantClosed: "a"},
		{name: "close closes all", limit: 3, steps: "park a; park b; close; park c", wantConns: "c", wantClosed: "b a"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s AffineSlot
			var closed []string
			conns := map[string]*namedConn{}
			conn := func(name string) *namedConn {
				if conns[name] == nil {
					conns[name] = &namedConn{name: name, closed: &closed}
				}
				return conns[name]
			}
			if tc.limit != 0 {
				s.SetLimit(tc.limit)
			}
			for _, step := range strings.Split(tc.steps, "; ") {
				var op, arg string
				fmt.Sscan(step, &op, &arg)
				var n int
				fmt.Sscan(arg, &n)
				switch op {
				case "park":
					s.Park(conn(arg))
				case "take":
					s.TakeAt(n)
				case "remove":
					s.Remove(conn(arg))
				case "limit":
					s.SetLimit(n)
				case "close":
					s.Close()
				}
			}
			var held []string
			for i := 0; i < s.Len(); i++ {
				held = append(held, s.At(i).(*namedConn).name)
			}
			if got := strings.Join(held, " "); got != tc.wantConns {
				t.Errorf("slot holds %q, want %q", got, tc.wantConns)
			}
			if got := strings.Join(closed, " "); got != tc.wantClosed {
				t.Errorf("closed %q, want %q", got, tc.wantClosed)
			}
		})
	}
	if s := (AffineSlot{}); s.Limit() != 1 {
		t.Errorf("a new slot's limit is %d, want 1", s.Limit())
	}
	var s AffineSlot
	s.SetLimit(AffineMax + 1)
	if s.Limit() != AffineMax {
		t.Errorf("limit %d after SetLimit(AffineMax+1), want %d", s.Limit(), AffineMax)
	}
}
