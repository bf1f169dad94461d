package modules

import (
	"crypto/sha256"
	"debug/buildinfo"
	"debug/elf"
	"errors"
	"os"
	"plugin"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"

	"github.com/nproxy/nproxy/modules/hook"
)

// nativeSupported reports whether this binary can load Go plugins: the
// plugin package needs cgo (dlopen), so a CGO_ENABLED=0 build cannot.
// native_cgo.go sets it; it is a fact about the toolchain that built
// nproxy, hence the cgo build tag there.
var nativeSupported = false

// NativeSupported reports whether this nproxy can load native modules: it
// was built with cgo, which Go's plugin loader needs.
func NativeSupported() bool { return nativeSupported }

// hookPackage is the import path of the API package a native module
// shares with nproxy.
const hookPackage = "github.com/nproxy/nproxy/modules/hook"

// The symbols a native module exports.
const (
	symAPI = "NproxyAPI" // var NproxyAPI = hook.Version
	symNew = "New"       // func New(args []string) (any, error)
)

// loadedNative records the content of every plugin file this process
// loaded, by path: Go's plugin package returns the plugin it loaded first
// for a path, whatever the file holds now, and cannot unload it.
var loadedNative struct {
	mu  sync.Mutex
	sum map[string][sha256.Size]byte
}

// openNative loads the plugin at path (once per process), checks it was
// built for this nproxy, and calls its New with args.
func openNative(path string, args []string) (any, error) {
	if !nativeSupported {
		return nil, errorf(ErrNativeUnavailable, "native modules are unavailable in this nproxy (built with CGO_ENABLED=0, without Go's plugin loader): use the .wasm form of the module, or an nproxy built with cgo")
	}
	bin, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(bin)
	bin = nil
	loadedNative.mu.Lock()
	defer loadedNative.mu.Unlock()
	if prev, ok := loadedNative.sum[path]; ok && prev != sum {
		return nil, errorf(ErrChanged, "this nproxy process loaded an earlier build of the file, and Go cannot unload a plugin: restart nproxy (stop, then start) to use the new one")
	}
	if err := checkNativeBuild(path); err != nil {
		return nil, err
	}
	p, err := plugin.Open(path)
	if err != nil {
		return nil, explainOpen(err)
	}
	if loadedNative.sum == nil {
		loadedNative.sum = make(map[string][sha256.Size]byte)
	}
	loadedNative.sum[path] = sum
	return newNative(p, args)
}

// newNative checks the plugin's symbols and calls its New; the value it
// returns is the module's (Module.setHooks checks its hooks).
func newNative(p *plugin.Plugin, args []string) (m any, err error) {
	sym, err := p.Lookup(symAPI)
	if err != nil {
		return nil, errorf(ErrExports, "no %s variable: declare var %s = hook.Version", symAPI, symAPI)
	}
	v, ok := sym.(*int)
	if !ok {
		return nil, errorf(ErrExports, "%s is a %T, want an int (var %s = hook.Version)", symAPI, sym, symAPI)
	}
	if !knownAPI(*v) {
		return nil, apiMismatch(*v)
	}
	sym, err = p.Lookup(symNew)
	if err != nil {
		return nil, errorf(ErrExports, "no %s function: declare func New(args []string) (any, error)", symNew)
	}
	newModule, ok := sym.(func([]string) (any, error))
	if !ok {
		return nil, errorf(ErrExports, "New is a %T, want func(args []string) (any, error)", sym)
	}
	defer func() {
		if p := recover(); p != nil {
			err = errorf(ErrInit, "New panicked: %v", p)
		}
	}()
	m, err = newModule(args)
	if err != nil {
		return nil, errorf(ErrInit, "%v", err)
	}
	return m, nil
}

// knownAPI reports whether this nproxy runs modules built for hook API
// version v: every version from hook.MinVersion to hook.Version.
func knownAPI(v int) bool { return hook.MinVersion <= v && v <= hook.Version }

func apiMismatch(v int) error {
	return errorf(ErrVersion, "built for nproxy hook API v%d, this nproxy needs v%d to v%d: rebuild the module against this nproxy's modules/hook", v, hook.MinVersion, hook.Version)
}

// checkNativeBuild reads what the file says about its build, before
// loading it: Go's own check, in plugin.Open, fails with a message that
// names a package but not the reason, and loading code built for another
// runtime is not safe to try. It compares the build with nproxy's
// (compareBuild) and checks the declared hook API version.
func checkNativeBuild(path string) error {
	theirs, err := buildinfo.ReadFile(path)
	if err != nil {
		return errorf(ErrExports, "not a Go plugin (%v)", err)
	}
	ours, _ := debug.ReadBuildInfo()
	if err := compareBuild(ours, theirs, runtime.Version()); err != nil {
		return err
	}
	v, found, err := declaredAPI(path, theirs.Path)
	switch {
	case err != nil:
		return err
	case found && !knownAPI(v):
		return apiMismatch(v)
	}
	return nil
}

// compareBuild reports what in theirs, a plugin's build information,
// keeps it from running in ours, nproxy's (nil when unknown), built by
// goVersion: another Go release, another build mode, other flags that
// change every package (-race, GOARCH, GOAMD64, ...), or another release
// of nproxy's own module.
func compareBuild(ours, theirs *debug.BuildInfo, goVersion string) error {
	if theirs.GoVersion != goVersion {
		return errorf(ErrVersion, "built with %s, this nproxy with %s: build the module with the Go that built nproxy", theirs.GoVersion, goVersion)
	}
	their := buildSettings(theirs)
	if their["-buildmode"] != "plugin" {
		return errorf(ErrExports, "built with -buildmode=%s, want -buildmode=plugin", their["-buildmode"])
	}
	if ours == nil {
		return nil
	}
	our := buildSettings(ours)
	for _, key := range sharedSettings(our, their) {
		if our[key] != their[key] {
			return errorf(ErrVersion, "built with %s=%q, this nproxy with %s=%q: build the module with the same flags", key, their[key], key, our[key])
		}
	}
	if want, got := moduleVersion(ours, ours.Main.Path), moduleVersion(theirs, ours.Main.Path); want != "" && got != "" && want != got {
		return errorf(ErrVersion, "built against %s %s, this nproxy is %s", ours.Main.Path, got, want)
	}
	return nil
}

// buildSettings returns bi's build settings by key.
func buildSettings(bi *debug.BuildInfo) map[string]string {
	m := make(map[string]string, len(bi.Settings))
	for _, s := range bi.Settings {
		m[s.Key] = s.Value
	}
	return m
}

// sharedSettings lists the build settings that must be equal in nproxy
// and a plugin: the sanitizers and every GO* architecture or experiment
// setting, which change how every package, the runtime included, is
// compiled.
func sharedSettings(a, b map[string]string) []string {
	var keys []string
	seen := map[string]bool{}
	for _, m := range []map[string]string{a, b} {
		for k := range m {
			relevant := k == "-race" || k == "-asan" || k == "-msan" ||
				strings.HasPrefix(k, "GO") && k != "GOOS"
			if relevant && !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	return keys
}

// moduleVersion returns the version of module path that bi was built
// with, or "" when it is a development build (or not a dependency).
func moduleVersion(bi *debug.BuildInfo, path string) string {
	v := ""
	if bi.Main.Path == path {
		v = bi.Main.Version
	}
	for _, d := range bi.Deps {
		if d.Path == path {
			v = d.Version
			if d.Replace != nil {
				v = d.Replace.Version
			}
		}
	}
	if v == "(devel)" {
		return ""
	}
	return v
}

// declaredAPI reads the initial value of the plugin's NproxyAPI variable
// from its symbol table, without loading it. found is false when the
// file has no symbol table (built with -ldflags=-s): the check is then
// made after loading.
func declaredAPI(path, mainPkg string) (v int, found bool, err error) {
	f, err := elf.Open(path)
	if err != nil {
		return 0, false, errorf(ErrExports, "not an ELF shared object: %v", err)
	}
	defer f.Close()
	syms, err := f.Symbols()
	if errors.Is(err, elf.ErrNoSymbols) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, errorf(ErrExports, "symbol table: %v", err)
	}
	want := mainPkg + "." + symAPI
	for _, s := range syms {
		if s.Name != want || int(s.Section) >= len(f.Sections) {
			continue
		}
		sec := f.Sections[s.Section]
		if sec.Type == elf.SHT_NOBITS { // .bss, .noptrbss: zero
			return 0, true, nil
		}
		if s.Size != 8 || s.Value < sec.Addr || s.Value+8 > sec.Addr+sec.Size {
			return 0, false, errorf(ErrExports, "%s is not an int (var %s = hook.Version)", symAPI, symAPI)
		}
		var b [8]byte
		if _, err := sec.ReadAt(b[:], int64(s.Value-sec.Addr)); err != nil {
			return 0, false, errorf(ErrExports, "reading %s: %v", symAPI, err)
		}
		return int(int64(f.ByteOrder.Uint64(b[:]))), true, nil
	}
	return 0, false, errorf(ErrExports, "no %s variable: declare var %s = hook.Version in package main", symAPI, symAPI)
}

// explainOpen turns plugin.Open's errors into what to do about them.
func explainOpen(err error) error {
	msg := err.Error()
	const differs = "different version of package "
	if i := strings.Index(msg, differs); i >= 0 {
		pkg := strings.TrimSpace(msg[i+len(differs):])
		if pkg == hookPackage {
			return errorf(ErrVersion, "built against another version of the nproxy hook API (%s): rebuild the module against this nproxy's source", pkg)
		}
		return errorf(ErrVersion, "built against another version of package %s than this nproxy: build the module from the same source and module versions as nproxy, with the same Go and flags", pkg)
	}
	if strings.Contains(msg, "plugin already loaded") {
		return errorf(ErrChanged, "a module built from the same Go package is already loaded from another file, and Go loads a package once: give each module its own package, or restart nproxy to replace one")
	}
	return errorf(ErrExports, "%v", err)
}
