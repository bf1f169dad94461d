package config

import (
	"errors"
	"fmt"
	"strings"

	"github.com/nproxy/nproxy/accesslog"
	"github.com/nproxy/nproxy/vars"
)

// The header keys: add_header (responses), proxy_set_header (requests to
// the backends) and server_tokens.

// AddHeader is one add_header = NAME VALUE [always].
type AddHeader struct {
	// Value is VALUE as written (without its quotes); Vars is it parsed:
	// literal text (Vars.Literal) or a value with variables, expanded
	// per response (an empty expansion leaves the header out).
	Name, Value string
	Vars        vars.Template
	// Always adds the header to every response; without it, only to
	// 200, 201, 204, 206, 301, 302, 303, 304, 307 and 308, as nginx.
	Always bool
}

// SetHeader is one proxy_set_header = NAME VALUE: the header sent to the
// backends instead of the client's of that name (and of nproxy's own
// Host, X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-Host or Via); an
// empty Value removes it.
type SetHeader struct {
	Name  string
	Value vars.Template
}

// headerKeys are the [server] keys of this file; keys.go merges them.
var headerKeys = map[string]serverKey{
	"add_header": func(l *loader, s *Server, v string) error {
		h, err := parseAddHeader(v, l.parseResponseVars)
		if err == nil {
			s.AddHeaders = append(s.AddHeaders, h)
		}
		return err
	},
	"proxy_set_header": func(l *loader, s *Server, v string) error {
		h, err := parseSetHeader(v, l.parseHeaderVars)
		if err == nil {
			s.ProxySetHeaders = append(s.ProxySetHeaders, h)
		}
		return err
	},
	"hide_header": func(_ *loader, s *Server, v string) error {
		name, err := parseHideHeader(v)
		if err == nil {
			s.HideHeaders = append(s.HideHeaders, name)
		}
		return err
	},
	"proxy_forwarded": func(_ *loader, s *Server, v string) (err error) {
		s.ProxyForwarded, err = parseSwitch(v)
		return err
	},
	"server_tokens": func(_ *loader, s *Server, v string) (err error) {
		s.ServerTokens, err = parseSwitch(v)
		return err
	},
}

func init() {
	for k, f := range headerKeys {
		serverKeys[k] = f
	}
	repeatable["add_header"] = true
	repeatable["proxy_set_header"] = true
	repeatable["hide_header"] = true
}

// framingHeaders are the fields nproxy writes itself to frame a message
// or manage a connection: no configuration may add or replace them.
var framingHeaders = []string{"content-length", "transfer-encoding", "connection", "keep-alive", "upgrade", "te", "trailer", "proxy-connection"}

// checkHeaderName checks a header name: an RFC 9110 token, not one of
// the framing fields.
func checkHeaderName(name string) error {
	if name == "" {
		return errors.New("missing the header name")
	}
	for i := 0; i < len(name); i++ {
		if !isTokenByte(name[i]) {
			return fmt.Errorf("%q: not a header name", name)
		}
	}
	if contains(framingHeaders, strings.ToLower(name)) {
		return fmt.Errorf("%q: nproxy writes this header itself (it frames the message)", name)
	}
	return nil
}

// isTokenByte reports whether c may be in an RFC 9110 token.
func isTokenByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// checkHeaderValue refuses control characters in a header value.
func checkHeaderValue(v string) error {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
			return fmt.Errorf("control character 0x%02x in the value", c)
		}
	}
	return nil
}

// parseAddHeader parses "NAME VALUE [always]". VALUE may hold variables,
// parsed by parseVars: those of proxy_set_header, maps' results, and the
// response's ($status, $upstream_addr, $upstream_status); one known only
// once the response is sent ($request_time, $body_bytes_sent, ...) is
// refused.
func parseAddHeader(v string, parseVars func(string) (vars.Template, error)) (AddHeader, error) {
	name, value, _ := strings.Cut(v, " ")
	value = strings.TrimSpace(value)
	h := AddHeader{Name: name}
	if rest, ok := strings.CutSuffix(value, " always"); ok {
		value, h.Always = strings.TrimSpace(rest), true
	}
	value = unquote(value)
	if err := checkHeaderName(name); err != nil {
		return h, err
	}
	if value == "" {
		return h, fmt.Errorf("%q: missing the value (NAME VALUE [always])", v)
	}
	if err := checkHeaderValue(value); err != nil {
		return h, err
	}
	t, err := parseVars(value)
	if err != nil {
		if lv := logOnlyVar(value); lv != "" && errors.Is(err, vars.ErrUnknown) {
			return h, fmt.Errorf("%q: $%s is known only after the response's head is sent (log_format takes it)", value, lv)
		}
		return h, fmt.Errorf("%q: %v", value, err)
	}
	h.Value, h.Vars = value, t
	return h, nil
}

// parseResponseVars parses a value written into a response head
// (add_header): parseVars's variables, and the response's.
func (l *loader) parseResponseVars(s string) (vars.Template, error) {
	sc := l.varScope()
	sc.Response, sc.Header = true, true
	return sc.Parse(s)
}

// parseHeaderVars parses a request header's value (proxy_set_header):
// parseVars's variables, the request's bytes with their spaces kept
// (vars.Scope.Header).
func (l *loader) parseHeaderVars(s string) (vars.Template, error) {
	sc := l.varScope()
	sc.Header = true
	return sc.Parse(s)
}

// logOnlyVar returns the name of the first variable of value that only
// the access log knows (a log_format variable that package vars does
// not have), or "".
func logOnlyVar(value string) string {
	for rest := value; ; {
		i := strings.IndexByte(rest, '$')
		if i < 0 {
			return ""
		}
		rest = rest[i+1:]
		name := rest
		if b, ok := strings.CutPrefix(rest, "{"); ok {
			name, _, _ = strings.Cut(b, "}")
		} else {
			j := 0
			for j < len(rest) && isNameByte(rest[j]) {
				j++
			}
			name = rest[:j]
		}
		if _, err := (vars.Scope{Response: true}).Parse("$" + name); err != nil && accesslog.IsVar(name) {
			return name
		}
	}
}

// parseSetHeader parses "NAME VALUE" (VALUE may hold variables, parsed by
// parseVars; "" removes the header).
func parseSetHeader(v string, parseVars func(string) (vars.Template, error)) (SetHeader, error) {
	name, value, _ := strings.Cut(v, " ")
	value = unquote(strings.TrimSpace(value))
	h := SetHeader{Name: name}
	if err := checkHeaderName(name); err != nil {
		return h, err
	}
	if value == "" && strings.EqualFold(name, "host") {
		return h, errors.New(`"Host": cannot be removed (HTTP/1.1 requires it)`)
	}
	if strings.TrimSpace(v) == name {
		return h, fmt.Errorf("%q: missing the value (use \"\" to remove the header)", v)
	}
	if err := checkHeaderValue(value); err != nil {
		return h, err
	}
	t, err := parseVars(value)
	if err != nil {
		return h, fmt.Errorf("%q: %v", value, err)
	}
	h.Value = t
	return h, nil
}

// parseHideHeader parses hide_header's NAME: one header name, not a
// framing one (nproxy decides those itself), and not Date or Server
// (nproxy never relays a backend's: server_tokens = off removes its own
// Server).
func parseHideHeader(v string) (string, error) {
	name := strings.TrimSpace(v)
	if strings.ContainsAny(name, " \t") {
		return "", fmt.Errorf("%q: one header name per hide_header line", v)
	}
	if err := checkHeaderName(name); err != nil {
		return "", err
	}
	switch strings.ToLower(name) {
	case "date", "server":
		return "", fmt.Errorf("%q: nproxy never passes on a backend's %s (server_tokens = off removes its own Server)", name, name)
	}
	return name, nil
}

// unquote removes one pair of double quotes around v, as nginx writes
// an empty value "".
func unquote(v string) string {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		return v[1 : len(v)-1]
	}
	return v
}

// mergeAddHeaders returns the headers of a location: its own, after the
// server's of other names (a location's header replaces the server's of
// the same name, and keeps the rest: unlike nginx, where any add_header
// in a location drops every inherited one).
func mergeAddHeaders(server, own []AddHeader) []AddHeader {
	var out []AddHeader
	for _, h := range server {
		if !slicesContainsFunc(own, func(o AddHeader) bool { return strings.EqualFold(o.Name, h.Name) }) {
			out = append(out, h)
		}
	}
	return append(out, own...)
}

// mergeSetHeaders is mergeAddHeaders for proxy_set_header.
func mergeSetHeaders(server, own []SetHeader) []SetHeader {
	var out []SetHeader
	for _, h := range server {
		if !slicesContainsFunc(own, func(o SetHeader) bool { return strings.EqualFold(o.Name, h.Name) }) {
			out = append(out, h)
		}
	}
	return append(out, own...)
}

// mergeHideHeaders returns the hide_header names of a location: its
// server's and its own (unlike nginx, where a location's
// proxy_hide_header drops the inherited ones, a header hidden for the
// whole [server] stays hidden).
func mergeHideHeaders(server, own []string) []string {
	var out []string
	for _, n := range server {
		if !slicesContainsFunc(own, func(o string) bool { return strings.EqualFold(o, n) }) {
			out = append(out, n)
		}
	}
	return append(out, own...)
}

func slicesContainsFunc[T any](s []T, f func(T) bool) bool {
	for _, x := range s {
		if f(x) {
			return true
		}
	}
	return false
}
