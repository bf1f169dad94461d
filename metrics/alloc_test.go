//go:build linux && !race

package metrics

import "testing"

// TestCountingAllocs proves the counting path allocates nothing, and that
// rendering into a buffer with room does not either.
func TestCountingAllocs(t *testing.T) {
	tb := New()
	c := tb.Attach(0)
	buf := make([]byte, 0, 4096)
	tests := []struct {
		name string
		f    func()
	}{
		{name: "Response", f: func() { c.Response(200, 512) }},
		{name: "Accepted+Closed", f: func() { c.Accepted(); c.Closed() }},
		{name: "Proxied", f: func() { c.Proxied(502) }},
		{name: "AppendText", f: func() { buf = tb.AppendText(buf[:0]) }},
	}
	for _, tt := range tests {
		if n := testing.AllocsPerRun(1000, tt.f); n != 0 {
			t.Errorf("%s: %v allocs, want 0", tt.name, n)
		}
	}
}

func BenchmarkResponse(b *testing.B) {
	c := New().Attach(0)
	for b.Loop() {
		c.Response(200, 1200)
	}
}
