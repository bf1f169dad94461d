//go:build linux

package server

import (
	"fmt"
	"regexp"
	"slices"
	"testing"
)

// captureLocations are regex locations whose return names captures: the
// first three of the tail shape (indexes without the engine's), the
// rest not.
var captureLocations = []struct{ regex, path string }{
	{`^/img/(.+)$`, "/img/a/b.png"},
	{`^/api/v1/(.*?)$`, "/api/v1/"},
	{`^/CI/(.*)$`, "/ci/x"}, // ~*
	{`^/u/(?P<user>[a-z]+)/(.*)$`, "/u/ann/x"},
	{`\.(png|gif)$`, "/a/b.gif"},
	{`^/s/(.+)x$`, "/s/abx"},
}

// TestMatchCaptures checks the group indexes matchCaptures returns, the
// tail shape's included, against the regexp engine's.
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
		if tail := table.regexes[i].tail >= 0; tail != (i < 3) {
			t.Errorf("%s: tail shape %v, want %v", l.regex, tail, i < 3)
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

// FuzzTailCapture checks on any regex and path that where tailCapture
// reads the tail shape, the indexes matchCaptures derives from Match are
// the regexp engine's. Seeds are in testdata/fuzz/FuzzTailCapture.
func FuzzTailCapture(f *testing.F) {
	f.Add(`^/img/(.+)$`, "/img/a")
	f.Add(`(?i)^/A/(.*?)$`, "/a/")
	f.Add(`(?s)^/x(.*)$`, "/x\n")
	f.Fuzz(func(t *testing.T, expr, p string) {
		re, err := regexp.Compile(expr)
		if err != nil {
			return
		}
		n := tailCapture(re)
		if n < 0 || !re.MatchString(p) {
			return
		}
		got := []int{0, len(p), n, len(p)}
		if want := re.FindStringSubmatchIndex(p); !slices.Equal(got, want) {
			t.Errorf("%s on %q: tail %v, engine %v", expr, p, got, want)
		}
	})
}
