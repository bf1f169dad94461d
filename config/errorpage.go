package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrorPage is one error_page = CODE... [=CODE] URI.
type ErrorPage struct {
	Codes []int
	// Override is the status sent with the page (=CODE); 0 keeps the
	// error's own.
	Override int
	// Target is the page: a path served as if requested (an internal
	// redirect, as nginx), or, when Redirect, an http:// or https:// URL
	// the client is sent to with a 302.
	Target   string
	Redirect bool
	Line     int
}

func init() {
	serverKeys["error_page"] = func(l *loader, s *Server, v string) error {
		p, err := parseErrorPage(v)
		if err != nil {
			return err
		}
		p.Line = l.line
		s.ErrorPages = append(s.ErrorPages, p)
		return nil
	}
	repeatable["error_page"] = true
	locationKeys["error_page"] = GroupNone
	serverKeys["proxy_intercept_errors"] = func(_ *loader, s *Server, v string) (err error) {
		s.ProxyInterceptErrors, err = parseSwitch(v)
		return err
	}
	locationKeys["proxy_intercept_errors"] = GroupProxy // the proxy reads it
	serverKeys["proxy_send_proxy_protocol"] = func(_ *loader, s *Server, v string) error {
		switch v {
		case "off":
			s.ProxySendProxyProtocol = 0
		case "v1":
			s.ProxySendProxyProtocol = 1
		case "v2":
			s.ProxySendProxyProtocol = 2
		default:
			return fmt.Errorf("%q: expected v1, v2 or off", v)
		}
		return nil
	}
	locationKeys["proxy_send_proxy_protocol"] = GroupProxy
	serverKeys["proxy_keepalive"] = func(_ *loader, s *Server, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > MaxProxyKeepalive {
			return fmt.Errorf("%q: expected a number of connections from 0 to %d", v, MaxProxyKeepalive)
		}
		s.ProxyKeepalive = n
		return nil
	}
	locationKeys["proxy_keepalive"] = GroupProxy
}

// checkInterceptErrors warns about proxy_intercept_errors = on where it
// can change nothing: without proxy_pass, or without an error_page for
// a code of 300..599 (present are the section's keys and their lines).
func (l *loader) checkInterceptErrors(s *Server, present map[string]int) {
	line, ok := present["proxy_intercept_errors"]
	if !ok || !s.ProxyInterceptErrors {
		return
	}
	switch {
	case !s.HasProxy():
		l.warnf(line, "proxy_intercept_errors = on: no proxy_pass here, so no backend error to replace")
	case len(s.ErrorPages) == 0:
		l.warnf(line, "proxy_intercept_errors = on: no error_page here, so every backend error goes through as sent")
	}
}

// parseErrorPage parses "CODE... [=CODE] URI".
func parseErrorPage(v string) (ErrorPage, error) {
	var p ErrorPage
	f := strings.Fields(v)
	if len(f) < 2 {
		return p, fmt.Errorf("%q: expected CODE... [=CODE] URI", v)
	}
	p.Target = f[len(f)-1]
	for _, tok := range f[:len(f)-1] {
		if o, ok := strings.CutPrefix(tok, "="); ok {
			n, err := strconv.Atoi(o)
			if err != nil || len(o) != 3 || n < 200 || n > 599 {
				return p, fmt.Errorf("%q: =CODE must be a status of 200..599", tok)
			}
			if n == 444 {
				return p, fmt.Errorf("%q: 444 sends no response, so no page either", tok)
			}
			p.Override = n
			continue
		}
		n, err := strconv.Atoi(tok)
		if err != nil || len(tok) != 3 || n < 300 || n > 599 {
			return p, fmt.Errorf("%q: the codes must be 300..599", tok)
		}
		if n == 444 {
			return p, fmt.Errorf("%q: 444 sends no response, so no page either", tok)
		}
		if p.Override != 0 {
			return p, errors.New("=CODE goes after the codes, just before the URI")
		}
		p.Codes = append(p.Codes, n)
	}
	if len(p.Codes) == 0 {
		return p, fmt.Errorf("%q: no status code", v)
	}
	switch {
	case strings.HasPrefix(p.Target, "http://") || strings.HasPrefix(p.Target, "https://"):
		p.Redirect = true
	case !strings.HasPrefix(p.Target, "/"):
		return p, fmt.Errorf("%q: the page must be a path starting with '/' or an http(s):// URL", p.Target)
	case strings.ContainsAny(p.Target, "?#$") || hasPercentEscape(p.Target):
		return p, fmt.Errorf("%q: the page must be a plain path (no query, variable or escape)", p.Target)
	}
	if err := checkHeaderValue(p.Target); err != nil {
		return p, err
	}
	return p, nil
}

// mergeErrorPages returns a location's pages: its own codes, then its
// server's for the codes it does not name.
func mergeErrorPages(server, own []ErrorPage) []ErrorPage {
	if len(own) == 0 {
		return server
	}
	named := map[int]bool{}
	for _, p := range own {
		for _, c := range p.Codes {
			named[c] = true
		}
	}
	out := append([]ErrorPage(nil), own...)
	for _, p := range server {
		var codes []int
		for _, c := range p.Codes {
			if !named[c] {
				codes = append(codes, c)
			}
		}
		if len(codes) > 0 {
			p.Codes = codes
			out = append(out, p)
		}
	}
	return out
}
