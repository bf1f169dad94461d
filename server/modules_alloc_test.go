//go:build linux && !race

package server

import (
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
