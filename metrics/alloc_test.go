//go:build linux && !race

package metrics

import "testing"

// TestCountingAllocs proves the counting path allocates nothing, and that
// rendering into a buffer with room does not either.
func TestCountingAllocs(t *testing.T) {
	tb := New()
	c := tb.Attach(0)
	r := tb.Register("s", "l", "-")
	bi := tb.RegisterBackend("u", "b")
	tb.UseRoute(r)
	tb.UseBackend(bi)
	rt, bk := c.Route(r), c.Backend(bi)
	buf := make([]byte, 0, 64<<10)
	tests := []struct {
		name string
		f    func()
	}{
		{name: "Response", f: func() { rt.Response(200, 512, HandlerLocal, 40e3) }},
		{name: "Accepted+Closed", f: func() { c.Accepted(); c.Closed() }},
		{name: "Backend", f: func() { bk.Attempt(); bk.Connected(1e5); bk.Responded(1e6); bk.AddActive(1) }},
		{name: "AppendText", f: func() { buf = tb.AppendText(buf[:0], 0) }},
	}
	for _, tt := range tests {
		if n := testing.AllocsPerRun(1000, tt.f); n != 0 {
			t.Errorf("%s: %v allocs, want 0", tt.name, n)
		}
	}
}

func BenchmarkResponse(b *testing.B) {
	tb := New()
	rt := tb.Attach(0).Route(tb.Register("s", "l", "-"))
	for b.Loop() {
		rt.Response(200, 1200, HandlerProxy, 120e3)
	}
}
