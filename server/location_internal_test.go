//go:build linux

package server

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/nproxy/nproxy/config"
	"github.com/nproxy/nproxy/proxy"
)

// tableOf parses a configuration of one [server] with the given location
// sections and returns its route table, with a marker proxy on every
// location that sets proxy_pass (no loop is needed to match).
func tableOf(t testing.TB, sections string) (*routeTable, []*route) {
	t.Helper()
	cfg, err := config.Parse("t.ini", []byte("[server]\nlisten = 127.0.0.1:1\n"+sections))
	if err != nil {
		t.Fatal(err)
	}
	sc := cfg.Servers[0]
	root := &route{cfg: sc}
	var routes []*route
	for _, loc := range sc.Locations {
		r := &route{cfg: loc.Server, loc: loc, pathBytes: []byte(loc.Path)}
		if loc.Server.HasProxy() {
			r.proxy = markerProxy
		}
		routes = append(routes, r)
	}
	return newRouteTable(root, routes), routes
}

func TestRouteMatch(t *testing.T) {
	table, routes := tableOf(t, `
[location /]
[location /api/]
proxy_pass = 127.0.0.1:2
[location /api/v2/]
[location = /api/v2/exact]
[location ~ \.(gif|png)$]
[location ~* ^/CASE/]
[location ^~ /static/]
[location /static/deep/]
[location = /api]
`)
	name := func(r *route) string {
		if r == table.root {
			return "server"
		}
		return r.loc.Match
	}
	tests := []struct {
		path     string
		want     string
		redirect bool
	}{
		{path: "/", want: "/"},
		{path: "/x", want: "/"},
		{path: "/api/", want: "/api/"},
		{path: "/api/a", want: "/api/"},
		{path: "/api/v2/a", want: "/api/v2/"},
		{path: "/api/v2/exact", want: "= /api/v2/exact"},
		{path: "/api/v2/exact/", want: "/api/v2/"},
		{path: "/api/v2/a.png", want: `~ \.(gif|png)$`},
		{path: "/case/x", want: "~* ^/CASE/"},
		{path: "/static/a.png", want: "^~ /static/"},
		{path: "/static/deep/a.png", want: `~ \.(gif|png)$`}, // the longest prefix is not ^~: regexes are tried
		{path: "/api", want: "= /api"},                       // an exact location beats the slash redirect
	}
	for _, tt := range tests {
		r, redirect := table.match([]byte(tt.path))
		if got := name(r); got != tt.want || redirect != tt.redirect {
			t.Errorf("match(%q) = %q redirect %v, want %q redirect %v", tt.path, got, redirect, tt.want, tt.redirect)
		}
	}
	// Without the exact location, /api is redirected to /api/.
	table, _ = tableOf(t, "[location /api/]\nproxy_pass = 127.0.0.1:2\n[location /files/]\n")
	if r, redirect := table.match([]byte("/api")); !redirect || r.loc.Path != "/api/" {
		t.Errorf("match(/api): redirect %v, want the slash redirect", redirect)
	}
	if _, redirect := table.match([]byte("/files")); redirect {
		t.Error("match(/files): a location without proxy_pass is not redirected")
	}
	if r, _ := table.match([]byte("/other")); r != table.root {
		t.Error("a path no location matches goes to the server's own route")
	}
	_ = routes
}

// markerProxy marks a route as proxied in tableOf (never served).
var markerProxy = new(proxy.Handler)

// fiftyLocations is a location table of 50 routes: 20 prefixes, 20 exact
// paths and 10 regexes, the size issue 14 asks to cost under 1 µs.
func fiftyLocations() string {
	var b strings.Builder
	for i := range 20 {
		fmt.Fprintf(&b, "[location /section%d/]\n", i)
		fmt.Fprintf(&b, "[location = /page%d.html]\n", i)
	}
	for i := range 10 {
		fmt.Fprintf(&b, "[location ~ ^/re%d/[a-z]+\\.(png|jpg)$]\n", i)
	}
	return b.String()
}

// routePaths are request paths that reach each kind of route of
// fiftyLocations, the regex search included.
var routePaths = [][]byte{
	[]byte("/section7/a/b/c.html"), []byte("/page13.html"), []byte("/re9/abc.png"), []byte("/nowhere/x.css"),
}

// TestRegexFilter checks that a regex location's filter never turns away
// a path its regex matches, and that it does turn away the paths it is
// for.
func TestRegexFilter(t *testing.T) {
	tests := []struct {
		expr    string
		refused []string // paths the filter must refuse (the regex does not match them)
	}{
		{expr: `^/img/`, refused: []string{"/im", "/IMG/a", "/x/img/"}},
		{expr: `(?i)^/CASE/`, refused: []string{"/cas", "/x/case/"}},
		{expr: `\.(gif|png)$`, refused: []string{"/a.jpg", "/gif"}},
		{expr: `(?i)\.PHP$`, refused: []string{"/a.ph", "/php"}},
		{expr: `\.(jpe?g|png)$`}, // an alternation of non-literals: no filter
		{expr: `^/api/v[0-9]+/(users|items)$`, refused: []string{"/ap", "/api/v1/other"}},
		{expr: `[0-9]+`},
		{expr: `^/(a|b)/`},
		{expr: `^/é/\.txt$`, refused: []string{"/e/.txt"}},
		{expr: `(?i)^/é`},
		{expr: `^/x|\.y$`},
	}
	paths := []string{"/", "/img/", "/img/a.png", "/IMG/A.PNG", "/case/", "/CASE/x", "/cas", "/a.gif", "/a.GIF",
		"/a.png", "/a.jpg", "/a.jpeg", "/x.php", "/x.PhP", "/api/v12/users", "/api/v1/items", "/api/v1/other",
		"/a/", "/b/c", "/é/.txt", "/É/x", "/x", "/a.y", "/123", "/im", "/gif", "/php", "/e/.txt"}
	for _, tt := range tests {
		re := regexp.MustCompile(tt.expr)
		f := newRegexFilter(re)
		for _, p := range append(paths, tt.refused...) {
			if re.MatchString(p) && !f.admits([]byte(p)) {
				t.Errorf("%s: the filter refuses %q, which the regex matches", tt.expr, p)
			}
		}
		for _, p := range tt.refused {
			if f.admits([]byte(p)) {
				t.Errorf("%s: the filter admits %q (filter %+v)", tt.expr, p, f)
			}
		}
	}
}

// FuzzRegexFilter checks on any path that a filter admits what its regex
// matches.
func FuzzRegexFilter(f *testing.F) {
	exprs := []string{`^/img/`, `(?i)^/CASE/`, `\.(gif|png)$`, `(?i)\.PHP$`, `\.(jpe?g|png)$`, `^/api/v[0-9]+/(users|items)$`, `^/x|\.y$`}
	f.Add("/img/a.png")
	f.Add("/A.PhP")
	f.Fuzz(func(t *testing.T, p string) {
		for _, e := range exprs {
			re := regexp.MustCompile(e)
			flt := newRegexFilter(re)
			if re.MatchString(p) && !flt.admits([]byte(p)) {
				t.Errorf("%s: the filter refuses %q", e, p)
			}
		}
	})
}
