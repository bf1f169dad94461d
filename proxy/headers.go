//go:build linux

package proxy

import (
	"strconv"

	"github.com/nproxy/nproxy/config"
	"github.com/nproxy/nproxy/http"
	"github.com/nproxy/nproxy/vars"
)

// The headers a configuration adds: add_header to the responses the
// proxy sends to the client (its own errors included), proxy_set_header
// to the requests it sends upstream, and server_tokens.

// initHeaders builds the add_header lines of h's configuration.
func (h *Handler) initHeaders() {
	for _, a := range h.cfg.AddHeaders {
		h.respHeaders.AddValue(a.Name, a.Vars, a.Always)
	}
}

// noVars is what variables expand to when the server passed none
// (Exchange.Vars nil: no proxy_set_header of the route uses one).
var noVars vars.Values

// setIndex returns the index of the proxy_set_header named name, or -1.
func setIndex(set []config.SetHeader, name []byte) int {
	for i := range set {
		if http.EqualFold(name, set[i].Name) {
			return i
		}
	}
	return -1
}

// setsField reports whether a proxy_set_header names the field name.
func setsField(set []config.SetHeader, name string) bool {
	for i := range set {
		if http.EqualFoldString(set[i].Name, name) {
			return true
		}
	}
	return false
}

// appendSetHeaders appends the proxy_set_header lines except Host (which
// appendRequestHead writes in its place), each expanded with vals; one
// that expands to nothing is left out.
func appendSetHeaders(dst []byte, set []config.SetHeader, vals *vars.Values) []byte {
	for i := range set {
		h := &set[i]
		if http.EqualFoldString(h.Name, "host") {
			continue
		}
		start := len(dst)
		dst = append(dst, h.Name...)
		dst = append(dst, ": "...)
		n := len(dst)
		dst = h.Value.Append(dst, vals)
		if len(dst) == n {
			dst = dst[:start]
			continue
		}
		dst = append(dst, "\r\n"...)
	}
	return dst
}

// prepareHeaders expands what the route's add_header lines with
// variables need of x's request, while it is at hand (in start, inside
// Serve): their heads are written once the backend answers. The
// attempts are kept for $upstream_addr and $upstream_status when the
// access log does not keep them.
func (s *session) prepareHeaders(x *http.Exchange) {
	e := &s.h.respHeaders
	if !e.HasVars() {
		return
	}
	vals := x.Vars
	if vals == nil {
		vals = &noVars
	}
	e.Prepare(&s.addVars, vals)
	if s.slog == nil && e.UsesUpstream() {
		s.ownLog = http.StreamLog{}
		s.slog = &s.ownLog
	}
}

// responseVars sets the response's variables in vals for a head of
// status: $status, and the attempts so far ($upstream_addr,
// $upstream_status), their texts in s.varText.
func (s *session) responseVars(vals *vars.Values, status int) {
	b := strconv.AppendInt(s.varText[:0], int64(status), 10)
	n := len(b)
	b = s.slog.AppendAddrs(b)
	m := len(b)
	b = s.slog.AppendStatuses(b)
	s.varText = b
	vals.Status, vals.UpstreamAddr, vals.UpstreamStatus = b[:n], b[n:m], b[m:]
}

// appendVarHeaders appends the lines of extra (the route's add_header,
// or gzip's copy of them) whose values hold variables, for a head of
// status.
func (s *session) appendVarHeaders(dst []byte, extra *http.ExtraHeaders, status int) []byte {
	if !extra.HasVars() {
		return dst
	}
	var vals vars.Values
	s.responseVars(&vals, status)
	return extra.AppendPrepared(dst, status, &s.addVars, &vals)
}

// errorHeaders returns the add_header lines of an error the proxy
// answers with status: the literal ones (a slice of the handler's, with
// no room past it), and those with variables expanded after them in
// s.errHdr.
func (s *session) errorHeaders(status int) []byte {
	e := &s.h.respHeaders
	if !e.HasVars() {
		return e.Lines(status)
	}
	s.errHdr = s.appendVarHeaders(append(s.errHdr[:0], e.Lines(status)...), e, status)
	return s.errHdr
}
