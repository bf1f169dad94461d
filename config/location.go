package config

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"sort"
	"strings"

	"gopkg.in/ini.v1"

	"github.com/nproxy/nproxy/vars"
)

// [location MATCH] sections: routes inside a [server], matched against the
// request's decoded, normalized path as nginx matches its locations.

// MatchKind is how a [location] matches a request path.
type MatchKind uint8

// The kinds of location match, with nginx's modifiers.
const (
	// MatchPrefix is "/prefix": the longest matching prefix is chosen,
	// unless a regex location matches too.
	MatchPrefix MatchKind = iota
	// MatchPrefixFinal is "^~ /prefix": a prefix whose match, when it is
	// the longest, stops the regex search.
	MatchPrefixFinal
	// MatchExact is "= /path": only that path, chosen before anything
	// else.
	MatchExact
	// MatchRegex is "~ REGEX" (case-sensitive) or "~* REGEX"
	// (case-insensitive): the first one in file order that matches wins
	// over every prefix but a MatchPrefixFinal one.
	MatchRegex
)

// Location is one [location MATCH] section of a [server].
type Location struct {
	Line   int            // line of the section header
	Match  string         // MATCH as written, for messages ("= /x", "~ ^/a")
	Kind   MatchKind      //
	Path   string         // the prefix or exact path; "" for a regex
	Regexp *regexp.Regexp // nil unless Kind is MatchRegex

	// Server holds the location's effective settings: a copy of its
	// [server]'s, with the location's own keys applied. What the
	// location does not set it inherits, except that the keys of one
	// handler go together: a location that sets proxy_pass forwards
	// everything it matches (no static files, no return, proxy_prefix /,
	// and the upstream group's own balance, health_check and proxy_tls_*
	// start from their defaults), one that sets static_root or alias
	// serves files only, one that sets return answers with it only.
	// Server.Locations is nil.
	Server *Server

	// keys are the keys the section sets, for Owns.
	keys map[string]bool
}

// Group is a set of keys that configure one part of a request's handling.
// The server builds that part anew for a location that sets a key of the
// group, and shares its [server]'s otherwise (one upstream pool, one
// open-file cache, one rate-limit table).
type Group uint8

// The groups of location keys.
const (
	GroupNone   Group = iota // keys read per request from Location.Server
	GroupProxy               // the reverse proxy: its backends, pools and every setting it reads
	GroupStatic              // the static file handler
	GroupLimit               // the rate limiter
)

// locationKeys are the [server] keys a [location] may also set, by the
// group they belong to. A key added here must be put in the group of
// every part of the server that reads it, or a location setting it would
// share its [server]'s part, built without it.
var locationKeys = map[string]Group{
	"proxy_pass":             GroupProxy,
	"balance":                GroupProxy,
	"health_check":           GroupProxy,
	"proxy_connect_timeout":  GroupProxy,
	"proxy_timeout":          GroupProxy,
	"body_timeout":           GroupProxy, // the proxy reads it for the bodies it forwards; the server for those it drops
	"send_timeout":           GroupProxy, // the proxy reads it for the responses it relays; the server for its own
	"proxy_tls_ca":           GroupProxy,
	"proxy_tls_server_name":  GroupProxy,
	"proxy_tls_verify":       GroupProxy,
	"max_body_size":          GroupProxy, // the proxy enforces it on chunked bodies
	"static_root":            GroupStatic,
	"index":                  GroupStatic,
	"try_files":              GroupStatic,
	"return":                 GroupNone,
	"add_header":             GroupProxy, // the proxy adds them to its responses' heads
	"proxy_set_header":       GroupProxy,
	"hide_header":            GroupProxy, // the proxy leaves them out of its responses' heads
	"proxy_forwarded":        GroupProxy,
	"allow":                  GroupNone,
	"deny":                   GroupNone,
	"auth_basic":             GroupNone,
	"satisfy":                GroupNone,
	"auth_basic_user_file":   GroupNone,
	"autoindex":              GroupStatic,
	"hidden_files":           GroupStatic,
	"rate_limit":             GroupLimit,
	"rate_burst":             GroupLimit,
	"rate_limit_ipv6_prefix": GroupLimit,
}

// locationOnlyKeys are the keys of a [location] that a [server] does not
// have.
var locationOnlyKeys = map[string]serverKey{
	"strip_prefix": func(_ *loader, s *Server, v string) (err error) {
		s.StripPrefix, err = parseSwitch(v)
		return err
	},
	"alias": func(l *loader, s *Server, v string) (err error) {
		if l.captures != nil && strings.Contains(v, "$") {
			return l.parseAliasCaptures(s, v)
		}
		s.StaticRoot, err = l.directory(v)
		s.StripPrefix = true
		return err
	},
}

// locationOnlyGroups are the groups of locationOnlyKeys.
var locationOnlyGroups = map[string]Group{
	"strip_prefix": GroupNone,
	"alias":        GroupStatic,
}

// Owns reports whether the location sets a key of group g, so needs its
// own part for it rather than its [server]'s.
func (loc *Location) Owns(g Group) bool {
	for k := range loc.keys {
		if grp, ok := locationKeys[k]; ok && grp == g {
			return true
		}
		if grp, ok := locationOnlyGroups[k]; ok && grp == g {
			return true
		}
	}
	return false
}

// Sets reports whether the location's section sets key.
func (loc *Location) Sets(key string) bool { return loc.keys[key] }

// isLocationSection reports whether a section name is a [location ...].
func isLocationSection(name string) bool {
	name = strings.TrimSpace(name)
	return name == "location" || strings.HasPrefix(name, "location ") || strings.HasPrefix(name, "location\t")
}

// parseLocationMatch parses MATCH, the text after "location".
func parseLocationMatch(match string) (kind MatchKind, path string, re *regexp.Regexp, err error) {
	mod, rest, _ := strings.Cut(match, " ")
	rest = strings.TrimSpace(rest)
	switch mod {
	case "=", "^~":
		kind = MatchExact
		if mod == "^~" {
			kind = MatchPrefixFinal
		}
		path = rest
	case "~", "~*":
		if rest == "" {
			return 0, "", nil, fmt.Errorf("%q: %s needs a regular expression", match, mod)
		}
		expr := rest
		if mod == "~*" {
			expr = "(?i)" + rest
		}
		re, err = compileRegexp(expr)
		if err != nil {
			return 0, "", nil, fmt.Errorf("%q: %v", rest, err)
		}
		return MatchRegex, "", re, nil
	default:
		if strings.HasPrefix(mod, "~") || strings.HasPrefix(mod, "=") {
			return 0, "", nil, fmt.Errorf("%q: put a space after %q", match, mod[:1])
		}
		kind, path = MatchPrefix, match
	}
	switch {
	case path == "":
		return 0, "", nil, fmt.Errorf("%q: missing the path", match)
	case path[0] != '/':
		return 0, "", nil, fmt.Errorf("%q: the path must start with '/' (or use = /path, ^~ /path, ~ REGEX, ~* REGEX)", path)
	case strings.ContainsAny(path, " \t"):
		return 0, "", nil, fmt.Errorf("%q: spaces in a path (a regex needs ~)", path)
	}
	return kind, path, nil, nil
}

// applyLocation applies one [location] section to a copy of srv's
// settings and adds it to srv. srv is nil when the location has no usable
// [server] above it; its keys are still checked.
func (l *loader) applyLocation(sec *ini.Section, ss *scanSection, srv *Server, serverSeen bool) {
	match := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(sec.Name()), "location"))
	if !serverSeen {
		l.addf(ss.line, ErrUnknownSection, "[location %s]: a [location] belongs to the [server] above it, and there is none", match)
	}
	if match == "" {
		l.add(ss.line, ErrValue, "[location]: missing MATCH (/prefix, = /path, ^~ /prefix, ~ REGEX or ~* REGEX)")
	}
	loc := &Location{Line: ss.line, Match: match, keys: map[string]bool{}}
	var err error
	badMatch := false
	if match == "" {
		badMatch = true
	} else if loc.Kind, loc.Path, loc.Regexp, err = parseLocationMatch(match); err != nil {
		l.add(ss.line, ErrValue, "[location]: "+err.Error())
		badMatch = true
	} else if loc.Regexp != nil {
		if err := checkCaptureNames(loc.Regexp); err != nil {
			l.addf(ss.line, ErrValue, "[location %s]: %v", match, err)
		}
		l.captures = loc.Regexp
		defer func() { l.captures = nil }()
	}
	base := srv
	if base == nil {
		base = newServer(ss.line)
	}
	cp := *base
	cp.Locations = nil
	present := map[string]int{}
	for _, k := range sec.Keys() {
		name := k.Name()
		line := firstLine(ss, name)
		if _, locOnly := locationOnlyKeys[name]; !locOnly {
			if _, ok := locationKeys[name]; !ok || serverKeys[name] == nil {
				l.unknownLocationKey(name, line)
				continue
			}
		}
		present[name] = line
		loc.keys[name] = true
	}
	l.resetHandler(&cp, present)
	// Repeatable keys the location sets start empty and are merged with
	// its server's once applied.
	cp.AddHeaders, cp.ProxySetHeaders, cp.HideHeaders, cp.ErrorPages = nil, nil, nil, nil
	if _, allow := present["allow"]; allow {
		cp.Access = nil
	} else if _, deny := present["deny"]; deny {
		cp.Access = nil
	}
	for _, k := range sec.Keys() {
		name := k.Name()
		if _, ok := present[name]; !ok {
			continue
		}
		apply := locationOnlyKeys[name]
		if apply == nil {
			apply = serverKeys[name]
		}
		if repeatable[name] {
			l.applyRepeated(k, ss, &cp, apply)
			continue
		}
		v, line, ok := l.keyValue(k, ss)
		if !ok {
			continue
		}
		l.line = line
		if err := apply(l, &cp, v); err != nil {
			l.addValue(line, name, err)
		}
	}
	cp.AddHeaders = mergeAddHeaders(base.AddHeaders, cp.AddHeaders)
	cp.ProxySetHeaders = mergeSetHeaders(base.ProxySetHeaders, cp.ProxySetHeaders)
	cp.HideHeaders = mergeHideHeaders(base.HideHeaders, cp.HideHeaders)
	cp.ErrorPages = mergeErrorPages(base.ErrorPages, cp.ErrorPages)
	loc.Server = &cp
	if badMatch {
		return
	}
	l.checkLocation(loc, &cp, present)
	l.checkAccess(&cp, present)
	l.checkUpstreamUse(sec, present)
	l.checkInterceptErrors(&cp, present)
	if srv != nil {
		l.checkLocationConflicts(srv, loc)
		srv.Locations = append(srv.Locations, loc)
	}
}

// resetHandler clears in cp, a location's copy of its server's settings,
// the handlers that a handler key of the location replaces.
func (l *loader) resetHandler(cp *Server, present map[string]int) {
	_, proxy := present["proxy_pass"]
	_, root := present["static_root"]
	_, alias := present["alias"]
	_, ret := present["return"]
	if proxy || root || alias || ret {
		cp.ProxyPass, cp.ProxyTLS, cp.proxyHosts, cp.UpstreamName = nil, false, nil, ""
		cp.ProxyURI = vars.Template{}
		cp.StaticRoot, cp.StripPrefix, cp.AliasPath = "", false, ""
		cp.Return = nil
	}
	if proxy {
		def := newServer(0)
		cp.ProxyPrefix, cp.Balance = "/", def.Balance
		cp.HealthCheck, cp.HealthEvery = "", 0
		cp.ProxySendProxyProtocol = 0
		cp.ProxyKeepalive = def.ProxyKeepalive
		cp.ProxyTLSCA, cp.ProxyTLSServerName, cp.ProxyTLSVerify = def.ProxyTLSCA, def.ProxyTLSServerName, def.ProxyTLSVerify
	}
}

// checkServerHandler reports a [server] whose return would hide its
// proxy_pass or static_root: return answers every request of the
// section (its [location]s may still set their own handler).
func (l *loader) checkServerHandler(present map[string]int) {
	line, ok := present["return"]
	if !ok {
		return
	}
	for _, k := range []string{"proxy_pass", "static_root"} {
		if other, has := present[k]; has {
			l.addf(line, ErrConflict, "return: answers every request of the [server], so %s on line %d would never be used (move one of them to a [location])", k, other)
		}
	}
}

// unknownLocationKey reports a key a [location] may not set.
func (l *loader) unknownLocationKey(name string, line int) {
	switch {
	case globalKeys[name] != nil:
		l.addf(line, ErrUnknownKey, "%s: a global key: put it before the first section", name)
	case serverKeys[name] != nil:
		l.addf(line, ErrUnknownKey, "%s: a [server] key, not allowed in a [location]", name)
	default:
		msg := keyName(name) + ": unknown key"
		if s := suggest(name); s != "" {
			msg += " (did you mean " + s + "?)"
		}
		l.add(line, ErrUnknownKey, msg)
	}
}

// checkLocation checks a location's effective settings once its keys are
// applied, and warns about a location no request can reach.
func (l *loader) checkLocation(loc *Location, cp *Server, present map[string]int) {
	handlers := []string{}
	for _, k := range []string{"proxy_pass", "static_root", "alias", "return"} {
		if _, ok := present[k]; ok {
			handlers = append(handlers, k)
		}
	}
	sort.Slice(handlers, func(i, j int) bool { return present[handlers[i]] < present[handlers[j]] })
	if len(handlers) > 1 {
		l.addf(present[handlers[1]], ErrConflict, "%s: a [location] has one handler, and %s is set on line %d", handlers[1], handlers[0], present[handlers[0]])
	}
	if line, ok := present["alias"]; ok && loc.Kind == MatchExact {
		l.addf(line, ErrValue, "alias: only in a prefix [location] (the prefix is what alias replaces) or a regex one naming its captures; use static_root")
	} else if ok && loc.Kind == MatchRegex && cp.AliasPath == "" && cp.StaticRoot != "" {
		l.addf(line, ErrValue, "alias: in a regex [location] it must name the regex's captures (alias = /data/img/$1), since there is no prefix to replace; or use static_root")
	}
	if line, ok := present["strip_prefix"]; ok && loc.Kind == MatchRegex && cp.StripPrefix {
		l.addf(line, ErrValue, "strip_prefix: a regex [location] has no prefix to strip")
	}
	needs := []struct {
		key, needed, why string
		has              bool
	}{
		{"try_files", "static_root", "try_files looks up files", cp.StaticRoot != ""},
		{"index", "static_root", "index names files", cp.StaticRoot != ""},
		{"health_check", "proxy_pass", "health_check probes the backends", cp.HasProxy()},
		{"balance", "proxy_pass", "balance chooses among the backends", cp.HasProxy()},
		{"rate_burst", "rate_limit", "a burst needs a rate", cp.RateLimit > 0},
		{"rate_limit_ipv6_prefix", "rate_limit", "the prefix keys the rate limit", cp.RateLimit > 0},
	}
	for _, n := range needs {
		if line, ok := present[n.key]; ok && !n.has {
			l.addf(line, ErrMissing, "%s: needs %s in the [location] or its [server] (%s)", n.key, n.needed, n.why)
		}
	}
	proxyTLS := false
	for _, k := range append([]string{"proxy_pass"}, proxyTLSKeys...) {
		if _, ok := present[k]; ok {
			proxyTLS = true
		}
	}
	if proxyTLS {
		l.checkProxyTLS(cp, present)
	}
	l.warnUnreachable(loc)
}

// warnUnreachable warns about a prefix or exact path that no normalized
// request path can equal or start with, and a regex that must begin with
// something other than '/'.
func (l *loader) warnUnreachable(loc *Location) {
	if loc.Kind == MatchRegex {
		if first, ok := anchoredFirst(loc.Regexp); ok && first != '/' {
			l.warnf(loc.Line, "[location %s]: can never match: the regex must begin with %q, and every request path begins with '/'", loc.Match, first)
		}
		return
	}
	p := loc.Path
	why := ""
	switch {
	case strings.Contains(p, "//"):
		why = "request paths are matched with runs of '/' merged"
	case strings.Contains(p, "/./") || strings.Contains(p, "/../") || strings.HasSuffix(p, "/.") || strings.HasSuffix(p, "/.."):
		why = "request paths are matched with '.' and '..' segments resolved"
	case strings.ContainsAny(p, "?#"):
		why = "request paths are matched without the query string"
	case hasPercentEscape(p):
		why = "request paths are matched decoded: write the character, not its %XX escape"
	}
	if why != "" {
		l.warnf(loc.Line, "[location %s]: can never match: %s", loc.Match, why)
	}
}

// hasPercentEscape reports whether p holds "%XX" with two hex digits.
func hasPercentEscape(p string) bool {
	for i := 0; i+2 < len(p); i++ {
		if p[i] == '%' && isHex(p[i+1]) && isHex(p[i+2]) {
			return true
		}
	}
	return false
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// anchoredFirst returns the first character a match of re must begin
// with, when re is anchored at the start of the text and begins with a
// literal.
func anchoredFirst(re *regexp.Regexp) (rune, bool) {
	t, err := syntax.Parse(re.String(), syntax.Perl)
	if err != nil {
		return 0, false
	}
	t = t.Simplify()
	for t.Op == syntax.OpCapture && len(t.Sub) == 1 {
		t = t.Sub[0]
	}
	if t.Op != syntax.OpConcat || len(t.Sub) < 2 || t.Sub[0].Op != syntax.OpBeginText {
		return 0, false
	}
	lit := t.Sub[1]
	for lit.Op == syntax.OpCapture && len(lit.Sub) == 1 {
		lit = lit.Sub[0]
	}
	if lit.Op != syntax.OpLiteral || len(lit.Rune) == 0 || lit.Flags&syntax.FoldCase != 0 {
		return 0, false
	}
	return lit.Rune[0], true
}

// matchesEveryPath reports whether re matches any path that starts with
// '/': its only leaves are "any character", '/' and start anchors, and it
// matches "/" itself (so no repetition asks for more than every path has).
func matchesEveryPath(re *regexp.Regexp) bool {
	t, err := syntax.Parse(re.String(), syntax.Perl)
	if err != nil {
		return false
	}
	var general func(t *syntax.Regexp) bool
	general = func(t *syntax.Regexp) bool {
		switch t.Op {
		case syntax.OpEmptyMatch, syntax.OpAnyChar, syntax.OpAnyCharNotNL, syntax.OpBeginText, syntax.OpBeginLine:
			return true
		case syntax.OpLiteral:
			return string(t.Rune) == "/"
		case syntax.OpStar, syntax.OpPlus, syntax.OpQuest, syntax.OpRepeat, syntax.OpCapture, syntax.OpConcat:
			for _, s := range t.Sub {
				if !general(s) {
					return false
				}
			}
			return true
		}
		return false
	}
	return general(t.Simplify()) && re.MatchString("/") && re.MatchString("/a/b.c")
}

// checkLocationConflicts reports a location whose MATCH another location
// of the server already has, and warns about locations a catch-all regex
// hides.
func (l *loader) checkLocationConflicts(srv *Server, loc *Location) {
	for _, prev := range srv.Locations {
		same := false
		switch {
		case loc.Kind == MatchRegex:
			same = prev.Kind == MatchRegex && prev.Regexp.String() == loc.Regexp.String()
		case loc.Kind == MatchExact:
			same = prev.Kind == MatchExact && prev.Path == loc.Path
		default:
			same = (prev.Kind == MatchPrefix || prev.Kind == MatchPrefixFinal) && prev.Path == loc.Path
		}
		if same {
			l.addf(loc.Line, ErrConflict, "[location %s]: the same match as the [location] on line %d: only the first is ever chosen", loc.Match, prev.Line)
			return
		}
	}
}

// checkShadowed warns, once a [server]'s locations are all read, about
// the prefix locations and later regex locations that a regex matching
// every path hides: a matching regex wins over any prefix but a ^~ one,
// wherever it is in the file. It also warns about a location for
// /healthz or /metrics that the [server] answers itself.
func (l *loader) checkShadowed(srv *Server) {
	l.checkOwnPaths(srv)
	for i, catchAll := range srv.Locations {
		if catchAll.Kind != MatchRegex || !matchesEveryPath(catchAll.Regexp) {
			continue
		}
		for j, loc := range srv.Locations {
			switch {
			case loc.Kind == MatchPrefix:
				l.warnf(loc.Line, "[location %s]: never chosen: the regex [location] on line %d matches every path, and a matching regex wins over a prefix (use ^~ %s for a prefix that must win)", loc.Match, catchAll.Line, loc.Path)
			case loc.Kind == MatchRegex && j > i:
				l.warnf(loc.Line, "[location %s]: never chosen: the regex [location] on line %d, before it, matches every path", loc.Match, catchAll.Line)
			}
		}
		return
	}
}

// checkOwnPaths warns about a location whose path is /healthz or
// /metrics while the [server] answers it itself (healthz = on, metrics =
// on): those answers come before any location's handler, so an exact
// location for them is never used, and a prefix one never gets the path
// itself.
func (l *loader) checkOwnPaths(srv *Server) {
	own := []struct {
		path, key string
		on        bool
	}{
		{"/healthz", "healthz", srv.Healthz},
		{"/metrics", "metrics", srv.Metrics},
	}
	for _, loc := range srv.Locations {
		if loc.Kind == MatchRegex {
			continue
		}
		for _, o := range own {
			if !o.on || loc.Path != o.path {
				continue
			}
			if loc.Kind == MatchExact {
				l.warnf(loc.Line, "[location %s]: never chosen: the [server] answers %s itself (set %s = off in the [server] to route it)", loc.Match, o.path, o.key)
			} else {
				l.warnf(loc.Line, "[location %s]: never gets %s itself: the [server] answers it (set %s = off in the [server] to route it)", loc.Match, o.path, o.key)
			}
		}
	}
}
