package modules

import (
	"errors"
	"fmt"
)

// Errors returned by Open and Check (wrapped with the detail), and by a
// module's hooks when the module itself failed rather than returned an
// error.
var (
	// ErrKind is returned for a path that ends neither in .so nor in
	// .wasm.
	ErrKind = errors.New("modules: not a module file (.so for a native module, .wasm for WebAssembly)")

	// ErrNativeUnavailable is returned for a .so module by an nproxy
	// built without cgo (CGO_ENABLED=0), where Go's plugin package cannot
	// load anything. WebAssembly modules still work there.
	ErrNativeUnavailable = errors.New("modules: native modules are unavailable in this nproxy (built with CGO_ENABLED=0); use a .wasm module, or an nproxy built with cgo")

	// ErrVersion is returned for a module built for another version of
	// the hook API, or a native module built with another Go toolchain
	// or other versions of the packages it shares with nproxy.
	ErrVersion = errors.New("modules: version mismatch")

	// ErrExports is returned for a module that does not have the symbols
	// or exports nproxy calls, or has them with the wrong types, and for
	// a WebAssembly module that imports a function nproxy does not
	// provide.
	ErrExports = errors.New("modules: bad exports")

	// ErrInit is returned when the module's constructor refuses its
	// arguments or fails.
	ErrInit = errors.New("modules: module refused to start")

	// ErrChanged is returned for a native module whose file changed since
	// this process loaded it: Go cannot unload a plugin, so the new build
	// can only be loaded by a new nproxy process.
	ErrChanged = errors.New("modules: native module changed since it was loaded")

	// ErrTrap is returned by a hook of a WebAssembly module that trapped
	// (an unreachable instruction, an out-of-bounds access, a Go panic)
	// or exited. The instance is discarded; the next request gets a new
	// one.
	ErrTrap = errors.New("modules: module trapped")

	// ErrTimeLimit is returned by a hook of a WebAssembly module that ran
	// past CallTimeLimit. The instance is discarded, as after a trap.
	ErrTimeLimit = errors.New("modules: module ran past its time limit")

	// ErrPanic is returned by a hook of a native module that panicked;
	// the panic is recovered and the worker keeps running.
	ErrPanic = errors.New("modules: module panicked")

	// ErrUnavailable is returned by a hook of a WebAssembly module whose
	// instance failed and could not be made again yet (its re-creation
	// is retried at most once per retryEvery).
	ErrUnavailable = errors.New("modules: module unavailable")
)

// detailError is an error of one of the kinds above whose text is the
// detail alone, ready to follow "module PATH: " in a message: the kind is
// for errors.Is.
type detailError struct {
	kind error
	msg  string
}

func (e *detailError) Error() string { return e.msg }
func (e *detailError) Unwrap() error { return e.kind }

// errorf returns an error of kind with a formatted text.
func errorf(kind error, format string, args ...any) error {
	return &detailError{kind, fmt.Sprintf(format, args...)}
}
