package config

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestEffectiveRoundTrip writes every valid testdata configuration and
// the embedded default with Effective and parses the text back, from
// another directory: the two Configs must be the same, field by field
// (lines and the file's name aside), and writing the second gives the
// same text.
func TestEffectiveRoundTrip(t *testing.T) {
	var files []string
	for _, pattern := range []string{"testdata/*.ini", "testdata/*/*.ini"} {
		m, _ := filepath.Glob(pattern)
		files = append(files, m...)
	}
	fixClock(t)
	tlsDir := tlsFixture(t)
	loaded := 0
	for _, file := range files {
		cfg, err := Load(file)
		if strings.HasPrefix(file, filepath.Join("testdata", "tls")) {
			data, _ := os.ReadFile(file)
			cfg, err = parse(file, tlsDir, data) // as TestTLSGolden
		}
		if err != nil {
			continue // an error case of the golden tests
		}
		loaded++
		t.Run(strings.TrimSuffix(file, ".ini"), func(t *testing.T) { checkRoundTrip(t, cfg) })
	}
	if loaded < 5 {
		t.Fatalf("only %d valid testdata configurations: the test proves little", loaded)
	}
	t.Run("embedded", func(t *testing.T) {
		text, err := DefaultText(DefaultOptions{Listen: "127.0.0.1:9000, [::1]:9000"})
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := ParseDefault(text)
		if err != nil {
			t.Fatal(err)
		}
		checkRoundTrip(t, cfg)
	})
}

func checkRoundTrip(t *testing.T, cfg *Config) {
	t.Helper()
	text, err := cfg.Effective()
	if err != nil {
		t.Fatal(err)
	}
	// Elsewhere: relative paths must have been written absolute.
	name := filepath.Join(t.TempDir(), "effective.ini")
	back, err := Parse(name, text)
	if err != nil {
		t.Fatalf("the effective configuration does not parse:\n%v\n%s", err, numbered(text))
	}
	if diff := diffConfigs(reflect.ValueOf(cfg).Elem(), reflect.ValueOf(back).Elem(), "Config"); diff != "" {
		t.Fatalf("parsed back differently: %s\n%s", diff, numbered(text))
	}
	again, err := back.Effective()
	if err != nil {
		t.Fatal(err)
	}
	if withoutComments(again) != withoutComments(text) {
		t.Errorf("written twice, the text changed:\n%s\n---\n%s", text, again)
	}
	// Every default is written out: a [server] shows its timeouts.
	if !bytes.Contains(text, []byte("\nkeepalive_timeout = ")) || !bytes.Contains(text, []byte("\nworker_connections = ")) ||
		!bytes.Contains(text, []byte("\nresolve_interval = ")) {
		t.Errorf("defaults not filled in:\n%s", text)
	}
}

// withoutComments drops the comment lines: the file's name, and the
// "# defaults" line before the defaults of a [server] (which the second
// text has set, so has no such line).
func withoutComments(b []byte) string {
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func numbered(text []byte) string {
	var b strings.Builder
	for i, l := range strings.Split(string(text), "\n") {
		fmt.Fprintf(&b, "%3d  %s\n", i+1, l)
	}
	return b.String()
}

// diffConfigs compares a and b field by field and describes the first
// difference: exported fields only, without line numbers, the file's
// name, warnings (which carry both) and a module's name as written.
// Regular expressions and templates compare by their text.
func diffConfigs(a, b reflect.Value, path string) string {
	if a.Type() != b.Type() {
		return path + ": types differ"
	}
	if a.Kind() == reflect.Pointer && (a.IsNil() || b.IsNil()) {
		if a.IsNil() != b.IsNil() {
			return path + ": nil on one side"
		}
		return ""
	}
	switch v := a.Interface().(type) {
	case *regexp.Regexp:
		if v.String() != b.Interface().(*regexp.Regexp).String() {
			return fmt.Sprintf("%s: %q != %q", path, v, b.Interface())
		}
		return ""
	case time.Duration, fmt.Stringer:
		if a.Kind() != reflect.Pointer && a.Kind() != reflect.Struct || a.Type().String() == "vars.Template" {
			if fmt.Sprint(v) != fmt.Sprint(b.Interface()) {
				return fmt.Sprintf("%s: %v != %v", path, v, b.Interface())
			}
			return ""
		}
	}
	switch a.Kind() {
	case reflect.Pointer:
		return diffConfigs(a.Elem(), b.Elem(), path)
	case reflect.Struct:
		for i := range a.NumField() {
			f := a.Type().Field(i)
			if !f.IsExported() || f.Name == "Line" || f.Name == "File" || f.Name == "Warnings" ||
				f.Name == "Name" && a.Type() == reflect.TypeOf(Module{}) {
				continue
			}
			if d := diffConfigs(a.Field(i), b.Field(i), path+"."+f.Name); d != "" {
				return d
			}
		}
		return ""
	case reflect.Slice:
		if a.Len() != b.Len() {
			return fmt.Sprintf("%s: %d elements != %d", path, a.Len(), b.Len())
		}
		for i := range a.Len() {
			if d := diffConfigs(a.Index(i), b.Index(i), fmt.Sprintf("%s[%d]", path, i)); d != "" {
				return d
			}
		}
		return ""
	case reflect.Map:
		if a.Len() != b.Len() {
			return path + ": map sizes differ"
		}
		for _, k := range a.MapKeys() {
			if !b.MapIndex(k).IsValid() {
				return fmt.Sprintf("%s[%v]: missing", path, k)
			}
			if d := diffConfigs(a.MapIndex(k), b.MapIndex(k), fmt.Sprintf("%s[%v]", path, k)); d != "" {
				return d
			}
		}
		return ""
	case reflect.Func, reflect.Chan, reflect.Interface:
		return ""
	}
	if !reflect.DeepEqual(a.Interface(), b.Interface()) {
		return fmt.Sprintf("%s: %v != %v", path, a.Interface(), b.Interface())
	}
	return ""
}

// TestEffectiveQuoting checks values ini.v1 would read differently
// unquoted: a comment marker after a space, quotes at both ends.
func TestEffectiveQuoting(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "a ;b #c")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg, err := Parse(filepath.Join(dir, "q.ini"), []byte("[server]\nlisten = 127.0.0.1:1\nstatic_root = `"+root+"`\nadd_header = X-A \"quoted\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	checkRoundTrip(t, cfg)
}
