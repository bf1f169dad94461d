//go:build linux

package http

// ExtraHeaders are header lines a configuration adds to responses
// (add_header): some to every response ("always"), the others only to the
// statuses nginx adds them to, 200, 201, 204, 206, 301, 302, 303, 304, 307
// and 308, so that a security header meant for pages does not end up on
// an error. The lines are built once; appending them copies bytes.
type ExtraHeaders struct {
	always  []byte
	success []byte
	both    []byte // success then always
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

// Lines returns the lines of e that apply to status. The slice is e's
// own, with no room past its length: appending to it copies.
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
func (e *ExtraHeaders) Empty() bool { return e == nil || len(e.always)+len(e.success) == 0 }

// Append appends the lines of e that apply to status.
func (e *ExtraHeaders) Append(dst []byte, status int) []byte {
	if e == nil {
		return dst
	}
	return append(dst, e.Lines(status)...)
}

// addsTo reports whether add_header without always applies to status.
func addsTo(status int) bool {
	switch status {
	case 200, 201, 204, 206, 301, 302, 303, 304, 307, 308:
		return true
	}
	return false
}
