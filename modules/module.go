package modules

import (
	"path/filepath"
	"strings"

	"github.com/nproxy/nproxy/modules/hook"
)

// Kind is the form of a module, told by its file name's extension.
type Kind uint8

// The forms of a module.
const (
	Native Kind = iota + 1 // .so: a Go plugin (go build -buildmode=plugin)
	WASM                   // .wasm: a WebAssembly module on wazero
)

// String returns "native" or "wasm".
func (k Kind) String() string {
	switch k {
	case Native:
		return "native"
	case WASM:
		return "wasm"
	}
	return "unknown"
}

// KindOf returns the form of the module at path, from its extension.
func KindOf(path string) (Kind, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".so":
		return Native, nil
	case ".wasm":
		return WASM, nil
	}
	return 0, errorf(ErrKind, "not a module file: want .so (native) or .wasm (WebAssembly)")
}

// Logger receives what a WebAssembly module writes to its standard
// output and error. *logging.Logger is one.
type Logger interface {
	Warnf(format string, args ...any)
}

// Module is one configured module (one `module = PATH [ARGS...]` line) in
// one worker, ready to run its hooks. Its methods run on the loop thread
// of the server that opened it, never two at once: a WebAssembly
// instance is used by one thread, and a native module's hooks may keep
// state without locks.
type Module struct {
	name string // the path as configured, for messages
	kind Kind

	// A native module's hooks (any may be nil).
	req  hook.RequestHook
	resp hook.ResponseHook
	log  hook.LogHook

	wasm *wasmModule // a WebAssembly module's instance
}

// Open loads the module at path (absolute; name is how the configuration
// spells it, for messages) and creates its instance with args: a native
// module's New(args) is called, a WebAssembly module is compiled (once
// per process and file content), instantiated and initialized. log
// receives what a WebAssembly module prints; it may be nil.
func Open(name, path string, args []string, log Logger) (*Module, error) {
	return OpenCode(name, path, nil, args, log)
}

// OpenCode is Open with code, the content of a WebAssembly module's file
// as the configuration was validated with (config.Module.Code): the
// module is compiled from these bytes, not from what path holds by then.
// A nil code reads path. A native module is always loaded from path
// (plugin.Open takes a path): code is not used.
func OpenCode(name, path string, code []byte, args []string, log Logger) (*Module, error) {
	kind, err := KindOf(path)
	if err != nil {
		return nil, err
	}
	m := &Module{name: name, kind: kind}
	switch kind {
	case Native:
		var value any
		if value, err = openNative(path, args); err == nil {
			err = m.setHooks(value)
		}
	case WASM:
		m.wasm, err = openWASM(name, path, code, args, log)
	}
	if err != nil {
		return nil, err
	}
	return m, nil
}

// Wrap makes a module of value, a Go value implementing any of
// hook.RequestHook, hook.ResponseHook and hook.LogHook (as a native
// module's New returns), named name in messages: for modules built into
// a program, and for tests. It runs as a native module does.
func Wrap(name string, value any) (*Module, error) {
	m := &Module{name: name, kind: Native}
	if err := m.setHooks(value); err != nil {
		return nil, err
	}
	return m, nil
}

// setHooks takes the hooks value implements.
func (m *Module) setHooks(value any) error {
	m.req, _ = value.(hook.RequestHook)
	m.resp, _ = value.(hook.ResponseHook)
	m.log, _ = value.(hook.LogHook)
	if m.req == nil && m.resp == nil && m.log == nil {
		return errorf(ErrExports, "a %T has none of OnRequest(hook.Request) error, OnResponse(hook.Response) error and OnLog(hook.Log) error", value)
	}
	return nil
}

// Check loads the module at path with args as Open does and releases it:
// the configuration's check, run by the master and `nproxy -t`, so that a
// missing file, a bad export or a version mismatch is reported with the
// line that names the module before any worker starts.
func Check(path string, args []string) error {
	return CheckCode(path, nil, args)
}

// CheckCode is Check with code, the content of a WebAssembly module's
// file, as OpenCode takes it.
func CheckCode(path string, code []byte, args []string) error {
	m, err := OpenCode(path, path, code, args, nil)
	if err != nil {
		return err
	}
	m.Close()
	return nil
}

// Name returns the module's path as configured.
func (m *Module) Name() string { return m.name }

// Kind returns the module's form.
func (m *Module) Kind() Kind { return m.kind }

// HasRequestHook reports whether the module sees requests.
func (m *Module) HasRequestHook() bool {
	if m.wasm != nil {
		return m.wasm.hooks&hookRequest != 0
	}
	return m.req != nil
}

// HasResponseHook reports whether the module sees responses.
func (m *Module) HasResponseHook() bool {
	if m.wasm != nil {
		return m.wasm.hooks&hookResponse != 0
	}
	return m.resp != nil
}

// HasLogHook reports whether the module sees finished exchanges.
func (m *Module) HasLogHook() bool {
	if m.wasm != nil {
		return m.wasm.hooks&hookLog != 0
	}
	return m.log != nil
}

// OnRequest runs the module's request hook on r. An error is the
// module's own, or ErrTrap, ErrTimeLimit, ErrPanic or ErrUnavailable
// when the module failed; the caller answers 500 either way.
func (m *Module) OnRequest(r hook.Request) (err error) {
	if m.wasm != nil {
		return m.wasm.onRequest(r)
	}
	defer recoverPanic(&err)
	return m.req.OnRequest(r)
}

// OnResponse runs the module's response hook on r; errors as OnRequest.
func (m *Module) OnResponse(r hook.Response) (err error) {
	if m.wasm != nil {
		return m.wasm.onResponse(r)
	}
	defer recoverPanic(&err)
	return m.resp.OnResponse(r)
}

// OnLog runs the module's log hook on l; errors as OnRequest, but the
// caller only logs them.
func (m *Module) OnLog(l hook.Log) (err error) {
	if m.wasm != nil {
		return m.wasm.onLogPhase(l)
	}
	defer recoverPanic(&err)
	return m.log.OnLog(l)
}

// Close releases the module's instance. A native module stays loaded (Go
// cannot unload a plugin); only its value is dropped.
func (m *Module) Close() {
	if m.wasm != nil {
		m.wasm.close()
	}
	m.req, m.resp, m.log, m.wasm = nil, nil, nil, nil
}

// recoverPanic turns a native module's panic into ErrPanic: a module's
// bug answers 500, it does not stop the worker.
func recoverPanic(err *error) {
	if p := recover(); p != nil {
		*err = errorf(ErrPanic, "panicked: %v", p)
	}
}
