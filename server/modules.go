//go:build linux

package server

import (
	"fmt"
	"strings"
	"time"

	"github.com/nproxy/nproxy/config"
	"github.com/nproxy/nproxy/http"
	"github.com/nproxy/nproxy/modules"
	"github.com/nproxy/nproxy/modules/hook"
)

// The module step: the hooks of the modules a configuration loads
// (package modules), first in a block's routing chain for the global and
// [server] module lines (newVhost), first in a route for a [location]'s
// own (router.serveModules). Each worker opens its own instances; a
// module line opened for one block of a Server (a global line) is shared
// by the others.
//
// The phases after the chain: a response the server sends itself gets
// the response hooks at the end of the step's Serve and the log hooks
// when it is recorded (logModules, from observe.go and h2stream.go),
// right after Serve. An exchange a streaming step (the reverse proxy)
// took over outlives Serve, and the request head with it: the step's
// Serve then keeps a copy of the request and the steps that ran in a
// moduleHold, which the conn (HTTP/1.1) or the stream (HTTP/2) carries.
// The proxy hands the upstream's head to it (http.HeadFilter) for the
// response hooks, and the end of the stream logs it (logHeld).

// moduleStep runs modules' request hooks, then (unless one answered) the
// steps after it, then their response hooks on the answer. A block's
// step stands for its whole chain: next is what follows it there.
type moduleStep struct {
	s     *Server
	req   []*modules.Module // with a request hook, in configured order
	resp  []*modules.Module // with a response hook, in configured order
	log   []*modules.Module // with a log hook, in configured order
	lines []*config.Module  // every line, and its module in mods
	mods  []*modules.Module
	next  []http.Handler
	v     moduleView
}

var _ http.Handler = (*moduleStep)(nil)

// withModules returns vh's chain with the global and [server] modules in
// front: a chain of one step, which runs chain after the request hooks.
// Without module lines it returns chain as it is, so a block without
// modules pays nothing. On error it closes what vh's routes opened.
func (s *Server) withModules(vh *vhost, chain []http.Handler) ([]http.Handler, error) {
	lines := append(append([]*config.Module(nil), s.cfg.Modules...), vh.cfg.Modules...)
	m, err := s.newModuleStep(lines)
	if err != nil {
		// The block is not built: close what its routes opened.
		vh.proxy.Close()
		vh.static.Close()
		vh.proxy, vh.static = nil, nil
		closed := map[*modules.Module]bool{}
		eachChainModuleStep(chain, func(m *moduleStep) { m.close(closed) })
		return chain, err
	}
	if m == nil {
		return chain, nil
	}
	m.next = chain
	return []http.Handler{m}, nil
}

// newModuleStep opens the modules of lines for s; nil without lines.
func (s *Server) newModuleStep(lines []*config.Module) (*moduleStep, error) {
	if len(lines) == 0 {
		return nil, nil
	}
	m := &moduleStep{s: s}
	m.v.init(s)
	var opened []*modules.Module // by this call, closed again on error
	for _, line := range lines {
		mod := s.openedModule(line)
		if mod == nil {
			var err error
			if mod, err = modules.OpenCode(line.Name, line.Path, line.Code, line.Args, s.log); err != nil {
				for _, o := range opened {
					o.Close()
				}
				return nil, fmt.Errorf("server: line %d: module %s: %w", line.Line, line.Name, err)
			}
			opened = append(opened, mod)
		}
		m.lines, m.mods = append(m.lines, line), append(m.mods, mod)
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
	return m, nil
}

// openedModule returns the module a block of s built before opened for
// line, or nil.
func (s *Server) openedModule(line *config.Module) *modules.Module {
	var found *modules.Module
	s.eachModuleStep(func(m *moduleStep) {
		for i, l := range m.lines {
			if l == line && found == nil {
				found = m.mods[i]
			}
		}
	})
	return found
}

// eachModuleStep calls f with every module step of s's blocks and
// routes.
func (s *Server) eachModuleStep(f func(m *moduleStep)) {
	seen := map[*vhost]bool{}
	for _, g := range s.groups {
		for _, vh := range g.vhosts {
			if !seen[vh] {
				seen[vh] = true
				eachChainModuleStep(vh.chain, f)
			}
		}
	}
}

// eachChainModuleStep calls f with the module steps of a block's chain:
// its own and its routes'.
func eachChainModuleStep(chain []http.Handler, f func(m *moduleStep)) {
	if len(chain) == 1 {
		if m, ok := chain[0].(*moduleStep); ok {
			f(m)
			chain = m.next
		}
	}
	for _, h := range chain {
		if rt, ok := h.(*router); ok {
			rt.eachRoute(func(r *route) {
				if r.modules != nil {
					f(r.modules)
				}
			})
		}
	}
}

// eachRoute calls f with the block's own route and every location's.
func (rt *router) eachRoute(f func(r *route)) {
	f(rt.root)
	if t := rt.table; t != nil {
		for _, r := range t.exact {
			f(r)
		}
		for _, r := range t.prefixes {
			f(r)
		}
		for _, rr := range t.regexes {
			f(rr.r)
		}
	}
}

// closeModules closes every module instance s opened.
func (s *Server) closeModules() {
	closed := map[*modules.Module]bool{}
	s.eachModuleStep(func(m *moduleStep) { m.close(closed) })
}

// close closes m's modules that closed does not hold yet, and records
// them there.
func (m *moduleStep) close(closed map[*modules.Module]bool) {
	for _, mod := range m.mods {
		if !closed[mod] {
			closed[mod] = true
			mod.Close()
		}
	}
}

// newRouteModules opens the modules of a [location]'s own module lines;
// nil for the block's own route or a location without any.
func (s *Server) newRouteModules(sc *config.Server, loc *config.Location) (*moduleStep, error) {
	if loc == nil {
		return nil, nil
	}
	return s.newModuleStep(loc.OwnModules(sc))
}

// Serve runs the request hooks, the rest of the block's chain unless a
// hook answered, and the response hooks. It always answers.
func (m *moduleStep) Serve(x *http.Exchange) bool {
	if !m.request(x) {
		answered := false
		for _, h := range m.next {
			if h.Serve(x) {
				answered = true
				break
			}
		}
		if !answered {
			x.Resp.Error(404)
		}
	}
	m.response(x)
	return true
}

// serveModules runs route r with its location's modules around it.
func (rt *router) serveModules(x *http.Exchange, r *route) {
	m := r.modules
	if m == nil {
		rt.serveRoute(x, r)
		return
	}
	if !m.request(x) {
		rt.serveRoute(x, r)
	}
	m.response(x)
}

// request runs the request hooks in order; true when one answered (or
// failed: 500). Loop thread only.
func (m *moduleStep) request(x *http.Exchange) bool {
	m.s.mods.enter(m)
	v := &m.v
	v.begin(x)
	answered := false
	for _, mod := range m.req {
		err := mod.OnRequest(&v.rq)
		if err != nil {
			m.fail(x, mod, err)
			answered = true
			break
		}
		if v.answered {
			answered = true
			break
		}
	}
	v.phase = phaseDone
	// The path as the request hooks left it, for the later phases: the
	// routing goes on to change x.Path (strip_prefix, an error page).
	// The exchange's last step to run writes it last.
	m.s.mods.path = append(m.s.mods.path[:0], x.Path...)
	return answered
}

// response runs the response hooks on a response the server sends
// itself, in the reverse of the configured order: a module wraps what
// follows it, so the first one configured sees the request first and the
// response last, as a location's modules see the response before its
// block's. When a streaming step took the exchange over, the hooks run
// later, on the head it sends (moduleHold.FilterHead).
func (m *moduleStep) response(x *http.Exchange) {
	if slot := moduleSlot(x); slot != nil {
		m.s.holdModules(x, slot)
		return
	}
	if len(m.resp) == 0 {
		return
	}
	v := &m.v
	v.x, v.phase = x, phaseResponse
	for i := len(m.resp) - 1; i >= 0; i-- {
		if err := m.resp[i].OnResponse(&v.rs); err != nil {
			m.fail(x, m.resp[i], err)
			break
		}
	}
	v.phase = phaseDone
}

// fail replaces the answer with 500 and logs err with the module's name.
func (m *moduleStep) fail(x *http.Exchange, mod *modules.Module, err error) {
	m.s.log.Errorf("module %s: %v", mod.Name(), err)
	r := &x.Resp
	if r.Release != nil {
		r.Release.Release()
	}
	noServer := r.NoServer
	r.Reset(r.Header)
	r.NoServer = noServer
	r.Error(500)
	m.v.phase = phaseDone
}

// The phases of a moduleView: which changes its hooks may make.
const (
	phaseDone     = iota // between hooks: nothing may change
	phaseRequest         // request hooks: the request, or a local answer
	phaseResponse        // response hooks: the response; the request is read only
	phaseLog             // log hooks: nothing may change
)

// moduleView is the exchange as a module sees it: hook.Request,
// hook.Response and their hook.Headers over the http.Exchange being
// routed. A request header change is made on a copy of the request head
// (the client's buffer is the connection's, and its spans cannot grow):
// x.Req and x.Buf then point at the copy for the rest of the chain and
// the reverse proxy. One per step, used on the loop thread only.
type moduleView struct {
	s        *Server
	x        *http.Exchange
	phase    uint8
	answered bool // a request hook called Respond
	copied   bool // x.Req is &req, x.Buf is head
	addrSet  bool // addr holds the client's address (a moduleHold's)
	held     bool // a moduleHold's view: x.Path is the path the hooks left

	// The log phase's facts (hook.Log).
	logStatus int
	logBody   int64
	logTime   time.Duration

	req  http.Request // the copy a header change is made on
	head []byte       // its buffer: the client's head, then added fields
	path []byte       // SetPath's path
	body []byte       // scratch for a small local answer's body
	addr []byte       // scratch for ClientAddr

	rq   viewRequest
	rs   viewResponse
	lg   viewLog
	reqH requestHeaders
	rspH responseHeaders
}

// The hook interfaces of a view; each is a pointer to a field of the
// view, so handing one to a module allocates nothing.
var (
	_ hook.Request  = (*viewRequest)(nil)
	_ hook.Response = (*viewResponse)(nil)
	_ hook.Log      = (*viewLog)(nil)
	_ hook.Headers  = (*requestHeaders)(nil)
	_ hook.Headers  = (*responseHeaders)(nil)
)

type (
	viewRequest     struct{ v *moduleView }
	viewResponse    struct{ v *moduleView }
	viewLog         struct{ v *moduleView }
	requestHeaders  struct{ v *moduleView }
	responseHeaders struct{ v *moduleView }
)

func (v *moduleView) init(s *Server) {
	v.s = s
	v.rq.v, v.rs.v, v.lg.v, v.reqH.v, v.rspH.v = v, v, v, v, v
}

// begin prepares v for the request hooks of x.
func (v *moduleView) begin(x *http.Exchange) {
	v.x, v.phase, v.answered, v.copied = x, phaseRequest, false, false
}

// cow makes x.Req a copy v may change: on the first change of a request,
// the head is copied to v's buffer (spans are offsets, so they hold in
// the copy), with room for the fields a module adds.
func (v *moduleView) cow() {
	if v.copied {
		return
	}
	x := v.x
	v.req = *x.Req
	v.head = append(v.head[:0], x.Buf...)
	x.Req, x.Buf = &v.req, v.head
	v.copied = true
}

// maxModuleHead bounds the request head a module's additions may grow
// to: twice the most a client may send, so the spans (uint32) and the
// head sent upstream stay small.
const maxModuleHead = 2 * http.MaxHeadLen

// managedRequest and managedResponse are the header names nproxy writes
// or acts on itself (framing, connection management; Date and Server on
// responses): a module can neither set nor remove them (hook.ErrRefused).
var (
	managedRequest  = []string{"content-length", "transfer-encoding", "connection", "keep-alive", "upgrade", "te", "trailer", "proxy-connection"}
	managedResponse = append(append([]string(nil), managedRequest...), "date", "server")
)

// checkHeader checks a header change: name an RFC 9110 token that is not
// managed, value without CR, LF or NUL.
func checkHeader(name, value string, managed []string) error {
	if !isToken(name) || len(value) > http.MaxHeaderLen || strings.ContainsAny(value, "\r\n\x00") {
		return hook.ErrInvalid
	}
	for _, m := range managed {
		if strings.EqualFold(name, m) {
			return hook.ErrRefused
		}
	}
	return nil
}

// isToken reports whether s is a non-empty RFC 9110 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// viewRequest: hook.Request.

func (r *viewRequest) Method() []byte {
	x := r.v.x
	return x.Req.MethodSpan.Bytes(x.Buf)
}

// Path returns the request's path; after the request phase, as the
// request hooks left it (before strip_prefix and an error page's
// internal redirect), as the README's Modules section says.
func (r *viewRequest) Path() []byte {
	v := r.v
	if v.phase == phaseRequest || v.held {
		return v.x.Path
	}
	return v.s.mods.path
}

func (r *viewRequest) Query() []byte {
	x := r.v.x
	return x.Req.Query.Bytes(x.Buf)
}

func (r *viewRequest) Host() []byte {
	x := r.v.x
	return x.Req.Host.Bytes(x.Buf)
}

func (r *viewRequest) ClientAddr() []byte {
	v := r.v
	if v.addrSet {
		return v.addr
	}
	c, ok := v.x.Takeover.(*conn)
	if !ok {
		return nil
	}
	v.addr = c.PeerAddr(v.addr[:0])
	return v.addr
}

func (r *viewRequest) Headers() hook.Headers { return &r.v.reqH }

func (r *viewRequest) SetPath(p string) error {
	v := r.v
	if v.phase != phaseRequest || v.answered {
		return hook.ErrPhase
	}
	if !cleanPath(p) {
		return hook.ErrInvalid
	}
	v.path = append(v.path[:0], p...)
	v.x.Path, v.x.Rewritten = v.path, true
	return nil
}

// cleanPath reports whether p is a path as the server normalizes them:
// absolute, without "." or ".." segments or "//", without NUL, CR or LF,
// and not longer than a request-target may be.
func cleanPath(p string) bool {
	if p == "" || p[0] != '/' || len(p) > http.MaxURILen || strings.ContainsAny(p, "\x00\r\n") ||
		strings.Contains(p, "//") {
		return false
	}
	for _, seg := range strings.Split(p[1:], "/") {
		if seg == "." || seg == ".." {
			return false
		}
	}
	return true
}

// maxModuleScratchBody is the largest local answer's body kept in the
// view's scratch; a larger one is copied to the heap, since it may be
// sent from its buffer after Serve returns, when the scratch serves the
// next request (as maxScratchBody in return.go).
const maxModuleScratchBody = maxScratchBody

func (r *viewRequest) Respond(status int, body []byte) (hook.Headers, error) {
	v := r.v
	if v.phase != phaseRequest || v.answered {
		return nil, hook.ErrPhase
	}
	bodyless := status == 204 || status == 304
	if status < 200 || status > 599 || bodyless && len(body) > 0 {
		return nil, hook.ErrInvalid
	}
	resp := &v.x.Resp
	switch {
	case len(body) == 0:
		resp.Status, resp.ContentLength = status, 0
		if bodyless {
			resp.ContentLength = -1
		}
	case len(body) <= maxModuleScratchBody:
		v.body = append(v.body[:0], body...)
		resp.SetBody(status, "", v.body)
	default:
		resp.SetBody(status, "", append([]byte(nil), body...))
	}
	v.answered = true
	return &v.rspH, nil
}

// viewResponse: hook.Response.

func (r *viewResponse) Status() int { return r.v.x.Resp.Status }

func (r *viewResponse) SetStatus(code int) error {
	v := r.v
	if v.phase != phaseResponse {
		return hook.ErrPhase
	}
	resp := &v.x.Resp
	if code < 200 || code > 599 || code == 204 || code == 304 ||
		resp.Status < 200 || resp.Status == 204 || resp.Status == 304 {
		// A bodyless response has no Content-Length to go with a
		// status that has a body, and the other way round.
		return hook.ErrInvalid
	}
	resp.Status = code
	return nil
}

func (r *viewResponse) Headers() hook.Headers { return &r.v.rspH }

func (r *viewResponse) Request() hook.Request { return &r.v.rq }

// viewLog: hook.Log.

func (l *viewLog) Request() hook.Request   { return &l.v.rq }
func (l *viewLog) Status() int             { return l.v.logStatus }
func (l *viewLog) BodyBytes() int64        { return l.v.logBody }
func (l *viewLog) Duration() time.Duration { return l.v.logTime }

// requestHeaders: hook.Headers of the request (x.Req), changed on the
// copy (cow).

func (h *requestHeaders) Len() int { return h.v.x.Req.NumHeaders }

func (h *requestHeaders) At(i int) (name, value []byte) {
	x := h.v.x
	if i < 0 || i >= x.Req.NumHeaders {
		return nil, nil
	}
	f := &x.Req.Headers[i]
	return f.Name.Bytes(x.Buf), f.Value.Bytes(x.Buf)
}

func (h *requestHeaders) Get(name string) ([]byte, bool) {
	x := h.v.x
	return x.Req.Header(x.Buf, name)
}

// changeable reports whether the request may be changed now.
func (h *requestHeaders) changeable() error {
	if v := h.v; v.phase != phaseRequest || v.answered {
		return hook.ErrPhase
	}
	return nil
}

func (h *requestHeaders) Set(name, value string) error {
	if err := h.changeable(); err != nil {
		return err
	}
	if err := checkHeader(name, value, managedRequest); err != nil {
		return err
	}
	h.remove(name)
	return h.add(name, value)
}

func (h *requestHeaders) Add(name, value string) error {
	if err := h.changeable(); err != nil {
		return err
	}
	if err := checkHeader(name, value, managedRequest); err != nil {
		return err
	}
	return h.add(name, value)
}

func (h *requestHeaders) Del(name string) error {
	if err := h.changeable(); err != nil {
		return err
	}
	if err := checkHeader(name, "", managedRequest); err != nil {
		return err
	}
	h.remove(name)
	return nil
}

func (h *requestHeaders) add(name, value string) error {
	v := h.v
	v.cow()
	req := &v.req
	if req.NumHeaders == http.MaxHeaders {
		return hook.ErrTooMany
	}
	if len(v.head)+len(name)+len(value) > maxModuleHead {
		return hook.ErrTooMany
	}
	f := &req.Headers[req.NumHeaders]
	f.Name = http.Span{Off: uint32(len(v.head)), Len: uint32(len(name))}
	v.head = append(v.head, name...)
	f.Value = http.Span{Off: uint32(len(v.head)), Len: uint32(len(value))}
	v.head = append(v.head, value...)
	v.x.Buf = v.head
	req.NumHeaders++
	h.derive(name)
	return nil
}

// remove deletes every field named name, keeping the others' order.
func (h *requestHeaders) remove(name string) {
	x := h.v.x
	if _, ok := x.Req.Header(x.Buf, name); !ok {
		return
	}
	v := h.v
	v.cow()
	req := &v.req
	n := 0
	for i := 0; i < req.NumHeaders; i++ {
		if !http.EqualFold(req.Headers[i].Name.Bytes(v.head), name) {
			req.Headers[n] = req.Headers[i]
			n++
		}
	}
	req.NumHeaders = n
	h.derive(name)
}

// derive updates the facts the parser gathered from the field called
// name, which a module changed: the spans the static and proxy steps
// read instead of scanning the fields again.
func (h *requestHeaders) derive(name string) {
	v := h.v
	req := &v.req
	span := func() http.Span {
		for i := 0; i < req.NumHeaders; i++ {
			if http.EqualFold(req.Headers[i].Name.Bytes(v.head), name) {
				return req.Headers[i].Value
			}
		}
		return http.Span{}
	}
	switch {
	case strings.EqualFold(name, "host"):
		if !req.Absolute {
			req.Host = span()
		}
	case strings.EqualFold(name, "if-none-match"):
		req.IfNoneMatch = span()
	case strings.EqualFold(name, "if-modified-since"):
		req.IfModifiedSince = span()
	case strings.EqualFold(name, "range"):
		req.Range = span()
	}
	if strings.IndexByte(name, '_') >= 0 {
		req.HasUnderscoreHeader = true
	}
}

// responseHeaders: hook.Headers of the answer (x.Resp.Header, one
// "Name: value\r\n" line per field).

// fields calls f with each line's name and value and the line's extent
// in the header bytes, until f returns false.
func (h *responseHeaders) fields(f func(name, value []byte, start, end int) bool) {
	b := h.v.x.Resp.Header
	for start := 0; start < len(b); {
		end := start
		for end < len(b) && b[end] != '\n' {
			end++
		}
		if end < len(b) {
			end++
		}
		line := b[start:end]
		colon := 0
		for colon < len(line) && line[colon] != ':' {
			colon++
		}
		value := line[min(colon+1, len(line)):]
		for len(value) > 0 && (value[0] == ' ' || value[0] == '\t') {
			value = value[1:]
		}
		for len(value) > 0 && (value[len(value)-1] == '\n' || value[len(value)-1] == '\r') {
			value = value[:len(value)-1]
		}
		if !f(line[:colon], value, start, end) {
			return
		}
		start = end
	}
}

func (h *responseHeaders) Len() int {
	n := 0
	h.fields(func(_, _ []byte, _, _ int) bool { n++; return true })
	return n
}

func (h *responseHeaders) At(i int) (name, value []byte) {
	n := 0
	h.fields(func(nm, val []byte, _, _ int) bool {
		if n == i {
			name, value = nm, val
			return false
		}
		n++
		return true
	})
	return name, value
}

func (h *responseHeaders) Get(name string) (value []byte, ok bool) {
	h.fields(func(nm, val []byte, _, _ int) bool {
		if http.EqualFold(nm, name) {
			value, ok = val, true
			return false
		}
		return true
	})
	return value, ok
}

// changeable reports whether the answer may be changed now: in the
// response phase, or in the request phase once a hook answered.
func (h *responseHeaders) changeable() error {
	v := h.v
	if v.phase == phaseResponse || v.phase == phaseRequest && v.answered {
		return nil
	}
	return hook.ErrPhase
}

func (h *responseHeaders) Set(name, value string) error {
	if err := h.changeable(); err != nil {
		return err
	}
	if err := checkHeader(name, value, managedResponse); err != nil {
		return err
	}
	h.remove(name)
	h.v.x.Resp.AddHeaderString(name, value)
	return nil
}

func (h *responseHeaders) Add(name, value string) error {
	if err := h.changeable(); err != nil {
		return err
	}
	if err := checkHeader(name, value, managedResponse); err != nil {
		return err
	}
	h.v.x.Resp.AddHeaderString(name, value)
	return nil
}

func (h *responseHeaders) Del(name string) error {
	if err := h.changeable(); err != nil {
		return err
	}
	if err := checkHeader(name, "", managedResponse); err != nil {
		return err
	}
	h.remove(name)
	return nil
}

// remove deletes the lines of every field named name, in place.
func (h *responseHeaders) remove(name string) {
	resp := &h.v.x.Resp
	for {
		start, end := -1, -1
		h.fields(func(nm, _ []byte, s, e int) bool {
			if http.EqualFold(nm, name) {
				start, end = s, e
				return false
			}
			return true
		})
		if start < 0 {
			return
		}
		resp.Header = append(resp.Header[:start], resp.Header[end:]...)
	}
}
