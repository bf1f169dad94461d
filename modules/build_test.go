package modules

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
)

// The tests build the example and test modules themselves, with the go
// command that runs them: once per test binary and module, into a
// directory removed when the binary ends (TestMain).

var (
	buildDir  string // made by TestMain
	buildMu   sync.Mutex
	buildDone = map[string]*buildResult{}
)

type buildResult struct {
	once sync.Once
	path string
	err  error
	skip string // why the module cannot be built here
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "nproxy-modules-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	buildDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildModule builds the package main in dir (relative to this package,
// e.g. "examples/secheaders") as a module of kind, and returns the file.
// It skips the test when this machine cannot build or load that kind,
// saying why.
func buildModule(t testing.TB, kind Kind, dir string) string {
	t.Helper()
	key := kind.String() + ":" + dir
	buildMu.Lock()
	r := buildDone[key]
	if r == nil {
		r = &buildResult{}
		buildDone[key] = r
	}
	buildMu.Unlock()
	r.once.Do(func() { r.path, r.skip, r.err = build(kind, dir) })
	if r.skip != "" {
		t.Skip(r.skip)
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.path
}

func build(kind Kind, dir string) (path, skip string, err error) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		return "", "no go command to build the test modules with", nil
	}
	out := filepath.Join(buildDir, strings.ReplaceAll(dir, "/", "_"))
	var cmd *exec.Cmd
	switch kind {
	case WASM:
		out += ".wasm"
		cmd = exec.Command(gobin, "build", "-buildmode=c-shared", "-o", out, "./"+dir)
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	case Native:
		if why := nativeUnavailable(); why != "" {
			return "", why, nil
		}
		out += ".so"
		args := []string{"build", "-buildmode=plugin"}
		if raceBuild() {
			// A plugin shares the runtime with the binary that loads
			// it: both must be built with the race detector or neither.
			args = append(args, "-race")
		}
		cmd = exec.Command(gobin, append(args, "-o", out, "./"+dir)...)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	}
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("%s: %v\n%s", cmd, err, b)
	}
	return out, "", nil
}

// nativeUnavailable says why this test binary cannot load a Go plugin
// built here, or "" when it can.
func nativeUnavailable() string {
	switch {
	case !NativeSupported():
		return "native modules: this test binary is built without cgo (CGO_ENABLED=0), so Go's plugin package cannot load anything"
	case testing.CoverMode() != "":
		return "native modules: a coverage build compiles packages differently from the plugin's build, which Go's plugin loader refuses"
	}
	cc, err := exec.Command("go", "env", "CC").Output()
	if err != nil {
		return "native modules: go env CC: " + err.Error()
	}
	if _, err := exec.LookPath(strings.TrimSpace(string(cc))); err != nil {
		return "native modules: no C compiler (" + strings.TrimSpace(string(cc)) + ") to build a plugin with cgo"
	}
	return ""
}

// raceBuild reports whether this test binary runs the race detector.
func raceBuild() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}
