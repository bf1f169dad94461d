package config

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestStaticKeys checks autoindex and hidden_files: their values, their
// defaults in a file (off and allow, as nginx) and their messages.
func TestStaticKeys(t *testing.T) {
	dir := testDir(t)
	tests := []struct {
		name       string
		keys       string
		autoindex  bool
		denyHidden bool
		err        string
	}{
		{name: "file defaults", keys: ""},
		{name: "autoindex on", keys: "autoindex = on\n", autoindex: true},
		{name: "autoindex off", keys: "autoindex = off\n"},
		{name: "hidden deny", keys: "hidden_files = deny\n", denyHidden: true},
		{name: "hidden allow", keys: "hidden_files = allow\n"},
		{name: "both", keys: "autoindex = on\nhidden_files = deny\n", autoindex: true, denyHidden: true},
		{name: "autoindex bad", keys: "autoindex = yes\n", err: `t.ini:4: autoindex: "yes": must be on or off`},
		{name: "hidden bad", keys: "hidden_files = hide\n", err: `t.ini:4: hidden_files: "hide": must be one of deny, allow`},
		{name: "hidden twice", keys: "hidden_files = deny\nhidden_files = allow\n", err: "t.ini:5: hidden_files: set again (first set on line 4)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parseIn(dir, "[server]\nlisten = 127.0.0.1:8080\nstatic_root = www\n"+tt.keys)
			if !checkErr(t, err, tt.err) {
				return
			}
			s := cfg.Servers[0]
			if s.Autoindex != tt.autoindex || s.DenyHidden != tt.denyHidden {
				t.Errorf("Autoindex %v, DenyHidden %v; want %v, %v", s.Autoindex, s.DenyHidden, tt.autoindex, tt.denyHidden)
			}
		})
	}
}

// TestDefaultListsAndHides checks the embedded default's choices, the
// opposite of a file's: a newcomer's first run lists directories and
// keeps .git private.
func TestDefaultListsAndHides(t *testing.T) {
	cfg, err := LoadDefault()
	if err != nil {
		t.Fatal(err)
	}
	if s := cfg.Servers[0]; !s.Autoindex || !s.DenyHidden {
		t.Errorf("embedded default: Autoindex %v, DenyHidden %v; want both true", s.Autoindex, s.DenyHidden)
	}
}

// TestDefaultTextLines checks that default.ini holds, once each, the
// lines DefaultText replaces.
func TestDefaultTextLines(t *testing.T) {
	for _, line := range []string{defaultRootLine, defaultListenLine} {
		if n := bytes.Count(Default, []byte("\n"+line+"\n")); n != 1 {
			t.Errorf("default.ini has %q %d times, want once", line, n)
		}
	}
}

// TestDefaultText checks `nproxy PATH`, --listen and --port as they reach
// the configuration: written into the default's text, parsed back.
func TestDefaultText(t *testing.T) {
	wd, _ := os.Getwd()
	base := t.TempDir()
	odd := filepath.Join(base, `a #b ;c "q" 'x' é`) // comment characters and quotes are literal
	if err := os.Mkdir(odd, 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		opts   DefaultOptions
		root   string
		listen []string
		err    string // from DefaultText or ParseDefault
	}{
		{name: "none", root: wd, listen: []string{"127.0.0.1:8080"}},
		{name: "root", opts: DefaultOptions{Root: odd}, root: odd, listen: []string{"127.0.0.1:8080"}},
		{name: "relative root", opts: DefaultOptions{Root: "testdata/www"}, root: filepath.Join(wd, "testdata/www"), listen: []string{"127.0.0.1:8080"}},
		{name: "listen", opts: DefaultOptions{Listen: "0.0.0.0:9000, [::1]:9000"}, root: wd, listen: []string{"0.0.0.0:9000", "[::1]:9000"}},
		{name: "missing root", opts: DefaultOptions{Root: filepath.Join(base, "nope")}, err: "no such file or directory"},
		{name: "file as root", opts: DefaultOptions{Root: "default.ini"}, err: "not a directory"},
		{name: "bad listen", opts: DefaultOptions{Listen: "127.0.0.1:99999"}, err: "listen"},
		{name: "backquote", opts: DefaultOptions{Root: "a`b"}, err: "backquote"},
		{name: "line break", opts: DefaultOptions{Root: "a\nb"}, err: "line break"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := DefaultText(tt.opts)
			var cfg *Config
			if err == nil {
				cfg, err = ParseDefault(data)
			}
			if !checkErr(t, err, tt.err) {
				return
			}
			s := cfg.Servers[0]
			if s.StaticRoot != tt.root || !reflect.DeepEqual(s.Listen, tt.listen) {
				t.Errorf("static_root %q, listen %q; want %q, %q", s.StaticRoot, s.Listen, tt.root, tt.listen)
			}
			if !strings.Contains(string(data), "autoindex = on") {
				t.Error("the default's other lines are gone")
			}
		})
	}
}
