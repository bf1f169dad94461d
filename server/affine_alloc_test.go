//go:build linux && !race

package server

import (
	"testing"

	"github.com/nproxy/nproxy/http"
)

// parkedConn is an upstream connection parked in a slot; it counts the
// times it was closed.
type parkedConn struct{ closed int }

func (p *parkedConn) CloseAffine() { p.closed++ }

var _ http.AffineConn = (*parkedConn)(nil)

// TestAffineSlotAllocs proves that a client connection's affine slot
// costs no allocation once the server's pool is warm: asked for by a
// proxied exchange, parked in, taken back by the next exchange, and
// closed with what it holds and given back when the connection ends.
func TestAffineSlotAllocs(t *testing.T) {
	s := &Server{}
	c := &conn{s: s}
	up := &parkedConn{}
	runs := 0
	connection := func() {
		runs++
		c.state = stTakeover // a proxied exchange
		c.Affine().Park(up)  // its response ended
		if c.Affine().Len() != 1 || c.Affine().TakeAt(0) != up {
			t.Fatal("the next exchange did not find the parked connection")
		}
		c.Affine().Park(up)
		c.state = stClosed
		if c.Affine() != nil || c.affineSlot(1) != nil {
			t.Fatal("a closed connection gave its slot out")
		}
		c.closeAffine() // teardown
	}
	connection()
	if a := testing.AllocsPerRun(1000, connection); a != 0 {
		t.Errorf("a connection's affine slot: %v allocs, want 0", a)
	}
	if up.closed != runs || c.affine != nil || len(s.affineFree) != 1 {
		t.Errorf("closed %d times in %d connections, slot %v, %d slots pooled; want each closed once, the slot pooled", up.closed, runs, c.affine, len(s.affineFree))
	}
}
