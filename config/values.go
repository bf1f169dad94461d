package config

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
	"time"

	"github.com/nproxy/nproxy/vars"
)

// Value parsers. Each returns an error whose text names the bad part of the
// value; the caller puts "KEY: " in front.

// parseCount parses a decimal integer in [lo, hi].
func parseCount(v string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || !isDigits(strings.TrimPrefix(v, "-")) {
		return 0, fmt.Errorf("%q: not a whole number", v)
	}
	if n < lo || n > hi {
		return 0, fmt.Errorf("%q: must be %d..%d", v, lo, hi)
	}
	return n, nil
}

// isDigits reports whether s is a non-empty run of ASCII digits.
func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// oneOf returns v if it is one of allowed.
func oneOf(v string, allowed ...string) (string, error) {
	for _, a := range allowed {
		if v == a {
			return v, nil
		}
	}
	return "", fmt.Errorf("%q: must be one of %s", v, strings.Join(allowed, ", "))
}

// parseSwitch parses nginx's on/off.
func parseSwitch(v string) (bool, error) {
	switch v {
	case "on":
		return true, nil
	case "off":
		return false, nil
	}
	return false, fmt.Errorf("%q: must be on or off", v)
}

// parseDuration parses a duration of at most max: a bare integer is
// seconds (nginx), otherwise Go syntax (75s, 500ms, 1m30s, 1.5h) or nginx's
// days (2d). Negative durations are refused, and so is one past max,
// including one too long for a time.Duration (about 292 years), which is
// reported the same way rather than wrapped around.
func parseDuration(v string, max time.Duration) (time.Duration, error) {
	tooLong := fmt.Errorf("%q: must be at most %s", v, formatBound(max))
	if isDigits(v) {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n > int64(max/time.Second) {
			return 0, tooLong
		}
		return time.Duration(n) * time.Second, nil
	}
	if days, ok := strings.CutSuffix(v, "d"); ok && isDigits(days) {
		n, err := strconv.ParseInt(days, 10, 64)
		if err != nil || n > int64(max/day) {
			return 0, tooLong
		}
		return time.Duration(n) * day, nil
	}
	d, err := time.ParseDuration(v)
	switch {
	case err != nil && goDuration.MatchString(v) && strings.HasPrefix(v, "-"):
		return 0, fmt.Errorf("%q: must not be negative", v)
	case err != nil && goDuration.MatchString(v):
		// Well formed, so time.ParseDuration refused it for overflowing
		// int64 nanoseconds.
		return 0, tooLong
	case err != nil:
		return 0, fmt.Errorf("%q: not a duration (use e.g. 60s, 500ms, 1m)", v)
	case d < 0:
		return 0, fmt.Errorf("%q: must not be negative", v)
	case d > max:
		return 0, tooLong
	}
	return d, nil
}

// day is nginx's "d" unit.
const day = 24 * time.Hour

// goDuration matches the syntax time.ParseDuration accepts, so that its
// one error for both bad syntax and overflow can be told apart.
var goDuration = regexp.MustCompile(`^[-+]?(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+$`)

// formatBound writes a bound in the largest unit that holds it exactly,
// as a config file would: 7d, 24h, 10m, 30s (days only from two on).
func formatBound(d time.Duration) string {
	for _, u := range []struct {
		unit   time.Duration
		suffix string
	}{{day, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}} {
		if d%u.unit == 0 && (u.unit != day || d >= 2*day) {
			return strconv.FormatInt(int64(d/u.unit), 10) + u.suffix
		}
	}
	return d.String()
}

// parseSize parses an nginx size: bytes, or a number with a k, m or g
// suffix (either case) for KiB, MiB, GiB.
func parseSize(v string) (int64, error) {
	digits, shift := v, 0
	if v != "" {
		switch v[len(v)-1] {
		case 'k', 'K':
			shift = 10
		case 'm', 'M':
			shift = 20
		case 'g', 'G':
			shift = 30
		}
		if shift != 0 {
			digits = v[:len(v)-1]
		}
	}
	if !isDigits(digits) {
		return 0, fmt.Errorf("%q: not a size (use e.g. 1m, 512k, 1048576)", v)
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || n > math.MaxInt64>>shift {
		return 0, fmt.Errorf("%q: too large", v)
	}
	return n << shift, nil
}

// parseRate parses "Nr/s" or "Nr/m" into requests per second.
func parseRate(v string) (float64, error) {
	num, unit, ok := strings.Cut(v, "r/")
	if !ok || (unit != "s" && unit != "m") || !isDigits(num) {
		return 0, fmt.Errorf("%q: not a rate (use e.g. 100r/s or 600r/m)", v)
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n == 0 || n > maxRate {
		return 0, fmt.Errorf("%q: must be 1..%d requests", v, maxRate)
	}
	if unit == "m" {
		return float64(n) / 60, nil
	}
	return float64(n), nil
}

// maxRate bounds a rate's number so a float64 holds it exactly; no real
// limit comes near it.
const maxRate = 1 << 40

// defaultPort is the port of a listen address or upstream given without
// one, as in nginx.
const defaultPort = 80

// errNeedsBrackets explains a bare IPv6 address.
var errNeedsBrackets = errors.New("an IPv6 address needs brackets, e.g. [::1]:8080")

// splitAddr splits "host:port", "[v6]:port", "host" or "port" (digits
// only). A missing port is defaultPort.
func splitAddr(s string) (host string, port uint16, err error) {
	return splitAddrPort(s, defaultPort)
}

// splitAddrPort is splitAddr with def for a missing port.
func splitAddrPort(s string, def uint16) (host string, port uint16, err error) {
	portText := ""
	switch {
	case isDigits(s):
		portText = s
	case strings.HasPrefix(s, "["):
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", 0, errors.New("missing ']' after the IPv6 address")
		}
		host = s[:end+1]
		switch rest := s[end+1:]; {
		case rest == "":
		case rest[0] == ':':
			portText = rest[1:]
		default:
			return "", 0, fmt.Errorf("unexpected %q after the address", rest)
		}
	default:
		i := strings.LastIndexByte(s, ':')
		if i < 0 {
			host = s
			break
		}
		host, portText = s[:i], s[i+1:]
		if strings.Contains(host, ":") {
			return "", 0, errNeedsBrackets
		}
	}
	if portText == "" && (strings.HasSuffix(s, ":")) {
		return "", 0, errors.New("missing port after ':'")
	}
	port = def
	if portText != "" {
		if !isDigits(portText) {
			return "", 0, fmt.Errorf("port %q is not a number", portText)
		}
		n, err := strconv.Atoi(portText)
		if err != nil || n < 1 || n > 65535 {
			return "", 0, errors.New("port out of range")
		}
		port = uint16(n)
	}
	return host, port, nil
}

// parseIP parses a listen or upstream host that is an IP address: a.b.c.d
// or [v6].
func parseIP(host string) (netip.Addr, bool) {
	if v6, ok := strings.CutPrefix(host, "["); ok {
		v6, ok = strings.CutSuffix(v6, "]")
		a, err := netip.ParseAddr(v6)
		return a, ok && err == nil && a.Is6()
	}
	a, err := netip.ParseAddr(host)
	return a, err == nil && a.Is4()
}

// parseListen parses one listen address into its normal form "ip:port":
// "*", an empty host and a bare port mean all IPv4 addresses (0.0.0.0, as
// nginx), and localhost means 127.0.0.1.
func parseListen(s string) (string, error) {
	host, port, err := splitAddr(s)
	if err != nil {
		return "", err
	}
	switch strings.ToLower(host) {
	case "", "*":
		host = "0.0.0.0"
	case "localhost":
		host = "127.0.0.1"
	}
	ip, ok := parseIP(host)
	if !ok {
		return "", errors.New("host must be an IP address, [IPv6], * or localhost")
	}
	return netip.AddrPortFrom(ip, port).String(), nil
}

// parseListenList parses the comma-separated listen value.
func parseListenList(v string) ([]string, error) {
	var out []string
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			return nil, fmt.Errorf("%q: empty address in the list", v)
		}
		addr, err := parseListen(part)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", part, err)
		}
		for _, seen := range out {
			if seen == addr {
				return nil, fmt.Errorf("%q: listed twice", part)
			}
		}
		out = append(out, addr)
	}
	return out, nil
}

// validHostname reports whether s (lower case) is a DNS name: dot-separated
// labels of letters, digits, '-' and '_', each 1..63 bytes, 253 in all.
func validHostname(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// parseServerNames parses the space-separated server_name value. Names are
// lower-cased; a wildcard is allowed only as a leading "*.". Repeats are
// dropped.
func parseServerNames(v string) ([]string, error) {
	var out []string
	for _, name := range strings.Fields(v) {
		lower := strings.ToLower(strings.TrimSuffix(name, "."))
		rest, wild := strings.CutPrefix(lower, "*.")
		if strings.Contains(rest, "*") {
			return nil, fmt.Errorf("%q: a wildcard is allowed only as a leading \"*.\"", name)
		}
		if !validHostname(rest) {
			return nil, fmt.Errorf("%q: not a host name", name)
		}
		if wild {
			rest = "*." + rest
		}
		if !contains(out, rest) {
			out = append(out, rest)
		}
	}
	return out, nil
}

// contains reports whether list holds s.
func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// parseIndex parses the space-separated index file names.
func parseIndex(v string) ([]string, error) {
	names := strings.Fields(v)
	for _, n := range names {
		if strings.Contains(n, "/") || n == "." || n == ".." {
			return nil, fmt.Errorf("%q: must be a file name, without '/'", n)
		}
	}
	return names, nil
}

// parseTryFiles checks nginx try_files tokens: each is "$uri" or a literal
// path starting with '/', possibly mixed ($uri.html, /cache$uri); the last
// may instead be "=CODE". At least two tokens, as nginx.
func parseTryFiles(v string) ([]string, error) {
	tokens := strings.Fields(v)
	if len(tokens) < 2 {
		return nil, fmt.Errorf("%q: needs at least two tokens, e.g. \"$uri /index.html\" or \"$uri =404\"", v)
	}
	for i, t := range tokens {
		if code, ok := strings.CutPrefix(t, "="); ok {
			if i != len(tokens)-1 {
				return nil, fmt.Errorf("%q: =CODE may only be the last token", t)
			}
			if n, err := strconv.Atoi(code); err != nil || len(code) != 3 || n < 100 || n > 599 {
				return nil, fmt.Errorf("%q: the status must be three digits, 100..599", t)
			}
			continue
		}
		if !strings.HasPrefix(t, "/") && !strings.HasPrefix(t, "$uri") {
			return nil, fmt.Errorf("%q: must be $uri or a path starting with '/'", t)
		}
		for rest := t; ; {
			i := strings.IndexByte(rest, '$')
			if i < 0 {
				break
			}
			rest = rest[i+1:]
			name, ok := strings.CutPrefix(rest, "uri")
			if !ok || name != "" && isNameByte(name[0]) {
				return nil, fmt.Errorf("%q: only the $uri variable is supported", t)
			}
			rest = name
		}
	}
	return tokens, nil
}

// isNameByte reports whether c may continue an nginx variable name.
func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

// parseUpstream parses one proxy_pass backend: an optional http:// or
// https://, then host[:port] where host is an IP, [IPv6], localhost or a
// DNS name. The port defaults to 80, or 443 after https://. name is the
// host when it is a name (lower case; "localhost" stays a name although
// the address becomes 127.0.0.1), "" when it is an IP address.
func parseUpstream(s string) (addr, name string, https bool, err error) {
	port := uint16(defaultPort)
	if rest, ok := strings.CutPrefix(s, "https://"); ok {
		s, https, port = rest, true, defaultTLSPort
	} else if scheme, _, ok := strings.Cut(s, "://"); ok && scheme != "http" {
		return "", "", false, fmt.Errorf("unsupported scheme %q (use http:// or https://)", scheme+"://")
	}
	s = strings.TrimPrefix(s, "http://")
	if i := strings.IndexByte(s, '/'); i >= 0 {
		return "", "", false, errors.New("a path after host:port is not supported (use strip_prefix or rewrite; in a regex [location], http://host/$1 names its captures)")
	}
	host, port, err := splitAddrPort(s, port)
	if err != nil {
		return "", "", false, err
	}
	if host == "" {
		return "", "", false, errors.New("missing host")
	}
	if strings.EqualFold(host, "localhost") {
		host, name = "127.0.0.1", "localhost"
	}
	if ip, ok := parseIP(host); ok {
		if ip.IsUnspecified() {
			return "", "", false, errors.New("cannot connect to an unspecified address")
		}
		return netip.AddrPortFrom(ip, port).String(), name, https, nil
	}
	host = strings.ToLower(host)
	if !validHostname(host) || isDigits(host[strings.LastIndexByte(host, '.')+1:]) {
		return "", "", false, errors.New("host must be an IP address, [IPv6] or a host name")
	}
	return host + ":" + strconv.Itoa(int(port)), host, https, nil
}

// defaultTLSPort is the port of an https:// upstream given without one.
const defaultTLSPort = 443

// parseProxyPass parses the proxy_pass list: backends separated by commas
// or spaces, each optionally followed by its options (parseServerOption):
// weight=N, max_fails=N, fail_timeout=T, backup, down. In an item between
// commas the first word is a backend and the option words after it are
// its options (so a host called backup or down is written first in its
// item, or with its port). useTLS reports https:// backends: all of them
// are, or none (one pool speaks one protocol). hosts holds each
// backend's host name, "" for an address. A list of backup backends only
// is refused: backups stand in for primaries.
func parseProxyPass(v string) (out []Upstream, useTLS bool, hosts []string, err error) {
	if out, useTLS, hosts, err = parseBackends(v); err != nil {
		return nil, false, nil, err
	}
	if onlyBackups(out) {
		return nil, false, nil, fmt.Errorf("%q: every backend is a backup (at least one must be a primary)", v)
	}
	return out, useTLS, hosts, nil
}

// parseBackends is parseProxyPass without the check for a primary (an
// [upstream]'s server lines are checked once all are read).
func parseBackends(v string) (out []Upstream, useTLS bool, hosts []string, err error) {
	for _, item := range strings.Split(v, ",") {
		set := 0 // the options the last backend has, by bit
		for i, tok := range strings.Fields(item) {
			if i > 0 {
				bit, ok, err := parseServerOption(&out[len(out)-1], tok)
				if err != nil {
					return nil, false, nil, err
				}
				if ok {
					if set&bit != 0 {
						return nil, false, nil, fmt.Errorf("%q: given twice for %s", tok, out[len(out)-1].Addr)
					}
					set |= bit
					continue
				}
			} else if strings.Contains(tok, "=") && isServerOption(tok) {
				return nil, false, nil, fmt.Errorf("%q: options must follow a backend (ADDR [weight=N] [max_fails=N] [fail_timeout=T] [backup] [down])", tok)
			}
			addr, name, https, err := parseUpstream(tok)
			if err != nil {
				return nil, false, nil, fmt.Errorf("%q: %w", tok, err)
			}
			if len(out) > 0 && https != useTLS {
				return nil, false, nil, fmt.Errorf("%q: https:// and plain backends in one proxy_pass (all backends use https://, or none)", tok)
			}
			useTLS = https
			for _, u := range out {
				if u.Addr == addr {
					return nil, false, nil, fmt.Errorf("%q: listed twice (use weight=N instead)", tok)
				}
			}
			if len(out) == MaxBackends {
				return nil, false, nil, fmt.Errorf("more than %d backends", MaxBackends)
			}
			out = append(out, Upstream{Addr: addr, Weight: 1})
			hosts = append(hosts, name)
			set = 0
		}
	}
	if len(out) == 0 {
		return nil, false, nil, fmt.Errorf("%q: no backend", v)
	}
	return out, useTLS, hosts, nil
}

// onlyBackups reports whether every backend of ups is a backup.
func onlyBackups(ups []Upstream) bool {
	for _, u := range ups {
		if !u.Backup {
			return false
		}
	}
	return len(ups) > 0
}

// The options of a backend, as nginx's server line in an upstream block;
// each a bit so that one given twice is refused.
const (
	optWeight = 1 << iota
	optMaxFails
	optFailTimeout
	optBackup
	optDown
)

// isServerOption reports whether tok is written as a backend option.
func isServerOption(tok string) bool {
	name, _, _ := strings.Cut(tok, "=")
	switch name {
	case "weight", "max_fails", "fail_timeout", "backup", "down":
		return true
	}
	return false
}

// parseServerOption applies tok to u when it is one of a backend's
// options and reports its bit; ok is false when tok is not written as
// one (then it is the next backend). A known option with a bad value, or
// an unknown NAME=VALUE, is an error.
func parseServerOption(u *Upstream, tok string) (bit int, ok bool, err error) {
	name, val, hasVal := strings.Cut(tok, "=")
	switch {
	case name == "backup" && !hasVal:
		u.Backup = true
		return optBackup, true, nil
	case name == "down" && !hasVal:
		u.Down = true
		return optDown, true, nil
	case name == "weight" && hasVal:
		n, err := parseCount(val, 1, maxWeight)
		if err != nil {
			return 0, false, fmt.Errorf("%q: weight must be 1..%d", tok, maxWeight)
		}
		u.Weight = n
		return optWeight, true, nil
	case name == "max_fails" && hasVal:
		n, err := parseCount(val, 0, maxMaxFails)
		if err != nil {
			return 0, false, fmt.Errorf("%q: max_fails must be 0..%d (0: never marked down by failures)", tok, maxMaxFails)
		}
		if n == 0 {
			n = NoMaxFails
		}
		u.MaxFails = n
		return optMaxFails, true, nil
	case name == "fail_timeout" && hasVal:
		d, err := parseDuration(val, maxFailTimeout)
		if err != nil {
			return 0, false, fmt.Errorf("%q: fail_timeout: %w", tok, err)
		}
		if d < minFailTimeout {
			return 0, false, fmt.Errorf("%q: fail_timeout must be at least %s", tok, formatBound(minFailTimeout))
		}
		u.FailTimeout = d
		return optFailTimeout, true, nil
	case hasVal, isServerOption(name):
		return 0, false, fmt.Errorf("%q: not a backend option (ADDR [weight=N] [max_fails=N] [fail_timeout=T] [backup] [down])", tok)
	}
	return 0, false, nil
}

// Bounds of max_fails and fail_timeout. A backend marked down is tried
// again after fail_timeout: under a second it would be hammered by
// every request, over a day it is better marked down.
const (
	maxMaxFails    = 1000
	minFailTimeout = time.Second
	maxFailTimeout = 24 * time.Hour
)

// maxWeight is the largest upstream weight. Smooth weighted round-robin
// sums weights per pick; 100 x MaxBackends stays far from overflow and
// 1..100 is the range people use.
const maxWeight = 100

// parseHealthCheck parses "PATH [INTERVAL]".
func parseHealthCheck(v string) (string, time.Duration, error) {
	f := strings.Fields(v)
	if len(f) > 2 {
		return "", 0, fmt.Errorf("%q: expected PATH [INTERVAL]", v)
	}
	if !strings.HasPrefix(f[0], "/") {
		return "", 0, fmt.Errorf("%q: the path must start with '/'", f[0])
	}
	every := defaultHealthEvery
	if len(f) == 2 {
		d, err := parseDuration(f[1], maxHealthEvery)
		if err != nil {
			return "", 0, err
		}
		if d <= 0 {
			return "", 0, fmt.Errorf("%q: the interval must be positive", f[1])
		}
		every = d
	}
	return f[0], every, nil
}

// parseRewrite parses "REGEX REPLACEMENT [FLAG]". FLAG is last (the
// default: the path is replaced and the request goes on), redirect (302)
// or permanent (301). A replacement that starts with http://, https:// or
// $scheme is a redirect (302 without a flag), as in nginx. The replacement
// of a path rewrite must be a path (start with '/' or a capture) and may
// use $N or ${N} for captures up to the number of groups in REGEX; a
// redirect's may also use the variables of package vars ($host,
// $request_uri, ...).
func parseRewrite(v string) (Rewrite, error) {
	f := strings.Fields(v)
	switch {
	case len(f) < 2:
		return Rewrite{}, fmt.Errorf("%q: expected REGEX REPLACEMENT [last|redirect|permanent]", v)
	case len(f) > 3:
		return Rewrite{}, fmt.Errorf("%q: expected REGEX REPLACEMENT [last|redirect|permanent]", v)
	}
	re, err := compileRegexp(f[0])
	if err != nil {
		return Rewrite{}, fmt.Errorf("%q: %v", f[0], err)
	}
	repl := f[1]
	redirect := 0
	if strings.HasPrefix(repl, "http://") || strings.HasPrefix(repl, "https://") || strings.HasPrefix(repl, "$scheme") {
		redirect = 302
	}
	if len(f) == 3 {
		switch f[2] {
		case "last":
			if redirect != 0 {
				return Rewrite{}, fmt.Errorf("%q: a replacement with a scheme is a redirect: use redirect or permanent", repl)
			}
		case "redirect":
			redirect = 302
		case "permanent":
			redirect = 301
		case "break":
			return Rewrite{}, fmt.Errorf("%q: break is not supported (rules run once per request, as last)", f[2])
		default:
			return Rewrite{}, fmt.Errorf("%q: the flag must be last, redirect or permanent", f[2])
		}
	}
	if redirect != 0 {
		target, keepArgs := repl, true
		if t, ok := strings.CutSuffix(target, "?"); ok {
			target, keepArgs = t, false
		}
		tmpl, err := vars.ParseCaptures(target, re.NumSubexp())
		if err != nil {
			return Rewrite{}, fmt.Errorf("%q: %v", repl, err)
		}
		return Rewrite{Regexp: re, Replacement: repl, Redirect: redirect, Target: tmpl, KeepArgs: keepArgs}, nil
	}
	if repl[0] != '/' && repl[0] != '$' {
		return Rewrite{}, fmt.Errorf("%q: the replacement must be a path starting with '/' (or a URL with redirect or permanent)", repl)
	}
	expanded, err := expandTemplate(repl, re.NumSubexp())
	if err != nil {
		return Rewrite{}, fmt.Errorf("%q: %v", repl, err)
	}
	return Rewrite{Regexp: re, Replacement: expanded}, nil
}

// parseReturn parses "CODE [URL|TEXT]" or "URL": a redirect (301, 302,
// 303, 307, 308) needs a URL; any other code of 200..599 answers TEXT as
// the body (none without TEXT). A URL alone is a 302, as in nginx. URL
// and TEXT may use the variables of package vars, parsed by parseVars.
func parseReturn(v string, parseVars func(string) (vars.Template, error)) (*Return, error) {
	code, rest, _ := strings.Cut(v, " ")
	rest = strings.TrimSpace(rest)
	if !isDigits(code) {
		if strings.HasPrefix(v, "http://") || strings.HasPrefix(v, "https://") || strings.HasPrefix(v, "$scheme") {
			code, rest = "302", v
		} else {
			return nil, fmt.Errorf("%q: expected CODE [URL or TEXT], or a URL", v)
		}
	}
	n, err := strconv.Atoi(code)
	if err != nil || len(code) != 3 || n < 200 || n > 599 {
		return nil, fmt.Errorf("%q: the status must be 200..599", code)
	}
	r := &Return{Code: n}
	if n == 444 && rest != "" {
		return nil, fmt.Errorf("%q: 444 closes the connection without a response, so it takes no text", v)
	}
	if isRedirect(n) {
		if rest == "" {
			return nil, fmt.Errorf("%q: %d needs the URL to redirect to", v, n)
		}
		if strings.ContainsAny(rest, " \t") {
			return nil, fmt.Errorf("%q: a URL has no spaces", rest)
		}
	}
	if r.Target, err = parseVars(rest); err != nil {
		return nil, fmt.Errorf("%q: %v", rest, err)
	}
	if !isRedirect(n) {
		// A text body, not a URL: the request's spaces stay.
		r.Target = r.Target.AsText()
	}
	return r, nil
}

// isRedirect reports whether code is answered with a Location.
func isRedirect(code int) bool {
	return code == 301 || code == 302 || code == 303 || code == 307 || code == 308
}

// expandTemplate turns an nginx replacement into a regexp.Expand template.
// In nginx "$12" is capture 1 followed by "2" (captures are $1..$9); in a
// Go template it names group 12, and "$1x" names a group "1x". Writing
// every capture as ${N} keeps nginx's meaning. ${N} is accepted for N > 9.
func expandTemplate(repl string, groups int) (string, error) {
	return numberCaptures(repl, func(rest string) (int, int, error) {
		var num string
		used := 0
		switch {
		case strings.HasPrefix(rest, "{"):
			end := strings.IndexByte(rest, '}')
			if end < 0 || !isDigits(rest[1:end]) {
				return 0, 0, errors.New("'${' must be followed by a capture number and '}'")
			}
			num, used = rest[1:end], end+1
		case rest != "" && rest[0] >= '0' && rest[0] <= '9':
			num, used = rest[:1], 1
		default:
			return 0, 0, errors.New("'$' must be followed by a capture number ($1 or ${1})")
		}
		n, err := strconv.Atoi(num)
		if err != nil || n > groups {
			return 0, 0, fmt.Errorf("$%s but the regex has %d capture group(s)", num, groups)
		}
		return n, used, nil
	})
}

// numberCaptures writes text with every '$' reference replaced by ${N},
// the regexp.Expand form naming group N: ref reads the reference after a
// '$' (the text that follows it) and says which group it names and how
// many bytes it took. rewrite's replacements and a regex [location]'s
// alias share it, each with its own idea of a reference.
func numberCaptures(text string, ref func(rest string) (n, used int, err error)) (string, error) {
	var b strings.Builder
	for rest := text; ; {
		i := strings.IndexByte(rest, '$')
		if i < 0 {
			b.WriteString(rest)
			break
		}
		b.WriteString(rest[:i])
		rest = rest[i+1:]
		n, used, err := ref(rest)
		if err != nil {
			return "", err
		}
		rest = rest[used:]
		b.WriteString("${" + strconv.Itoa(n) + "}")
	}
	return b.String(), nil
}

// compileRegexp compiles a rewrite pattern (RE2 syntax, as package regexp),
// dropping the package's "error parsing regexp: " prefix from errors.
func compileRegexp(expr string) (*regexp.Regexp, error) {
	re, err := regexp.Compile(expr)
	if err != nil {
		var se *syntax.Error
		if errors.As(err, &se) {
			return nil, fmt.Errorf("bad regex: %s: %s", se.Code, se.Expr)
		}
		return nil, err
	}
	return re, nil
}
