//go:build linux && !race

package server

import (
	"testing"

	"github.com/nproxy/nproxy/http"
)

// TestObserveAllocs proves that recording a response (metrics and an
// access log line) allocates nothing.
func TestObserveAllocs(t *testing.T) {
	c, req, buf, al := observeFixture(t)
	defer al.Close()
	var r http.Response
	r.Reset(nil)
	r.SetBody(200, "", []byte("hello"))
	c.observe(req, buf, &r, false) // the first line formats the time
	if n := testing.AllocsPerRun(1000, func() { c.observe(req, buf, &r, false) }); n != 0 {
		t.Errorf("observe: %v allocs, want 0", n)
	}
}
