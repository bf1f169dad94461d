//go:build linux

package server

import (
	"regexp"
	"regexp/syntax"
	"unicode/utf8"

	"github.com/nproxy/nproxy/config"
	"github.com/nproxy/nproxy/http"
	"github.com/nproxy/nproxy/rewrite"
)

// The captures of a [location ~ REGEX]: its return, proxy_set_header,
// alias and proxy_pass URI values may name the regex's groups ($1,
// $name; see config/capture.go). The route table matches such a route's
// regex with its group indexes once per request
// (routeTable.matchCaptures), and the server keeps them, with the path
// they index, for the request's variables (requestValues) and alias.
//
// The Go regexp engines return group indexes only in a slice they
// allocate (FindSubmatchIndex: one allocation of 2*(groups+1) ints per
// match; Match allocates nothing). A regex that matches a path in one
// way only, as those nginx examples use (^/img/(.+)$,
// ^/u/([a-z]+)/(.*)$), needs no indexes from the engine: once Match has
// said it matches, its groups follow from its parts (scanPlan), written
// in the table's scratch. Any other regex whose route names captures
// costs that one allocation per request it matches; a route that names
// none is matched with Match.

// usesCaptures reports whether a location's settings name captures of
// its regex.
func usesCaptures(cfg *config.Server) bool {
	if cfg.AliasPath != "" || cfg.ProxyURI.UsesCaptures() {
		return true
	}
	if cfg.Return != nil && cfg.Return.Target.UsesCaptures() {
		return true
	}
	for _, h := range cfg.ProxySetHeaders {
		if h.Value.UsesCaptures() {
			return true
		}
	}
	return false
}

// scanStep is one part of a regex that scanCaptures follows without
// the regexp engine: a literal, one rune of a class, or as many runes of
// a class as there are (x*, x+). open and close are the group (1..) that
// starts before the step and ends after it, 0 for none.
type scanStep struct {
	lit         string // the literal's text; "" for a class step
	fold        bool   // the literal ignores ASCII case
	class       []rune // lo, hi pairs of the runes a class step takes
	many        bool   // the class repeats
	open, close int
}

// scanPlan is how scanCaptures finds the groups of a regex in a path it
// matches; nil when the regex is not of a shape that has one match only.
type scanPlan []scanStep

// newScanPlan reads a plan from re: anchored at both ends (^...$), a
// sequence of literals, classes (., [a-z], \d) and repeated classes
// (x*, x+), with groups around some of them (not nested), where every
// repeated class is last or followed by a literal whose first rune the
// class does not take. Such a regex matches a path in one way only (each
// repetition must stop at that literal or at the end), so the groups
// follow from the steps once Match has said the path matches: the
// shapes of ^/img/(.+)$, ^/u/([a-z]+)/(.*)$, ^/api/(v[0-9])/([^/]+)$.
func newScanPlan(re *regexp.Regexp) scanPlan {
	t, err := syntax.Parse(re.String(), syntax.Perl)
	if err != nil {
		return nil
	}
	t = t.Simplify()
	if t.Op != syntax.OpConcat || len(t.Sub) < 3 || t.Sub[0].Op != syntax.OpBeginText || t.Sub[len(t.Sub)-1].Op != syntax.OpEndText {
		return nil
	}
	var plan scanPlan
	groups := 0
	for _, sub := range t.Sub[1 : len(t.Sub)-1] {
		if sub.Op != syntax.OpCapture {
			st, ok := scanStepOf(sub)
			if !ok {
				return nil
			}
			plan = append(plan, st)
			continue
		}
		parts := []*syntax.Regexp{sub.Sub[0]}
		if sub.Sub[0].Op == syntax.OpConcat {
			parts = sub.Sub[0].Sub
		}
		first := len(plan)
		for _, p := range parts {
			st, ok := scanStepOf(p)
			if !ok {
				return nil
			}
			plan = append(plan, st)
		}
		if len(plan) == first {
			return nil
		}
		plan[first].open, plan[len(plan)-1].close = sub.Cap, sub.Cap
		groups++
	}
	if groups != re.NumSubexp() || groups == 0 {
		return nil
	}
	for i, st := range plan {
		if !st.many || i == len(plan)-1 {
			continue
		}
		next := plan[i+1]
		if next.lit == "" {
			return nil
		}
		r, _ := utf8.DecodeRuneInString(next.lit)
		if inClass(st.class, r) || next.fold && (inClass(st.class, r|0x20) || inClass(st.class, r&^0x20)) {
			return nil
		}
	}
	return plan
}

// scanStepOf returns the step of t: a literal (case-folded ASCII only),
// a class, or a class repeated by * or +.
func scanStepOf(t *syntax.Regexp) (scanStep, bool) {
	switch t.Op {
	case syntax.OpLiteral:
		lit, fold, ok := literalOf(t)
		return scanStep{lit: lit, fold: fold}, ok
	case syntax.OpStar, syntax.OpPlus:
		st, ok := classOf(t.Sub[0])
		st.many = true
		return st, ok
	}
	return classOf(t)
}

// classOf returns the class step of t: a character class, . or (?s).
func classOf(t *syntax.Regexp) (scanStep, bool) {
	switch t.Op {
	case syntax.OpCharClass:
		return scanStep{class: t.Rune}, len(t.Rune) > 0
	case syntax.OpAnyCharNotNL:
		return scanStep{class: []rune{0, '\n' - 1, '\n' + 1, utf8.MaxRune}}, true
	case syntax.OpAnyChar:
		return scanStep{class: []rune{0, utf8.MaxRune}}, true
	}
	return scanStep{}, false
}

// inClass reports whether r is in class, lo, hi pairs.
func inClass(class []rune, r rune) bool {
	for i := 0; i+1 < len(class); i += 2 {
		if class[i] <= r && r <= class[i+1] {
			return true
		}
	}
	return false
}

// scanCaptures writes to m, 2*(groups+1) ints, the indexes of the groups
// of plan's regex in path, which the regex matches. Runes are read as
// the engine reads them (a byte of bad UTF-8 is one U+FFFD).
func (plan scanPlan) scanCaptures(path []byte, m []int) {
	for i := range m {
		m[i] = -1
	}
	m[0], m[1] = 0, len(path)
	pos := 0
	for _, st := range plan {
		if st.open > 0 {
			m[2*st.open] = pos
		}
		switch {
		case st.lit != "":
			pos += len(st.lit)
		case st.many:
			for pos < len(path) {
				r, n := utf8.DecodeRune(path[pos:])
				if !inClass(st.class, r) {
					break
				}
				pos += n
			}
		default:
			_, n := utf8.DecodeRune(path[pos:])
			pos += n
		}
		if st.close > 0 {
			m[2*st.close+1] = pos
		}
	}
}

// setCaptures records the captures of the route the request is routed
// to: m indexes subject (nil for a route that names none). They stay
// until the next request is routed (loop thread only).
func (s *Server) setCaptures(subject []byte, m []int) {
	s.capSubject, s.capMatch = subject, m
}

// aliasPath replaces x.Path with the path of route r's alias under its
// directory, built from the captures ("/img/a.png" in "location ~
// ^/img/(.+)$" with "alias /data/img/$1": "/a.png" under "/data/img"),
// normalized so that it cannot climb above the directory. It reports
// false after answering 400 for a path that would. When the new path
// ends the request's, the part before it is x.Prefix, so a directory
// redirect names the request's path as nginx's does.
func (rt *router) aliasPath(x *http.Exchange, r *route) bool {
	s := rt.s
	rt.aliasBuf = r.loc.Regexp.Expand(rt.aliasBuf[:0], r.aliasPath, s.capSubject, s.capMatch)
	p, err := rewrite.Normalize(rt.aliasOut[:0], rt.aliasBuf)
	rt.aliasOut = p[:0]
	if err != nil {
		x.Resp.Error(400)
		return false
	}
	orig := x.Path
	if n := len(orig) - len(p); n > 0 && string(orig[n:]) == string(p) {
		x.Prefix = orig[:n]
	}
	x.Path, x.Rewritten = p, true
	return true
}
