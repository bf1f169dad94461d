//go:build linux

package server

import (
	"time"

	"github.com/nproxy/nproxy/http"
)

// The modules' phases after the routing chain (modules.go): the response
// hooks of a streamed exchange, and the log hooks of every exchange.
//
// While an exchange is routed, moduleRun lists the module steps whose
// request phase ran for it and that have response or log hooks. A
// response the server sends itself is logged right after Serve
// (logModules), through those steps' own views, which still hold the
// exchange. A streaming step's exchange outlives Serve: the first module
// step to see it taken over copies the request into a moduleHold, which
// the conn (HTTP/1.1) or the stream (HTTP/2) keeps until the exchange
// ends (logHeld).

// maxModuleSteps is the most module steps one exchange passes: its
// block's (global and [server] lines) and its location's.
const maxModuleSteps = 2

// moduleState is a worker's bookkeeping of those phases. Loop thread
// only.
type moduleState struct {
	run  moduleRun
	free []*moduleHold
	// path is the exchange's path as its request hooks left it (the
	// views' Path after the request phase); a moduleHold keeps a copy.
	path []byte
}

// moduleRun is the module steps of the exchange being routed.
type moduleRun struct {
	serial uint64 // Server.served+1 of the exchange; 0: none
	start  int64  // loop clock at the first step's request phase
	steps  [maxModuleSteps]*moduleStep
	n      int
	held   bool // a moduleHold took the exchange: logHeld logs it
}

// enter records that m's request phase runs for the current exchange.
func (ms *moduleState) enter(m *moduleStep) {
	s := m.s
	r := &ms.run
	if r.serial != s.served+1 {
		*r = moduleRun{serial: s.served + 1, start: s.clock()}
	}
	if (len(m.resp) > 0 || len(m.log) > 0) && r.n < len(r.steps) {
		r.steps[r.n] = m
		r.n++
	}
}

// clock returns the loop's clock (0 without a loop: in unit tests).
func (s *Server) clock() int64 {
	if s.loop == nil {
		return 0
	}
	return s.loop.NowNano()
}

// current returns the run of the exchange being routed that logModules
// should log, or nil.
func (ms *moduleState) current(s *Server) *moduleRun {
	r := &ms.run
	if r.serial != s.served+1 || r.held || r.n == 0 {
		return nil
	}
	return r
}

// moduleSlot returns where the modules of x are kept when a streaming
// step took x over and will answer after Serve (the conn's slot on
// HTTP/1.1, the stream's on HTTP/2), or nil when x is answered from
// x.Resp. A stream that gave the exchange back within Serve (Release
// before any response went out) answered in x.Resp; one that aborted
// still ends, and is logged, as a stream.
func moduleSlot(x *http.Exchange) **moduleHold {
	c, ok := x.Takeover.(*conn)
	if !ok {
		return nil
	}
	if h := c.h2; h != nil {
		p := h.taking
		if p == nil || p.want != wantNothing && p.want != wantAbort && !p.started && !p.sending {
			return nil // the same test as h2conn.OnRequest's
		}
		return &p.mods
	}
	if c.state != stTakeover || c.tk.want != wantNothing && c.tk.want != wantAbort {
		return nil
	}
	return &c.tk.mods
}

// holdModules moves the current exchange's modules into a moduleHold at
// slot, with a copy of the request: called from the Serve of the first
// module step that sees x taken over, while x's request is valid.
func (s *Server) holdModules(x *http.Exchange, slot **moduleHold) {
	ms := &s.mods
	r := ms.current(s)
	if r == nil || *slot != nil {
		return
	}
	r.held = true
	var h *moduleHold
	if n := len(ms.free); n > 0 {
		h, ms.free = ms.free[n-1], ms.free[:n-1]
	} else {
		h = &moduleHold{s: s}
		h.v.init(s)
	}
	h.steps, h.n, h.start = r.steps, r.n, r.start
	h.status, h.body = 0, 0
	h.capture(x)
	*slot = h
}

// moduleHold is the modules' part of an exchange a streaming step took
// over: the steps that ran, and a view of their own over a copy of the
// request (method, path, query, Host, header fields, client address),
// for the response and log phases. One per streamed exchange, from the
// worker's free list; loop thread only.
type moduleHold struct {
	s      *Server
	steps  [maxModuleSteps]*moduleStep
	n      int
	start  int64
	status int   // Client.SetResult
	body   int64 // Client.SetResult
	x      http.Exchange
	v      moduleView
}

var _ http.HeadFilter = (*moduleHold)(nil)

// capture copies x's request, as the request hooks left it, into h.
func (h *moduleHold) capture(x *http.Exchange) {
	v := &h.v
	v.req = *x.Req
	v.head = append(v.head[:0], x.Buf...)
	v.path = append(v.path[:0], h.s.mods.path...)
	h.x = http.Exchange{Req: &v.req, Buf: v.head, Path: v.path, TLS: x.TLS}
	v.x, v.phase, v.answered, v.copied, v.held = &h.x, phaseDone, false, true, true
	v.addr, v.addrSet = v.addr[:0], true
	if c, ok := x.Takeover.(*conn); ok {
		v.addr = c.PeerAddr(v.addr)
	}
}

// FilterHead runs the response hooks on r, the head of a streamed
// response (http.HeadFilter): the location's modules first, each step's
// in the reverse of the configured order, as for a response the server
// sends itself. A module's failure is logged and returned; the stream
// answers 500 instead.
func (h *moduleHold) FilterHead(r *http.Response) error {
	v := &h.v
	h.x.Resp = *r
	v.phase = phaseResponse
	var err error
	for i := h.n - 1; i >= 0 && err == nil; i-- {
		m := h.steps[i]
		for j := len(m.resp) - 1; j >= 0; j-- {
			if err = m.resp[j].OnResponse(&v.rs); err != nil {
				h.s.log.Errorf("module %s: %v", m.resp[j].Name(), err)
				break
			}
		}
	}
	v.phase = phaseDone
	*r = h.x.Resp
	h.x.Resp = http.Response{}
	return err
}

// SetResult records the stream's status and body bytes (http.Client's).
func (h *moduleHold) SetResult(status int, body int64) { h.status, h.body = status, body }

// logModules runs the log hooks of the exchange c just answered from
// x.Resp (status, body bytes sent), through the views of its steps,
// which still hold it: called where the exchange is recorded, right
// after Serve. An exchange a stream took is logged by logHeld instead.
func (c *conn) logModules(status int, body int64) {
	s := c.s
	r := s.mods.current(s)
	if r == nil {
		return
	}
	r.serial = 0
	x := &s.x
	x.Takeover = c // for the client's address; route cleared it
	d := time.Duration(s.clock() - r.start)
	for i := 0; i < r.n; i++ {
		m := r.steps[i]
		runLogHooks(s, m, &m.v, status, body, d)
	}
	x.Takeover = nil
}

// logHeld runs the log hooks of the streamed exchange held at slot, if
// any, and frees the hold: called when the stream ends (Release, Abort,
// a reset, the connection closing).
func (s *Server) logHeld(slot **moduleHold) {
	h := *slot
	if h == nil {
		return
	}
	*slot = nil
	status := h.status
	if status == 0 {
		status = 499 // gone before a response started, as the access log says
	}
	d := time.Duration(s.clock() - h.start)
	for i := 0; i < h.n; i++ {
		runLogHooks(s, h.steps[i], &h.v, status, h.body, d)
	}
	h.steps, h.x = [maxModuleSteps]*moduleStep{}, http.Exchange{}
	h.v.x = nil
	s.mods.free = append(s.mods.free, h)
}

// runLogHooks runs m's log hooks, in order, on v.
func runLogHooks(s *Server, m *moduleStep, v *moduleView, status int, body int64, d time.Duration) {
	if len(m.log) == 0 {
		return
	}
	v.phase, v.logStatus, v.logBody, v.logTime = phaseLog, status, body, d
	for _, mod := range m.log {
		if err := mod.OnLog(&v.lg); err != nil {
			s.log.Errorf("module %s: log hook: %v", mod.Name(), err)
		}
	}
	v.phase = phaseDone
}
