//go:build linux

package http

import "github.com/nproxy/nproxy/vars"

// ExtraHeaders are header lines a configuration adds to responses
// (add_header): some to every response ("always"), the others only to the
// statuses nginx adds them to, 200, 201, 204, 206, 301, 302, 303, 304, 307
// and 308, so that a security header meant for pages does not end up on
// an error. The literal lines are built once; appending them copies
// bytes. A line whose value holds variables is expanded per response
// (AppendVars, or Prepare then AppendPrepared), and left out when its
// value expands to nothing, as nginx leaves it out.
type ExtraHeaders struct {
	always  []byte
	success []byte
	both    []byte // success then always
	// vars are the lines whose values hold variables, in file order.
	vars []varLine
	// upstream: a line of vars names $upstream_addr or
	// $upstream_status.
	upstream bool
}

// varLine is one add_header line whose value holds variables.
type varLine struct {
	name   string
	value  vars.Template
	always bool
}

// Add adds "name: value"; always adds it to every status.
func (e *ExtraHeaders) Add(name, value string, always bool) {
	line := &e.success
	if always {
		line = &e.always
	}
	*line = append(append(append(append(*line, name...), ": "...), value...), "\r\n"...)
	e.both = append(append(e.both[:0:0], e.success...), e.always...)
}

// AddValue adds "name: value" for a value that may hold variables: a
// literal one as Add does, else as a line expanded per response.
func (e *ExtraHeaders) AddValue(name string, value vars.Template, always bool) {
	if lit, ok := value.Literal(); ok {
		e.Add(name, lit, always)
		return
	}
	e.vars = append(e.vars, varLine{name: name, value: value, always: always})
	e.upstream = e.upstream || value.Uses(vars.UpstreamAddr) || value.Uses(vars.UpstreamStatus)
}

// Lines returns the literal lines of e that apply to status. The slice
// is e's own, with no room past its length: appending to it copies.
func (e *ExtraHeaders) Lines(status int) []byte {
	if e == nil {
		return nil
	}
	if addsTo(status) {
		return e.both[:len(e.both):len(e.both)]
	}
	return e.always[:len(e.always):len(e.always)]
}

// Empty reports whether e adds nothing.
func (e *ExtraHeaders) Empty() bool {
	return e == nil || len(e.always)+len(e.success)+len(e.vars) == 0
}

// HasVars reports whether a line of e holds variables: the request's
// values are then needed to write a response's head.
func (e *ExtraHeaders) HasVars() bool { return e != nil && len(e.vars) > 0 }

// UsesUpstream reports whether a line of e names $upstream_addr or
// $upstream_status.
func (e *ExtraHeaders) UsesUpstream() bool { return e != nil && e.upstream }

// Append appends the literal lines of e that apply to status.
func (e *ExtraHeaders) Append(dst []byte, status int) []byte {
	if e == nil {
		return dst
	}
	return append(dst, e.Lines(status)...)
}

// AppendVars appends the lines with variables that apply to status,
// expanded with vals: the request's values and the response's
// ($status, $upstream_*). A line whose value is empty is left out.
func (e *ExtraHeaders) AppendVars(dst []byte, status int, vals *vars.Values) []byte {
	if e == nil {
		return dst
	}
	for i := range e.vars {
		l := &e.vars[i]
		if !l.always && !addsTo(status) {
			continue
		}
		start := len(dst)
		dst = append(append(dst, l.name...), ": "...)
		n := len(dst)
		dst = endLine(l.value.Append(dst, vals), start, n)
	}
	return dst
}

// endLine ends the header line started at start in dst, whose value
// began at n: with CRLF, or, when the value expanded to nothing, by
// taking the line back out (nginx leaves such a header out).
func endLine(dst []byte, start, n int) []byte {
	if len(dst) == n {
		return dst[:start]
	}
	return append(dst, "\r\n"...)
}

// Prepare expands into p, after a Reset, what the lines with variables
// need of the request (vals), while it is at hand; AppendPrepared writes
// them once the response's head is.
func (e *ExtraHeaders) Prepare(p *vars.Prepared, vals *vars.Values) {
	p.Reset()
	if e == nil {
		return
	}
	for i := range e.vars {
		p.Add(e.vars[i].value, vals)
	}
}

// AppendPrepared is AppendVars for lines Prepare expanded into p: only
// the response's variables are read from vals. A p that Prepare did not
// fill for e (a request that never reached it) adds nothing.
func (e *ExtraHeaders) AppendPrepared(dst []byte, status int, p *vars.Prepared, vals *vars.Values) []byte {
	if e == nil || p.Len() != len(e.vars) {
		return dst
	}
	for i := range e.vars {
		l := &e.vars[i]
		if !l.always && !addsTo(status) {
			continue
		}
		start := len(dst)
		dst = append(append(dst, l.name...), ": "...)
		n := len(dst)
		dst = endLine(p.Append(dst, i, vals), start, n)
	}
	return dst
}

// addsTo reports whether add_header without always applies to status.
func addsTo(status int) bool {
	switch status {
	case 200, 201, 204, 206, 301, 302, 303, 304, 307, 308:
		return true
	}
	return false
}
