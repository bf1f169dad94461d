//go:build linux

package server

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"testing"

	"github.com/nproxy/nproxy/vars"
)

// captureLocations are regex locations whose return names captures;
// plan: their groups are found without the engine (scanPlan).
var captureLocations = []struct {
	regex, path string
	plan        bool
}{
	{`^/img/(.+)$`, "/img/a/b.png", true},
	{`^/api/v1/(.*?)$`, "/api/v1/", true},
	{`^/CI/(.*)/(x)$`, "/ci/A/x", false}, // ~*: '.' takes the 'x' after it
	{`^/u/(?P<user>[a-z]+)/(.*)$`, "/u/ann/x", true},
	{`^/api/(v[0-9])/([^/]+)$`, "/api/v2/\xffé", true},
	{`^/d/(\d+)-(\d+)\.(?:png|gif)$`, "/d/12-3.gif", false},
	{`^/d/(\d+)-(\d+)$`, "/d/12-3", true},
	{`^/k/([a-z]*)([0-9]+)$`, "/k/ab12", false},
	{`\.(png|gif)$`, "/a/b.gif", false},
	{`^/s/(.+)x$`, "/s/abx", false},
}

// TestMatchCaptures checks the group indexes matchCaptures returns, a
// scanPlan's included, against the regexp engine's.
func TestMatchCaptures(t *testing.T) {
	sections := ""
	for i, l := range captureLocations {
		mod := "~"
		if i == 2 {
			mod = "~*"
		}
		sections += fmt.Sprintf("[location %s %s]\nreturn = 200 $1\n", mod, l.regex)
	}
	table, routes := tableOf(t, sections+"[location ~ ^/plain/(.*)$]\nreturn = 200 x\n")
	for i, l := range captureLocations {
		r, _, m := table.matchCaptures([]byte(l.path))
		if r != routes[i] {
			t.Fatalf("%s: matched %v", l.path, r.loc)
		}
		if plan := table.regexes[i].plan != nil; plan != l.plan {
			t.Errorf("%s: scan plan %v, want %v", l.regex, plan, l.plan)
		}
		if want := r.loc.Regexp.FindSubmatchIndex([]byte(l.path)); !slices.Equal(m, want) {
			t.Errorf("%s on %s: %v, want %v", l.regex, l.path, m, want)
		}
	}
	if r, _, m := table.matchCaptures([]byte("/plain/a")); r.loc.Match != "~ ^/plain/(.*)$" || m != nil {
		t.Errorf("a route naming no capture: %v %v", r.loc.Match, m)
	}
	if _, _, m := table.matchCaptures([]byte("/img/a\nb")); m != nil {
		t.Errorf("'.' does not match a newline: %v", m)
	}
}

// FuzzScanPlan checks on any regex and path that where newScanPlan
// reads a plan, the indexes it finds in a path the regex matches are the
// regexp engine's. Seeds are in testdata/fuzz/FuzzScanPlan.
func FuzzScanPlan(f *testing.F) {
	f.Add(`^/img/(.+)$`, "/img/a")
	f.Add(`(?i)^/A/(.*?)$`, "/a/")
	f.Add(`(?s)^/x(.*)$`, "/x\n")
	f.Add(`^/u/([a-z]+)/(\d*)-(.)$`, "/u/ab/12-\xff")
	f.Fuzz(func(t *testing.T, expr, p string) {
		re, err := regexp.Compile(expr)
		if err != nil {
			return
		}
		plan := vars.NewScanPlan(re)
		if plan == nil || !re.MatchString(p) {
			return
		}
		got := make([]int, 2*(re.NumSubexp()+1))
		plan.Captures([]byte(p), got)
		if want := re.FindStringSubmatchIndex(p); !slices.Equal(got, want) {
			t.Errorf("%s on %q: plan %v, engine %v", expr, p, got, want)
		}
	})
}

// TestScanPlanRandom compares a scanPlan's indexes with the regexp
// engine's on regexes built from the parts plans are made of (literals,
// classes, repetitions, groups, ~* and (?s)) and short paths over a small
// alphabet, so that many of them match: a bounded, seeded sweep that
// reaches more of the shapes than the fuzzer's random text does.
func TestScanPlanRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	pieces := []string{"/", "a", "-", "x", "A", ".", "[a-z]", "[^/]", `\d`, "[a-x]", "[/a]"}
	reps := []string{"", "", "*", "+", "*?", "+?"}
	alphabet := []string{"/", "a", "x", "-", "A", "1", "\n", "\xff", "é"}
	planned, compared := 0, 0
	for range 4000 {
		expr := "^"
		if rng.IntN(4) == 0 {
			expr = "(?i)^"
		} else if rng.IntN(4) == 0 {
			expr = "(?s)^"
		}
		for range 1 + rng.IntN(4) {
			piece := pieces[rng.IntN(len(pieces))] + reps[rng.IntN(len(reps))]
			if rng.IntN(2) == 0 {
				piece = "(" + piece + ")"
			}
			expr += piece
		}
		re, err := regexp.Compile(expr + "$")
		if err != nil {
			continue
		}
		plan := vars.NewScanPlan(re)
		if plan == nil {
			continue
		}
		planned++
		got := make([]int, 2*(re.NumSubexp()+1))
		for range 40 {
			p := ""
			for range rng.IntN(7) {
				p += alphabet[rng.IntN(len(alphabet))]
			}
			if !re.MatchString(p) {
				continue
			}
			compared++
			plan.Captures([]byte(p), got)
			if want := re.FindStringSubmatchIndex(p); !slices.Equal(got, want) {
				t.Fatalf("%s on %q: plan %v, engine %v", re, p, got, want)
			}
		}
	}
	if planned < 100 || compared < 1000 {
		t.Errorf("the sweep planned %d regexes and compared %d matches: too few to mean much", planned, compared)
	}
	t.Logf("%d regexes with a plan, %d matches compared", planned, compared)
}
