//go:build linux

package proxy

import (
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
		h.respHeaders.Add(a.Name, a.Value, a.Always)
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
