package modules

import (
	"errors"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/nproxy/nproxy/modules/hook"
)

func TestCompareBuild(t *testing.T) {
	setting := func(kv ...string) []debug.BuildSetting {
		var s []debug.BuildSetting
		for i := 0; i+1 < len(kv); i += 2 {
			s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return s
	}
	ours := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/nproxy/nproxy", Version: "v1.2.0"},
		Settings: setting("-buildmode", "exe", "GOARCH", "amd64", "GOAMD64", "v1", "-race", "true")}
	plugin := func(goVersion string, deps []*debug.Module, kv ...string) *debug.BuildInfo {
		return &debug.BuildInfo{GoVersion: goVersion, Deps: deps, Settings: setting(kv...)}
	}
	nproxyAt := func(v string) []*debug.Module { return []*debug.Module{{Path: "github.com/nproxy/nproxy", Version: v}} }
	tests := []struct {
		name   string
		theirs *debug.BuildInfo
		kind   error
		msg    string
	}{
		{"same", plugin("go1.26.8", nil, "-buildmode", "plugin", "GOARCH", "amd64", "GOAMD64", "v1", "-race", "true"), nil, ""},
		{"same nproxy release", plugin("go1.26.8", nproxyAt("v1.2.0"), "-buildmode", "plugin", "GOARCH", "amd64", "GOAMD64", "v1", "-race", "true"), nil, ""},
		{"another Go", plugin("go1.25.3", nil, "-buildmode", "plugin"), ErrVersion,
			"built with go1.25.3, this nproxy with go1.26.8: build the module with the Go that built nproxy"},
		{"not a plugin", plugin("go1.26.8", nil, "-buildmode", "exe"), ErrExports, "built with -buildmode=exe, want -buildmode=plugin"},
		{"without the race detector", plugin("go1.26.8", nil, "-buildmode", "plugin", "GOARCH", "amd64", "GOAMD64", "v1"), ErrVersion,
			`built with -race="", this nproxy with -race="true"`},
		{"another GOAMD64", plugin("go1.26.8", nil, "-buildmode", "plugin", "GOARCH", "amd64", "GOAMD64", "v3", "-race", "true"), ErrVersion,
			`built with GOAMD64="v3", this nproxy with GOAMD64="v1"`},
		{"another nproxy release", plugin("go1.26.8", nproxyAt("v1.1.0"), "-buildmode", "plugin", "GOARCH", "amd64", "GOAMD64", "v1", "-race", "true"), ErrVersion,
			"built against github.com/nproxy/nproxy v1.1.0, this nproxy is v1.2.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := compareBuild(ours, tt.theirs, "go1.26.8")
			if tt.kind == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, tt.kind) || err == nil || !strings.HasPrefix(err.Error(), tt.msg) {
				t.Errorf("got %v, want %v starting %q", err, tt.kind, tt.msg)
			}
		})
	}
}

func TestExplainOpen(t *testing.T) {
	tests := []struct {
		err  string
		kind error
		msg  string
	}{
		{`plugin.Open("/m/x"): plugin was built with a different version of package github.com/nproxy/nproxy/modules/hook`,
			ErrVersion, "built against another version of the nproxy hook API"},
		{`plugin.Open("/m/x"): plugin was built with a different version of package internal/goarch`,
			ErrVersion, "built against another version of package internal/goarch than this nproxy"},
		{`plugin.Open("/m/x"): plugin already loaded`, ErrChanged, "a module built from the same Go package is already loaded"},
		{`plugin.Open("/m/x"): /m/x: cannot open shared object file`, ErrExports, "plugin.Open"},
	}
	for _, tt := range tests {
		err := explainOpen(errors.New(tt.err))
		if !errors.Is(err, tt.kind) || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%s: got %v, want %v with %q", tt.err, err, tt.kind, tt.msg)
		}
	}
}

// copyFile copies src to dst through a new file renamed into place: a
// loaded plugin's file is mapped, and writing into it would change the
// code under the process.
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	tmp := dst + ".tmp"
	if err := os.WriteFile(tmp, b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		t.Fatal(err)
	}
}

// TestNativeLoad loads a native module the way a master does across
// reloads: the same file twice (one load, two instances), a changed file
// (refused: Go cannot unload the first), and the same Go package from
// another file (refused: Go loads a package once). The module is one no
// other test loads.
func TestNativeLoad(t *testing.T) {
	built := buildModule(t, Native, "testdata/reload")
	dir := t.TempDir()
	p := filepath.Join(dir, "m.so")
	copyFile(t, built, p)
	for i := 0; i < 2; i++ {
		m, err := Open("m.so", p, nil, nil)
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		if !m.HasRequestHook() || m.HasResponseHook() || m.Kind() != Native {
			t.Errorf("hooks %v %v", m.HasRequestHook(), m.HasResponseHook())
		}
		if err := m.OnRequest(nil); err != nil {
			t.Error(err)
		}
		m.Close()
	}

	b, err := os.ReadFile(built)
	if err != nil {
		t.Fatal(err)
	}
	changed := filepath.Join(dir, "changed.so")
	if err := os.WriteFile(changed, append(b, "a rebuild"...), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(changed, p); err != nil {
		t.Fatal(err)
	}
	if err := Check(p, nil); !errors.Is(err, ErrChanged) || !strings.Contains(err.Error(), "restart nproxy") {
		t.Errorf("changed file: %v, want %v", err, ErrChanged)
	}

	other := filepath.Join(dir, "copy.so")
	copyFile(t, built, other)
	if err := Check(other, nil); !errors.Is(err, ErrChanged) || !strings.Contains(err.Error(), "same Go package") {
		t.Errorf("same package from another file: %v", err)
	}
}

// TestNativeDeclaredAPI reads the API version a plugin declares without
// loading it.
func TestNativeDeclaredAPI(t *testing.T) {
	p := buildModule(t, Native, "testdata/oldapi")
	v, found, err := declaredAPI(p, "github.com/nproxy/nproxy/modules/testdata/oldapi")
	if err != nil || !found || v != 0 {
		t.Errorf("oldapi: %d %v %v", v, found, err)
	}
	// Reading the symbol table does not load the plugin, which only
	// TestNativeLoad may.
	p = buildModule(t, Native, "testdata/reload")
	v, found, err = declaredAPI(p, "github.com/nproxy/nproxy/modules/testdata/reload")
	if err != nil || !found || v != hook.Version {
		t.Errorf("reload: %d %v %v, want %d", v, found, err, hook.Version)
	}
	if err := Check(buildModule(t, Native, "testdata/oldapi"), nil); !errors.Is(err, ErrVersion) {
		t.Errorf("Check: %v, want %v", err, ErrVersion)
	}
}

// TestNativeVersion1 loads a native module that declares hook API
// version 1, which this nproxy still runs, and checks the range of
// versions the check accepts.
func TestNativeVersion1(t *testing.T) {
	for v, want := range map[int]bool{0: false, 1: true, hook.Version: true, hook.Version + 1: false} {
		if knownAPI(v) != want {
			t.Errorf("knownAPI(%d) = %v", v, !want)
		}
	}
	p := buildModule(t, Native, "testdata/v1api")
	if err := Check(p, nil); err != nil {
		t.Fatalf("Check: %v", err)
	}
	m, err := Open("v1api.so", p, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if !m.HasRequestHook() || m.HasResponseHook() || m.HasLogHook() {
		t.Errorf("hooks %v %v %v", m.HasRequestHook(), m.HasResponseHook(), m.HasLogHook())
	}
	if err := m.OnRequest(nil); err != nil {
		t.Error(err)
	}
}
