//go:build linux

package server

import (
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
// said it matches, its groups follow from its parts (vars.ScanPlan,
// shared with the regexes of maps), written in the table's scratch. Any other regex whose route names captures
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
