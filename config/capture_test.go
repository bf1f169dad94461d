package config

import (
	"strings"
	"testing"
)

// TestLocationCaptures checks what a regex [location]'s values make of
// its captures: alias splits into the directory (StaticRoot) and the
// file's path as a regexp.Expand template, and return and
// proxy_set_header keep templates that name the captures.
func TestLocationCaptures(t *testing.T) {
	dir := t.TempDir()
	ini := "[server]\nlisten = 127.0.0.1:1\n" +
		"[location ~ ^/img/(?P<name>[^/]+)\\.(png|gif)$]\nalias = " + dir + "/$2/${name}.$2\n" +
		"[location ~* ^/go/(.*)$]\nreturn = 301 https://example.com/$1$is_args$args\n" +
		"[location ~ ^/api/(?<ver>v[0-9])/]\nproxy_pass = 127.0.0.1:2\nproxy_set_header = X-Version $ver\n" +
		"[location ~ ^/root/(.*)$]\nalias = /$1\n" +
		"[location ~ ^/v1/(.*)$]\nproxy_pass = http://up/$1$is_args$args\n" +
		"[upstream up]\nserver = 127.0.0.1:3\n"
	cfg, err := Parse("t.ini", []byte(ini))
	if err != nil {
		t.Fatal(err)
	}
	locs := cfg.Servers[0].Locations
	tests := []struct {
		name        string
		loc         *Location
		root, alias string
		strip       bool
	}{
		{name: "alias", loc: locs[0], root: dir, alias: "/${2}/${1}.${2}"},
		{name: "alias at /", loc: locs[3], root: "/", alias: "/${1}"},
	}
	for _, tt := range tests {
		if s := tt.loc.Server; s.StaticRoot != tt.root || s.AliasPath != tt.alias || s.StripPrefix {
			t.Errorf("%s: root %q alias %q strip %v, want %q %q false", tt.name, s.StaticRoot, s.AliasPath, s.StripPrefix, tt.root, tt.alias)
		}
	}
	if r := locs[1].Server.Return; r == nil || !r.Target.UsesCaptures() || r.Code != 301 {
		t.Errorf("return: %+v", r)
	}
	if h := locs[2].Server.ProxySetHeaders; len(h) != 1 || !h[0].Value.UsesCaptures() {
		t.Errorf("proxy_set_header: %+v", h)
	}
	if s := locs[4].Server; s.UpstreamName != "up" || s.ProxyURI.String() != "/$1$is_args$args" || !s.ProxyURI.UsesCaptures() {
		t.Errorf("proxy_pass URI: group %q URI %q", s.UpstreamName, s.ProxyURI.String())
	}
	// The same values outside a regex [location] name no capture.
	_, err = Parse("t.ini", []byte("[server]\nlisten = 127.0.0.1:1\n[location /go/]\nreturn = 301 https://example.com/$1\n"))
	if err == nil || !strings.Contains(err.Error(), "t.ini:4: return") {
		t.Errorf("$1 in a prefix location: %v", err)
	}
}
