package config

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nproxy/nproxy/accesslog"
	"github.com/nproxy/nproxy/vars"
)

// TestMaps loads testdata/maps.ini and expands the values that name its
// maps as the server does: proxy_set_header, return in a regex location,
// and the access log's format and condition.
func TestMaps(t *testing.T) {
	cfg, err := Load("testdata/maps.ini")
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Servers[0]
	route, tier := s.ProxySetHeaders[0].Value, s.ProxySetHeaders[1].Value
	var cache vars.MapCache
	tests := []struct {
		uri, route, tier string
	}{
		{uri: "/old", route: "/new", tier: ""},
		{uri: "/OLD", route: "other:a.example", tier: ""},
		{uri: "/u/42", route: "/user/42", tier: "users-/user/42"},
		{uri: "/u/4x", route: "other:a.example", tier: ""},
		{uri: "/img/A.png", route: "image", tier: ""},
		{uri: "", route: "empty", tier: ""},
		{uri: "default", route: "literal", tier: ""},
		{uri: "~tilde", route: "tilde", tier: ""},
	}
	for _, tt := range tests {
		cache.Reset()
		vals := &vars.Values{URI: []byte(tt.uri), Host: []byte("a.example"), Maps: &cache}
		if got := string(route.Append(nil, vals)); got != tt.route {
			t.Errorf("$route of %q: %q, want %q", tt.uri, got, tt.route)
		}
		if got := string(tier.Append(nil, vals)); got != tt.tier {
			t.Errorf("$tier of %q: %q, want %q", tt.uri, got, tt.tier)
		}
	}
	loc := s.Locations[0]
	cache.Reset()
	uri := []byte("/r/u/7")
	vals := &vars.Values{URI: []byte("/u/7"), Host: []byte("a.example"), Maps: &cache, Subject: uri, Match: []int{0, 6, 3, 6}}
	if got := string(loc.Server.Return.Target.Append(nil, vals)); got != "https://a.example/user/7?from=u/7" {
		t.Errorf("return: %q", got)
	}

	// The log: if=$loggable drops 2xx and 3xx; the line names a map of
	// $status, of a header and of $uri.
	dir := t.TempDir()
	l, err := accesslog.Open(filepath.Join(dir, "access.log"))
	if err != nil {
		t.Fatal(err)
	}
	f := s.AccessFormat
	if !f.Uses(accesslog.VarStatus) || !f.Uses(accesslog.VarURI) || !f.Uses(accesslog.VarHost) {
		t.Errorf("the format does not ask for what its maps need")
	}
	tenant := -1
	for i, h := range f.Headers {
		if h == "x-tenant" {
			tenant = i
		}
	}
	if tenant < 0 {
		t.Fatalf("headers %v: no x-tenant for $tenant", f.Headers)
	}
	for _, st := range []int{200, 301, 404, 502} {
		e := &accesslog.Entry{Time: time.Now(), Status: st, URI: []byte("/u/1"), Host: []byte("a.example"), Request: []byte("GET /u/1 HTTP/1.1")}
		e.Headers[tenant] = []byte("acme")
		if err := l.Write(f, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "access.log"))
	want := "- \"GET /u/1 HTTP/1.1\" 404 1 A /user/1\n- \"GET /u/1 HTTP/1.1\" 502 1 A /user/1\n"
	if string(got) != want {
		t.Errorf("log:\n%s\nwant:\n%s", got, want)
	}
}

// TestMapOrder: exact keys before regexes whatever the file order,
// regexes in file order, and the default last.
func TestMapOrder(t *testing.T) {
	cfg, err := Parse("order.ini", []byte(`[map $uri $m]
default = d
~^/a = first-regex
~^/ab = second-regex
/abc = exact

[server]
listen = 127.0.0.1:8080
return = 200 $m
`))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := cfg.Servers[0].Return.Target
	for uri, want := range map[string]string{"/abc": "exact", "/abd": "first-regex", "/b": "d"} {
		var c vars.MapCache
		c.Reset()
		if got := string(tmpl.Append(nil, &vars.Values{URI: []byte(uri), Maps: &c})); got != want {
			t.Errorf("%s: %q, want %q", uri, got, want)
		}
	}
}

// FuzzMap parses a [map] section made of the fuzzer's lines and, when the
// file is valid, evaluates the map for the fuzzer's path: it never
// panics, and the result holds no byte that could end a header line.
func FuzzMap(f *testing.F) {
	f.Add("~^/u/(?<id>\\d+)$ = /user/$id\ndefault = x", "/u/12")
	f.Add("/a = $host\n'' = empty\n~* ^/B = b", "/b")
	f.Add("~(.*) = $1\n", "a\r\nb c")
	f.Fuzz(func(t *testing.T, body, uri string) {
		text := "[server]\nlisten = 127.0.0.1:8080\nreturn = 200 <$m>\n[map $uri $m]\n" + body + "\n"
		cfg, err := Parse("fuzz.ini", []byte(text))
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.ini:") {
				t.Fatalf("error without FILE:LINE: %v", err)
			}
			return
		}
		var c vars.MapCache
		c.Reset()
		got := cfg.Servers[0].Return.Target.Append(nil, &vars.Values{URI: []byte(uri), Host: []byte("h"), Maps: &c})
		if !bytes.HasPrefix(got, []byte("<")) || !bytes.HasSuffix(got, []byte(">")) {
			t.Fatalf("result %q", got)
		}
		for _, b := range got {
			if b < ' ' || b == 0x7f {
				t.Fatalf("result %q holds a control byte", got)
			}
		}
	})
}
