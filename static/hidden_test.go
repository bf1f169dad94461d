//go:build linux

package static

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nproxy/nproxy/config"
	"github.com/nproxy/nproxy/http"
)

func TestHiddenPath(t *testing.T) {
	tests := []struct {
		path   string
		hidden bool
	}{
		{"/", false},
		{"/index.html", false},
		{"/a.b/c", false},
		{"/a./b", false},
		{"/.git", true},
		{"/.git/", true},
		{"/.git/config", true},
		{"/.env", true},
		{"/.htpasswd", true},
		{"/sub/.htpasswd", true},
		{"/sub/.git/HEAD", true},
		{"/.well-known", false},
		{"/.well-known/", false},
		{"/.well-known/acme-challenge/token", false},
		{"/.well-knownx", true},
		{"/.well-known.bak/x", true},
		{"/.well-known/.secret", true},
		{"/sub/.well-known/x", true},
		{"/..", true}, // never reaches Serve normalized; hidden all the same
	}
	for _, tt := range tests {
		if got := hiddenPath([]byte(tt.path), true); got != tt.hidden {
			t.Errorf("hiddenPath(%q) = %v, want %v", tt.path, got, tt.hidden)
		}
		// Under a location's alias, the path is what follows its prefix:
		// no /.well-known/ there.
		aliased := tt.hidden || tt.path == "/.well-known" || strings.HasPrefix(tt.path, "/.well-known/")
		if got := hiddenPath([]byte(tt.path), false); got != aliased {
			t.Errorf("hiddenPath(%q) under an alias = %v, want %v", tt.path, got, aliased)
		}
	}
}

// hiddenTree adds version-control and secret files to a makeTree root,
// and a /.well-known/ that must stay served.
func hiddenTree(t testing.TB) string {
	t.Helper()
	root := makeTree(t)
	for name, data := range map[string]string{
		".git/config":                       "[core]\n",
		".git/HEAD":                         "ref: refs/heads/main\n",
		".env":                              "SECRET=1\n",
		".htpasswd":                         "u:x\n",
		"sub/.htpasswd":                     "u:x\n",
		".well-known/acme-challenge/token":  "token\n",
		".well-known/.secret":               "s\n",
		".well-known/security.txt":          "Contact: x\n",
		"noindex/.hidden/index.html":        "h\n",
		"noindex/visible/.well-known/x.txt": "x\n",
	} {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// TestHiddenFiles serves the dot paths in both modes: deny answers 404
// (not 403, which would confirm they exist) for all but /.well-known/;
// allow serves them as nginx does.
func TestHiddenFiles(t *testing.T) {
	root := hiddenTree(t)
	tests := []struct {
		path        string
		deny, allow int
	}{
		{path: "/.git/config", deny: 404, allow: 200},
		{path: "/.git/", deny: 404, allow: 403}, // a directory without index (autoindex off)
		{path: "/.git", deny: 404, allow: 301},
		{path: "/.env", deny: 404, allow: 200},
		{path: "/.htpasswd", deny: 404, allow: 200},
		{path: "/sub/.htpasswd", deny: 404, allow: 200},
		{path: "/.missing", deny: 404, allow: 404},
		{path: "/noindex/.hidden/", deny: 404, allow: 200},
		{path: "/noindex/visible/.well-known/x.txt", deny: 404, allow: 200},
		{path: "/.well-known/acme-challenge/token", deny: 200, allow: 200},
		{path: "/.well-known/security.txt", deny: 200, allow: 200},
		{path: "/.well-known/.secret", deny: 404, allow: 200},
		{path: "/hello.txt", deny: 200, allow: 200},
	}
	for _, mode := range []struct {
		name string
		deny bool
	}{{"deny", true}, {"allow", false}} {
		h, err := New(&config.Server{StaticRoot: root, Index: []string{"index.html"}, DenyHidden: mode.deny})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.Close() })
		for _, tt := range tests {
			t.Run(mode.name+tt.path, func(t *testing.T) {
				want := tt.allow
				if mode.deny {
					want = tt.deny
				}
				for _, m := range []http.Method{http.MethodGet, http.MethodHead} {
					x := exchange(m, tt.path)
					h.Serve(x)
					if res := read(t, x); res.status != want {
						t.Errorf("%v %s: status %d, want %d", m, tt.path, res.status, want)
					}
				}
			})
		}
	}
}

// TestHiddenTryFiles checks that try_files cannot reach a hidden file
// through $uri: the request path is refused before any token is tried.
func TestHiddenTryFiles(t *testing.T) {
	root := hiddenTree(t)
	h, err := New(&config.Server{StaticRoot: root, Index: []string{"index.html"}, DenyHidden: true,
		TryFiles: []string{"$uri", "$uri/", "/spa/index.html"}})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	for _, p := range []string{"/.env", "/.git/config", "/.git/"} {
		x := exchange(http.MethodGet, p)
		h.Serve(x)
		if res := read(t, x); res.status != 404 {
			t.Errorf("%s: status %d, want 404", p, res.status)
		}
	}
	x := exchange(http.MethodGet, "/.well-known/security.txt")
	h.Serve(x)
	if res := read(t, x); res.status != 200 || res.body != "Contact: x\n" {
		t.Errorf("/.well-known/security.txt: status %d body %q", res.status, res.body)
	}
}
