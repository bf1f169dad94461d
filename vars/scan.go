package vars

import (
	"regexp"
	"regexp/syntax"
	"unicode/utf8"
)

// Captures without the regexp engine's slice: the Go regexp engines
// return group indexes only in a slice they allocate (FindSubmatchIndex:
// one allocation of 2*(groups+1) ints per match; Match allocates
// nothing). A regex that matches a subject in one way only, as those
// nginx examples use (^/img/(.+)$, ^/u/([a-z]+)/(.*)$), needs no indexes
// from the engine: once Match has said it matches, its groups follow
// from its parts (ScanPlan). Regex locations (package server) and the
// regexes of maps (map.go) use it.

// scanStep is one part of a regex that ScanPlan.Captures follows without
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

// ScanPlan is how Captures finds the groups of a regex in a path it
// matches; nil when the regex is not of a shape that has one match only.
type ScanPlan []scanStep

// NewScanPlan reads a plan from re: anchored at both ends (^...$), a
// sequence of literals, classes (., [a-z], \d) and repeated classes
// (x*, x+), with groups around some of them (not nested), where every
// repeated class is last or followed by a literal whose first rune the
// class does not take. Such a regex matches a path in one way only (each
// repetition must stop at that literal or at the end), so the groups
// follow from the steps once Match has said the path matches: the
// shapes of ^/img/(.+)$, ^/u/([a-z]+)/(.*)$, ^/api/(v[0-9])/([^/]+)$.
func NewScanPlan(re *regexp.Regexp) ScanPlan {
	t, err := syntax.Parse(re.String(), syntax.Perl)
	if err != nil {
		return nil
	}
	t = t.Simplify()
	if t.Op != syntax.OpConcat || len(t.Sub) < 3 || t.Sub[0].Op != syntax.OpBeginText || t.Sub[len(t.Sub)-1].Op != syntax.OpEndText {
		return nil
	}
	var plan ScanPlan
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
		fold := t.Flags&syntax.FoldCase != 0
		var b []byte
		for _, r := range t.Rune {
			if fold && r >= utf8.RuneSelf { // only ASCII is folded here
				return scanStep{}, false
			}
			b = utf8.AppendRune(b, r)
		}
		return scanStep{lit: string(b), fold: fold}, len(b) > 0
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

// Captures writes to m, 2*(groups+1) ints, the indexes of the groups
// of plan's regex in path, which the regex matches. Runes are read as
// the engine reads them (a byte of bad UTF-8 is one U+FFFD).
func (plan ScanPlan) Captures(path []byte, m []int) {
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
