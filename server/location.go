//go:build linux

package server

import (
	"bytes"
	"regexp"
	"regexp/syntax"
	"sort"
	"unicode/utf8"

	"github.com/nproxy/nproxy/config"
	"github.com/nproxy/nproxy/http"
	"github.com/nproxy/nproxy/vars"
)

// routeTable finds the route of a request path among a [server]'s
// [location] sections, as nginx finds a location:
//
//  1. an exact location (= /path) equal to the path wins at once;
//  2. otherwise the longest prefix location the path starts with is
//     remembered; if it is a ^~ one, it wins;
//  3. otherwise the regex locations are tried in file order, and the
//     first that matches wins;
//  4. otherwise the remembered prefix wins, or, with none, the [server]
//     itself (nginx's server-level settings, as if in "location /").
//
// Before 2, a path that is a prefix proxy location's path without its
// trailing '/' ("/api" for "location /api/") is redirected to it (301),
// as nginx's proxy_pass does; an exact location for the path comes first.
//
// Matching allocates nothing: the exact lookup converts the path for a map
// index (which the compiler does without a copy), prefixes are compared
// in place, longest first, and the Go regexp engines keep their machines
// in a pool. Measured in location_timing_test.go (BENCHMARKS.md,
// "Locations").
type routeTable struct {
	exact    map[string]*route
	prefixes []*route     // by path length, longest first; equal lengths in file order
	regexes  []regexRoute // in file order
	// slash maps "/api" to the route of a proxy "location /api/", for
	// the trailing-slash redirect.
	slash map[string]*route
	root  *route // the [server]'s own route
	// captures is the scratch of the group indexes a vars.ScanPlan finds
	// (capture.go), as long as the most a regex route needs; valid until
	// the next match (loop thread only).
	captures []int
}

// newRouteTable indexes routes, one per location of the block, in file
// order; root is the block's own.
func newRouteTable(root *route, routes []*route) *routeTable {
	t := &routeTable{root: root}
	for _, r := range routes {
		loc := r.loc
		switch loc.Kind {
		case config.MatchExact:
			if t.exact == nil {
				t.exact = make(map[string]*route)
			}
			t.exact[loc.Path] = r
		case config.MatchRegex:
			rr := regexRoute{r: r, filter: newRegexFilter(loc.Regexp)}
			if rr.captures = usesCaptures(loc.Server); rr.captures {
				if rr.plan = vars.NewScanPlan(loc.Regexp); rr.plan != nil {
					t.captures = make([]int, max(len(t.captures), 2*(loc.Regexp.NumSubexp()+1)))
				}
			}
			t.regexes = append(t.regexes, rr)
		default:
			t.prefixes = append(t.prefixes, r)
			if n := len(loc.Path); n > 1 && loc.Path[n-1] == '/' && r.proxy != nil && !loc.Sets("return") {
				if t.slash == nil {
					t.slash = make(map[string]*route)
				}
				t.slash[loc.Path[:n-1]] = r
			}
		}
	}
	sort.SliceStable(t.prefixes, func(i, j int) bool { return len(t.prefixes[i].loc.Path) > len(t.prefixes[j].loc.Path) })
	return t
}

// match returns the route of path. redirect reports the trailing-slash
// redirect: path is then a prefix location's path without its '/'.
func (t *routeTable) match(path []byte) (r *route, redirect bool) {
	r, redirect, _ = t.matchCaptures(path)
	return r, redirect
}

// matchCaptures is match that also returns, for a regex route whose
// settings name its captures, the indexes of its groups in path (nil
// for any other route), valid until the next match.
func (t *routeTable) matchCaptures(path []byte) (r *route, redirect bool, m []int) {
	if t.exact != nil {
		if r := t.exact[string(path)]; r != nil {
			return r, false, nil
		}
	}
	if t.slash != nil && len(path) > 0 && path[len(path)-1] != '/' {
		if r := t.slash[string(path)]; r != nil {
			return r, true, nil
		}
	}
	var prefix *route
	for _, p := range t.prefixes {
		if bytes.HasPrefix(path, p.pathBytes) {
			prefix = p
			break
		}
	}
	if prefix != nil && prefix.loc.Kind == config.MatchPrefixFinal {
		return prefix, false, nil
	}
	for i := range t.regexes {
		re := &t.regexes[i]
		if !re.filter.admits(path) {
			continue
		}
		switch {
		case !re.captures:
			if re.r.loc.Regexp.Match(path) {
				return re.r, false, nil
			}
		case re.plan != nil:
			if re.r.loc.Regexp.Match(path) {
				m := t.captures[:2*(re.r.loc.Regexp.NumSubexp()+1)]
				re.plan.Captures(path, m)
				return re.r, false, m
			}
		default:
			if m := re.r.loc.Regexp.FindSubmatchIndex(path); m != nil {
				return re.r, false, m
			}
		}
	}
	if prefix != nil {
		return prefix, false, nil
	}
	return t.root, false, nil
}

// regexRoute is a regex location with the filter that spares most paths
// the regexp engine.
type regexRoute struct {
	r      *route
	filter regexFilter
	// captures: the route's settings name captures of its regex, so a
	// match needs the groups' indexes; plan finds them without the
	// engine (nil: FindSubmatchIndex does).
	captures bool
	plan     vars.ScanPlan
}

// regexFilter is what a path must look like for a regex to have a chance
// of matching it, read from the regex's syntax: the literal text an
// anchored regex starts with ("^/img/"), and the literal endings one
// anchored at the end may have ("\.(gif|png)$"). Comparing them costs a
// few nanoseconds where the regexp engine costs about a hundred per
// regex even when it fails at the first byte (measured:
// BenchmarkRouteMatch50), so a table of regexes that each name their
// directory or extension is searched at the cost of the one that matches.
type regexFilter struct {
	prefix     string
	prefixFold bool     // compare prefix ignoring ASCII case
	suffixes   []string // nil: no constraint
	suffixFold bool
}

// maxSuffixes bounds the endings a filter keeps: an alternation wider
// than that is left to the regexp engine.
const maxSuffixes = 16

// newRegexFilter reads re's filter; a regex it cannot read gets a filter
// that admits every path.
func newRegexFilter(re *regexp.Regexp) regexFilter {
	var f regexFilter
	t, err := syntax.Parse(re.String(), syntax.Perl)
	if err != nil {
		return f
	}
	t = t.Simplify()
	subs := []*syntax.Regexp{t}
	if t.Op == syntax.OpConcat {
		subs = t.Sub
	}
	if len(subs) >= 2 && subs[0].Op == syntax.OpBeginText {
		if lit, fold, ok := literalOf(subs[1]); ok {
			f.prefix, f.prefixFold = lit, fold
		}
	}
	if n := len(subs); n >= 2 && subs[n-1].Op == syntax.OpEndText {
		set := []string{""}
		fold := false
		for i := n - 2; i >= 0; i-- {
			alts := alternativesOf(subs[i])
			if alts == nil || len(alts)*len(set) > maxSuffixes {
				break
			}
			next := make([]string, 0, len(alts)*len(set))
			for _, a := range alts {
				fold = fold || a.fold
				for _, s := range set {
					next = append(next, a.text+s)
				}
			}
			set = next
		}
		if len(set) > 1 || set[0] != "" {
			f.suffixes, f.suffixFold = set, fold
		}
	}
	return f
}

// literalAlt is one literal alternative of a regex part.
type literalAlt struct {
	text string
	fold bool
}

// alternativesOf returns the literal texts t may match: one for a
// literal, one per branch of an alternation of literals; nil otherwise.
func alternativesOf(t *syntax.Regexp) []literalAlt {
	for t.Op == syntax.OpCapture && len(t.Sub) == 1 {
		t = t.Sub[0]
	}
	if lit, fold, ok := literalOf(t); ok {
		return []literalAlt{{lit, fold}}
	}
	if t.Op != syntax.OpAlternate {
		return nil
	}
	var out []literalAlt
	for _, s := range t.Sub {
		lit, fold, ok := literalOf(s)
		if !ok {
			return nil
		}
		out = append(out, literalAlt{lit, fold})
	}
	return out
}

// literalOf returns the text of a literal (or a concatenation of
// literals); a case-folding one must be ASCII, which the filter folds.
func literalOf(t *syntax.Regexp) (text string, fold bool, ok bool) {
	for t.Op == syntax.OpCapture && len(t.Sub) == 1 {
		t = t.Sub[0]
	}
	parts := []*syntax.Regexp{t}
	if t.Op == syntax.OpConcat {
		parts = t.Sub
	}
	var b []byte
	for _, p := range parts {
		if p.Op != syntax.OpLiteral {
			return "", false, false
		}
		f := p.Flags&syntax.FoldCase != 0
		for _, r := range p.Rune {
			if f && r >= utf8.RuneSelf {
				return "", false, false
			}
			b = utf8.AppendRune(b, r)
		}
		fold = fold || f
	}
	return string(b), fold, len(b) > 0
}

// admits reports whether path may match.
func (f *regexFilter) admits(path []byte) bool {
	if f.prefix != "" {
		if len(path) < len(f.prefix) {
			return false
		}
		head := path[:len(f.prefix)]
		if f.prefixFold && !http.EqualFold(head, f.prefix) || !f.prefixFold && string(head) != f.prefix {
			return false
		}
	}
	if f.suffixes == nil {
		return true
	}
	for _, s := range f.suffixes {
		if len(path) < len(s) {
			continue
		}
		tail := path[len(path)-len(s):]
		if f.suffixFold && http.EqualFold(tail, s) || !f.suffixFold && string(tail) == s {
			return true
		}
	}
	return false
}
