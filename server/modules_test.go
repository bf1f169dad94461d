//go:build linux

package server

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nproxy/nproxy/http"
	"github.com/nproxy/nproxy/logging"
	"github.com/nproxy/nproxy/modules"
	"github.com/nproxy/nproxy/modules/hook"
)

// The module step's view of an exchange, with modules made of Go values
// (modules.Wrap): what a hook sees, what its changes do to the rest of
// the chain, and what is refused. Loading real modules, native and
// WebAssembly, through a running worker is package modules' test.

// hookFuncs is a module made of three functions; any may be nil.
type hookFuncs struct {
	req  func(r hook.Request) error
	resp func(r hook.Response) error
	log  func(l hook.Log) error
}

type (
	requestFunc  struct{ f func(hook.Request) error }
	responseFunc struct{ f func(hook.Response) error }
	logFunc      struct{ f func(hook.Log) error }
	bothFuncs    struct {
		requestFunc
		responseFunc
	}
	allFuncs struct {
		requestFunc
		responseFunc
		logFunc
	}
	requestLogFuncs struct {
		requestFunc
		logFunc
	}
)

func (h requestFunc) OnRequest(r hook.Request) error    { return h.f(r) }
func (h responseFunc) OnResponse(r hook.Response) error { return h.f(r) }
func (h logFunc) OnLog(l hook.Log) error                { return h.f(l) }

func (h hookFuncs) value() any {
	switch {
	case h.req != nil && h.resp != nil && h.log != nil:
		return allFuncs{requestFunc{h.req}, responseFunc{h.resp}, logFunc{h.log}}
	case h.req != nil && h.log != nil:
		return requestLogFuncs{requestFunc{h.req}, logFunc{h.log}}
	case h.log != nil:
		return logFunc{h.log}
	case h.req != nil && h.resp != nil:
		return bothFuncs{requestFunc{h.req}, responseFunc{h.resp}}
	case h.req != nil:
		return requestFunc{h.req}
	}
	return responseFunc{h.resp}
}

// upstream is the step after the modules: it records the request as the
// reverse proxy would forward it and answers 200 "ok", or with answer
// when set.
type upstream struct {
	called  bool
	path    string
	rewrite bool
	head    []string // "Name: value" of every request field
	host    string
	answer  func(x *http.Exchange)
}

func (u *upstream) Serve(x *http.Exchange) bool {
	u.called, u.path, u.rewrite, u.head = true, string(x.Path), x.Rewritten, nil
	for i := 0; i < x.Req.NumHeaders; i++ {
		h := &x.Req.Headers[i]
		u.head = append(u.head, string(h.Name.Bytes(x.Buf))+": "+string(h.Value.Bytes(x.Buf)))
	}
	u.host = string(x.Req.Host.Bytes(x.Buf))
	if u.answer != nil {
		u.answer(x)
		return true
	}
	x.Resp.SetBody(200, "text/plain", []byte("ok"))
	return true
}

// moduleFixture is a module step of mods in front of an upstream, and the
// server's error log.
func moduleFixture(t testing.TB, mods ...hookFuncs) (*moduleStep, *upstream, string) {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), "error.log")
	log, err := logging.New(logPath, logging.Info)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { log.Close() })
	s := &Server{log: log}
	up := &upstream{}
	m := &moduleStep{s: s, next: []http.Handler{up}}
	m.v.init(s)
	for i, h := range mods {
		mod, err := modules.Wrap(fmt.Sprintf("m%d", i+1), h.value())
		if err != nil {
			t.Fatal(err)
		}
		m.mods = append(m.mods, mod)
		if mod.HasRequestHook() {
			m.req = append(m.req, mod)
		}
		if mod.HasResponseHook() {
			m.resp = append(m.resp, mod)
		}
		if mod.HasLogHook() {
			m.log = append(m.log, mod)
		}
	}
	return m, up, logPath
}

// exchangeOf parses a request head into a fresh exchange.
func exchangeOf(t testing.TB, head string) *http.Exchange {
	t.Helper()
	buf := []byte(head)
	req := new(http.Request)
	req.Reset()
	var p http.Parser
	p.Reset()
	if done, err := p.Parse(buf, req); !done || err != nil {
		t.Fatalf("parse %q: %v %v", head, done, err)
	}
	x := &http.Exchange{Req: req, Buf: buf[:req.HeadLen]}
	x.Path, _ = normalizePath(nil, req.Path.Bytes(x.Buf))
	x.Resp.Reset(nil)
	return x
}

const simpleHead = "GET /a/b?q=1 HTTP/1.1\r\nHost: example.com\r\nX-Keep: k\r\nX-Drop: d\r\nX-Drop: e\r\nRange: bytes=0-1\r\n\r\n"

func TestModuleRequestView(t *testing.T) {
	var seen []string
	m, up, _ := moduleFixture(t, hookFuncs{req: func(r hook.Request) error {
		h := r.Headers()
		v, ok := h.Get("x-keep")
		seen = append(seen, string(r.Method()), string(r.Path()), string(r.Query()), string(r.Host()), fmt.Sprint(h.Len()), string(v), fmt.Sprint(ok))
		name, value := h.At(0)
		seen = append(seen, string(name)+"="+string(value))
		return nil
	}})
	x := exchangeOf(t, simpleHead)
	m.Serve(x)
	want := []string{"GET", "/a/b", "q=1", "example.com", "5", "k", "true", "Host=example.com"}
	if strings.Join(seen, "|") != strings.Join(want, "|") {
		t.Errorf("seen %q, want %q", seen, want)
	}
	if !up.called || x.Resp.Status != 200 {
		t.Errorf("upstream called %v, status %d", up.called, x.Resp.Status)
	}
}

func TestModuleRequestChanges(t *testing.T) {
	tests := []struct {
		name     string
		change   func(r hook.Request) error
		wantHead string // the fields upstream, joined by "|"
		wantHost string
		wantPath string
	}{
		{
			name:     "set replaces every field of the name",
			change:   func(r hook.Request) error { return r.Headers().Set("x-drop", "new") },
			wantHead: "Host: example.com|X-Keep: k|Range: bytes=0-1|x-drop: new",
			wantHost: "example.com", wantPath: "/a/b",
		},
		{
			name:     "add appends",
			change:   func(r hook.Request) error { return r.Headers().Add("X-Trace", "t1") },
			wantHead: "Host: example.com|X-Keep: k|X-Drop: d|X-Drop: e|Range: bytes=0-1|X-Trace: t1",
			wantHost: "example.com", wantPath: "/a/b",
		},
		{
			name:     "del removes every field of the name",
			change:   func(r hook.Request) error { return r.Headers().Del("X-DROP") },
			wantHead: "Host: example.com|X-Keep: k|Range: bytes=0-1",
			wantHost: "example.com", wantPath: "/a/b",
		},
		{
			name:     "host follows its field",
			change:   func(r hook.Request) error { return r.Headers().Set("Host", "backend.internal") },
			wantHead: "X-Keep: k|X-Drop: d|X-Drop: e|Range: bytes=0-1|Host: backend.internal",
			wantHost: "backend.internal", wantPath: "/a/b",
		},
		{
			name:     "path",
			change:   func(r hook.Request) error { return r.SetPath("/v2/a b") },
			wantHead: "Host: example.com|X-Keep: k|X-Drop: d|X-Drop: e|Range: bytes=0-1",
			wantHost: "example.com", wantPath: "/v2/a b",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, up, _ := moduleFixture(t, hookFuncs{req: tt.change})
			x := exchangeOf(t, simpleHead)
			m.Serve(x)
			if x.Resp.Status != 200 {
				t.Fatalf("status %d", x.Resp.Status)
			}
			if got := strings.Join(up.head, "|"); got != tt.wantHead {
				t.Errorf("upstream fields %q, want %q", got, tt.wantHead)
			}
			if up.host != tt.wantHost || up.path != tt.wantPath {
				t.Errorf("host %q path %q, want %q %q", up.host, up.path, tt.wantHost, tt.wantPath)
			}
			if up.rewrite != (tt.wantPath != "/a/b") {
				t.Errorf("Rewritten %v", up.rewrite)
			}
			if string(m.v.x.Req.Range.Bytes(m.v.x.Buf)) != "bytes=0-1" {
				t.Errorf("Range span lost")
			}
			if x.Req.Method != http.MethodGet || string(x.Req.URI.Bytes(x.Buf)) != "/a/b?q=1" {
				t.Errorf("request line lost: %q", x.Req.URI.Bytes(x.Buf))
			}
		})
	}
}

// TestModuleRequestCopy checks that a change is made on a copy: the
// connection's buffer, which holds the next pipelined request too, is
// never written.
func TestModuleRequestCopy(t *testing.T) {
	m, _, _ := moduleFixture(t, hookFuncs{req: func(r hook.Request) error {
		return errors.Join(r.Headers().Set("X-Keep", "changed"), r.Headers().Add("X-New", "n"))
	}})
	x := exchangeOf(t, simpleHead)
	buf, req := x.Buf, x.Req
	before := string(buf)
	m.Serve(x)
	if string(buf) != before || req.NumHeaders != 5 {
		t.Errorf("the client's head changed: %q, %d fields", buf, req.NumHeaders)
	}
	if v, _ := x.Req.Header(x.Buf, "X-Keep"); string(v) != "changed" {
		t.Errorf("X-Keep %q", v)
	}
}

func TestModuleRefusals(t *testing.T) {
	tests := []struct {
		name   string
		change func(r hook.Request) error
		want   error
	}{
		{"framing field", func(r hook.Request) error { return r.Headers().Set("Content-Length", "0") }, hook.ErrRefused},
		{"connection", func(r hook.Request) error { return r.Headers().Del("connection") }, hook.ErrRefused},
		{"name not a token", func(r hook.Request) error { return r.Headers().Add("X Y", "1") }, hook.ErrInvalid},
		{"empty name", func(r hook.Request) error { return r.Headers().Add("", "1") }, hook.ErrInvalid},
		{"CRLF in value", func(r hook.Request) error { return r.Headers().Add("X-A", "1\r\nX-B: 2") }, hook.ErrInvalid},
		{"relative path", func(r hook.Request) error { return r.SetPath("a") }, hook.ErrInvalid},
		{"dot-dot path", func(r hook.Request) error { return r.SetPath("/a/../b") }, hook.ErrInvalid},
		{"double slash", func(r hook.Request) error { return r.SetPath("/a//b") }, hook.ErrInvalid},
		{"status out of range", func(r hook.Request) error { _, err := r.Respond(99, nil); return err }, hook.ErrInvalid},
		{"body with 204", func(r hook.Request) error { _, err := r.Respond(204, []byte("x")); return err }, hook.ErrInvalid},
		{"second respond", func(r hook.Request) error {
			if _, err := r.Respond(200, nil); err != nil {
				return err
			}
			_, err := r.Respond(200, nil)
			return err
		}, hook.ErrPhase},
		{"request change after respond", func(r hook.Request) error {
			if _, err := r.Respond(200, nil); err != nil {
				return err
			}
			return r.Headers().Set("X-A", "1")
		}, hook.ErrPhase},
		{"too many fields", func(r hook.Request) error {
			for i := 0; ; i++ {
				if err := r.Headers().Add(fmt.Sprintf("X-%d", i), "v"); err != nil {
					return err
				}
			}
		}, hook.ErrTooMany},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got error
			m, _, _ := moduleFixture(t, hookFuncs{req: func(r hook.Request) error {
				got = tt.change(r)
				return nil
			}})
			m.Serve(exchangeOf(t, simpleHead))
			if !errors.Is(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestModuleRespond(t *testing.T) {
	body := []byte("denied")
	m, up, _ := moduleFixture(t, hookFuncs{req: func(r hook.Request) error {
		h, err := r.Respond(403, body)
		if err != nil {
			return err
		}
		return h.Set("Content-Type", "text/plain")
	}}, hookFuncs{req: func(r hook.Request) error {
		t.Error("the second module's request hook ran after an answer")
		return nil
	}})
	x := exchangeOf(t, simpleHead)
	m.Serve(x)
	copy(body, "XXXXXX") // the module reuses its buffer: the answer holds
	if up.called {
		t.Error("the chain ran after an answer")
	}
	if x.Resp.Status != 403 || string(x.Resp.Body) != "denied" || x.Resp.ContentLength != 6 ||
		string(x.Resp.Header) != "Content-Type: text/plain\r\n" {
		t.Errorf("answer %d %q %d %q", x.Resp.Status, x.Resp.Body, x.Resp.ContentLength, x.Resp.Header)
	}
}

func TestModuleResponse(t *testing.T) {
	var order []string
	m, _, _ := moduleFixture(t,
		hookFuncs{resp: func(r hook.Response) error {
			order = append(order, "1")
			h := r.Headers()
			ct, _ := h.Get("content-type")
			return errors.Join(h.Add("X-Order", "1"), h.Set("X-Type", string(ct)), h.Del("X-Gone"))
		}},
		hookFuncs{resp: func(r hook.Response) error {
			order = append(order, "2")
			if v, _ := r.Request().Headers().Get("Host"); string(v) != "example.com" {
				t.Errorf("request Host %q", v)
			}
			if err := r.Request().Headers().Set("X-Late", "1"); !errors.Is(err, hook.ErrPhase) {
				t.Errorf("request change in the response phase: %v", err)
			}
			if err := r.Headers().Set("Date", "x"); !errors.Is(err, hook.ErrRefused) {
				t.Errorf("set Date: %v", err)
			}
			return errors.Join(r.Headers().Add("X-Order", "2"), r.SetStatus(201))
		}})
	x := exchangeOf(t, simpleHead)
	m.next[0].(*upstream).answer = func(x *http.Exchange) {
		x.Resp.AddHeaderString("X-Gone", "1")
		x.Resp.SetBody(200, "text/plain", []byte("ok"))
	}
	m.Serve(x)
	// Response hooks run in the reverse of the configured order.
	if strings.Join(order, ",") != "2,1" {
		t.Errorf("order %v", order)
	}
	if want := "Content-Type: text/plain\r\nX-Order: 2\r\nX-Order: 1\r\nX-Type: text/plain\r\n"; string(x.Resp.Header) != want || x.Resp.Status != 201 {
		t.Errorf("response %d %q, want 201 %q", x.Resp.Status, x.Resp.Header, want)
	}
}

func TestModuleSetStatus(t *testing.T) {
	tests := []struct {
		from, to int
		ok       bool
	}{
		{200, 404, true},
		{200, 204, false}, // a body's Content-Length would go with a bodyless status
		{304, 200, false}, // and the other way round
		{200, 600, false},
	}
	for _, tt := range tests {
		var got error
		m, up, _ := moduleFixture(t, hookFuncs{resp: func(r hook.Response) error { got = r.SetStatus(tt.to); return nil }})
		up.answer = func(x *http.Exchange) { x.Resp.Status = tt.from }
		x := exchangeOf(t, simpleHead)
		m.Serve(x)
		if (got == nil) != tt.ok {
			t.Errorf("%d -> %d: %v", tt.from, tt.to, got)
		}
	}
}

// released records that a response's resource was given back.
type released struct{ n int }

func (r *released) Release() { r.n++ }

func TestModuleFailure(t *testing.T) {
	tests := []struct {
		name    string
		mod     hookFuncs
		file    bool // the upstream answers with a file, to be released
		wantLog string
	}{
		{"request error", hookFuncs{req: func(hook.Request) error { return errors.New("no") }}, false, "module m1: no"},
		{"request panic", hookFuncs{req: func(hook.Request) error { panic("boom") }}, false, "module m1: panicked: boom"},
		{"response error", hookFuncs{resp: func(hook.Response) error { return errors.New("late") }}, true, "module m1: late"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, up, logPath := moduleFixture(t, tt.mod)
			rel := &released{}
			if tt.file {
				up.answer = func(x *http.Exchange) {
					x.Resp.Status, x.Resp.Kind, x.Resp.File, x.Resp.FileLen, x.Resp.Release = 200, http.BodyFile, 7, 10, rel
				}
			}
			x := exchangeOf(t, simpleHead)
			x.Resp.NoServer = true
			m.Serve(x)
			if x.Resp.Status != 500 || x.Resp.Kind != http.BodyBytes || !x.Resp.NoServer {
				t.Errorf("answer %d kind %d NoServer %v, want a 500 page", x.Resp.Status, x.Resp.Kind, x.Resp.NoServer)
			}
			if tt.file && (rel.n != 1 || x.Resp.Release != nil) {
				t.Errorf("file released %d times", rel.n)
			}
			m.s.log.Close()
			b, _ := os.ReadFile(logPath)
			if !strings.Contains(string(b), tt.wantLog) {
				t.Errorf("log %q, want %q", b, tt.wantLog)
			}
		})
	}
}
