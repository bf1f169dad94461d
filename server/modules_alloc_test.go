//go:build linux && !race

package server

import (
	"bytes"
	"testing"

	"github.com/nproxy/nproxy/http"
	"github.com/nproxy/nproxy/modules/hook"
)

// TestModuleStepAllocs proves that the module step allocates nothing per
// request for a native module that passes, and for one that changes a
// request field and a response field (the request head is copied into
// the step's buffer, kept from one request to the next). A block without
// modules has no step at all.
func TestModuleStepAllocs(t *testing.T) {
	tests := []struct {
		name string
		mod  hookFuncs
	}{
		{"pass", hookFuncs{
			req:  func(hook.Request) error { return nil },
			resp: func(hook.Response) error { return nil },
		}},
		{"change", hookFuncs{
			req: func(r hook.Request) error {
				if _, ok := r.Headers().Get("X-Keep"); !ok {
					return nil
				}
				return r.Headers().Set("X-Trace", "abc")
			},
			resp: func(r hook.Response) error { return r.Headers().Set("X-Frame-Options", "DENY") },
		}},
	}
	for _, tt := range tests {
		m, _, _ := moduleFixture(t, tt.mod)
		m.next = []http.Handler{answerOK{}}
		x := exchangeOf(t, simpleHead)
		req, buf, path := x.Req, x.Buf, x.Path
		hdr := make([]byte, 0, 512)
		run := func() {
			x.Req, x.Buf, x.Path, x.Rewritten = req, buf, path, false
			x.Resp.Reset(hdr)
			m.Serve(x)
		}
		run()
		if x.Resp.Status != 200 {
			t.Fatalf("%s: status %d", tt.name, x.Resp.Status)
		}
		if n := testing.AllocsPerRun(1000, run); n != 0 {
			t.Errorf("%s: %v allocs per request, want 0", tt.name, n)
		}
	}
}

// answerOK answers 200 with a fixed body (the upstream of the other
// tests records what it sees, which allocates).
type answerOK struct{}

var okBody = []byte("ok")

func (answerOK) Serve(x *http.Exchange) bool {
	x.Resp.SetBody(200, "text/plain", okBody)
	return true
}

// TestModulePhasesAllocs proves that the phases after the chain allocate
// nothing per request once warm: the log hooks of an exchange answered
// from x.Resp, and, for an exchange a stream takes, the hold (a copy of
// the request, from the worker's free list), the response hooks on the
// streamed head and the log hooks at its end.
func TestModulePhasesAllocs(t *testing.T) {
	var seen int64
	m, _, _ := moduleFixture(t, hookFuncs{
		req:  func(r hook.Request) error { return r.Headers().Set("X-Request-Id", "0123456789abcdef") },
		resp: func(r hook.Response) error { return r.Headers().Set("X-Frame-Options", "DENY") },
		log: func(l hook.Log) error {
			id, _ := l.Request().Headers().Get("X-Request-Id")
			seen += int64(l.Status()) + l.BodyBytes() + int64(len(id)) + int64(l.Duration())
			return nil
		},
	})
	m.next = []http.Handler{answerOK{}}
	s := m.s
	c := &conn{s: s}
	x := exchangeOf(t, simpleHead)
	req, buf, path := x.Req, x.Buf, x.Path
	hdr := make([]byte, 0, 512)
	begin := func() {
		s.served++
		x.Req, x.Buf, x.Path, x.Rewritten = req, buf, path, false
		x.Resp.Reset(hdr)
	}
	answered := func() {
		begin()
		m.Serve(x)
		c.logModules(x.Resp.Status, int64(len(x.Resp.Body)))
	}
	fields := make([]byte, 0, 512)
	var slot *moduleHold
	streamed := func() {
		begin()
		m.request(x)
		s.holdModules(x, &slot)
		head := http.Response{Status: 200, ContentLength: -1, Header: append(fields[:0], "Content-Type: text/plain\r\n"...)}
		if err := slot.FilterHead(&head); err != nil {
			t.Fatal(err)
		}
		fields = head.Header
		slot.SetResult(head.Status, 2)
		s.logHeld(&slot)
	}
	for _, tt := range []struct {
		name string
		run  func()
	}{{"answered", answered}, {"streamed", streamed}} {
		before := seen
		tt.run()
		if seen == before {
			t.Fatalf("%s: the log hook did not run", tt.name)
		}
		if n := testing.AllocsPerRun(1000, tt.run); n != 0 {
			t.Errorf("%s: %v allocs per request, want 0", tt.name, n)
		}
	}
	if !bytes.Contains(fields, []byte("X-Frame-Options: DENY")) {
		t.Errorf("the streamed head's fields: %q", fields)
	}
}
