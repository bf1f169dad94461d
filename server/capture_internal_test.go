//go:build linux

package server

import (
	"fmt"
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
