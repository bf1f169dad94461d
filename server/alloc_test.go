//go:build linux && !race

package server

import (
	"bytes"
	"testing"

	"github.com/nproxy/nproxy/accesslog"
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

// TestStreamObserveAllocs proves that following a proxied (streamed)
// response, from the takeover to its end, and recording it in the route's
// series and the access log allocates nothing.
func TestStreamObserveAllocs(t *testing.T) {
	c, req, buf, al := streamFixture(t)
	defer al.Close()
	c.vh.alogFmt = accesslog.Builtin("json") // every kind of variable, $request_id and $upstream_* included
	run := func() {
		c.s.reqIDSet = false // a new exchange
		c.startStream(req, buf)
		c.StreamLog().Start("127.0.0.1:9")
		c.SetResult(200, 1234)
		c.endStream()
	}
	run()
	if n := testing.AllocsPerRun(1000, run); n != 0 {
		t.Errorf("startStream+endStream: %v allocs, want 0", n)
	}
	// One run above, AllocsPerRun's warm-up, then 1000 measured.
	if got := c.s.table.AppendText(nil, 0); !bytes.Contains(got, []byte(`handler="proxy"} 1002`)) {
		t.Errorf("the streamed responses are not in the proxy histogram:\n%s", got)
	}
}
