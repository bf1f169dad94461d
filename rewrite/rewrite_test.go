package rewrite

import (
	"errors"
	"regexp"
	"testing"

	"github.com/nproxy/nproxy/config"
	"github.com/nproxy/nproxy/vars"
)

func rules(t *testing.T, pairs ...string) *Rules {
	t.Helper()
	var rs []config.Rewrite
	for i := 0; i < len(pairs); i += 2 {
		rs = append(rs, config.Rewrite{Regexp: regexp.MustCompile(pairs[i]), Replacement: pairs[i+1]})
	}
	return New(rs)
}

func TestApply(t *testing.T) {
	r := rules(t,
		`^/old/(.*)$`, `/new/${1}`,
		`^/u/([0-9]+)$`, `/users/${1}/profile`,
		`^/new/x$`, `/never`, // not reached from /old/x: one rewrite per request
		`^/up/(.*)$`, `/a/../${1}`,
		`^/esc/(.*)$`, `/../${1}`,
		`^/dots$`, `/a/./b//c/.`,
	)
	tests := []struct {
		name      string
		path      string
		want      string
		rewritten bool
		err       error
	}{
		{name: "no match", path: "/index.html", want: "/index.html"},
		{name: "capture", path: "/old/a/b.txt", want: "/new/a/b.txt", rewritten: true},
		{name: "first match only", path: "/old/x", want: "/new/x", rewritten: true},
		{name: "second rule", path: "/u/42", want: "/users/42/profile", rewritten: true},
		{name: "anchored", path: "/u/42/x", want: "/u/42/x"},
		{name: "dotdot inside", path: "/up/f", want: "/f", rewritten: true},
		{name: "escape refused", path: "/esc/etc/passwd", want: "/esc/etc/passwd", err: ErrEscape},
		{name: "renormalized", path: "/dots", want: "/a/b/c/", rewritten: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, ok, err := r.Apply(nil, nil, []byte(tt.path))
			if !errors.Is(err, tt.err) || string(got) != tt.want || ok != tt.rewritten {
				t.Errorf("Apply(%q) = %q, %v, %v; want %q, %v, %v", tt.path, got, ok, err, tt.want, tt.rewritten, tt.err)
			}
		})
	}
}

func TestNew(t *testing.T) {
	if New(nil) != nil {
		t.Error("New(nil) != nil")
	}
	if n := rules(t, `a`, `/b`).Len(); n != 1 {
		t.Errorf("Len = %d, want 1", n)
	}
}

func TestTooLong(t *testing.T) {
	r := rules(t, `^/(.*)$`, `/${1}${1}${1}`)
	long := make([]byte, 4000)
	for i := range long {
		long[i] = 'a'
	}
	long[0] = '/'
	if _, _, _, err := r.Apply(nil, nil, long); !errors.Is(err, ErrTooLong) {
		t.Errorf("err = %v, want ErrTooLong", err)
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct {
		in, want string
		err      error
	}{
		{in: "", want: "/"},
		{in: "/", want: "/"},
		{in: "a/b", want: "/a/b"},
		{in: "//a///b/", want: "/a/b/"},
		{in: "/a/./b/../c", want: "/a/c"},
		{in: "/a/..", want: "/"},
		{in: "/a/.", want: "/a/"},
		{in: "/..", err: ErrEscape},
		{in: "/a/../../b", err: ErrEscape},
		{in: "/a\x00b", err: ErrEscape},
		{in: "/%2e%2e/x", want: "/%2e%2e/x"}, // not decoded again
		{in: "/a..b/.c", want: "/a..b/.c"},
	}
	for _, tt := range tests {
		got, err := Normalize(nil, []byte(tt.in))
		if !errors.Is(err, tt.err) || (err == nil && string(got) != tt.want) {
			t.Errorf("Normalize(%q) = %q, %v; want %q, %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"/", "/a/../b", "//x/./y/..", "/..", "a/b/../../.."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		got, err := Normalize(nil, []byte(p))
		if err != nil {
			return
		}
		if len(got) == 0 || got[0] != '/' {
			t.Fatalf("Normalize(%q) = %q: not absolute", p, got)
		}
		again, err := Normalize(nil, got)
		if err != nil || string(again) != string(got) {
			t.Fatalf("Normalize not idempotent on %q: %q then %q, %v", p, got, again, err)
		}
		for i := 0; i+3 <= len(got); i++ {
			if string(got[i:i+3]) == "/.." && (i+3 == len(got) || got[i+3] == '/') {
				t.Fatalf("Normalize(%q) = %q keeps a .. segment", p, got)
			}
		}
	})
}

// TestRedirect checks redirect rules: ApplyRule reports them without
// touching the path, and AppendLocation expands captures and variables
// and appends the query unless the replacement ended with '?'.
func TestRedirect(t *testing.T) {
	parse := func(v string) config.Rewrite {
		t.Helper()
		cfg, err := config.Parse("t.ini", []byte("[server]\nlisten = 127.0.0.1:1\nrewrite = "+v+"\n"))
		if err != nil {
			t.Fatal(err)
		}
		return cfg.Servers[0].Rewrites[0]
	}
	tests := []struct {
		name, rule, path, query, want string
		code                          int
	}{
		{name: "permanent", rule: `^/old/(.*)$ /new/$1 permanent`, path: "/old/a", query: "x=1", want: "/new/a?x=1", code: 301},
		{name: "query after a query", rule: `^/s$ /search?q=all redirect`, path: "/s", query: "p=2", want: "/search?q=all&p=2", code: 302},
		{name: "no query", rule: `^/b/(.*)$ https://$host/$1? redirect`, path: "/b/c", query: "x=1", want: "https://h/c", code: 302},
		{name: "scheme", rule: `^/go$ $scheme://$host/landing`, path: "/go", want: "http://h/landing", code: 302},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := New([]config.Rewrite{parse(tt.rule)})
			out, _, ok, i, m, err := r.ApplyRule(nil, nil, []byte(tt.path))
			if err != ErrRedirect || ok || string(out) != tt.path || i != 0 {
				t.Fatalf("ApplyRule = %q %v %d %v", out, ok, i, err)
			}
			vals := &vars.Values{Scheme: []byte("http"), Host: []byte("h"), Subject: []byte(tt.path), Match: m}
			loc, code := r.AppendLocation(nil, i, vals, []byte(tt.query))
			if string(loc) != tt.want || code != tt.code {
				t.Errorf("Location %q %d, want %q %d", loc, code, tt.want, tt.code)
			}
		})
	}
}
