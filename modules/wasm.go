package modules

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/nproxy/nproxy/modules/hook"
)

// The bounds of a WebAssembly module. They are the same for every
// module; the ARGS of a module line are the module's own.
const (
	// MemoryLimit is the most linear memory one instance may have. A Go
	// module starts with about 2.5 MiB; a module that asks for more
	// than the limit fails its memory.grow, and a Go module then dies
	// with "out of memory": a trap, answered 500.
	MemoryLimit = 64 << 20

	// CallTimeLimit bounds one hook call. A hook that passes takes
	// microseconds; the limit only stops a module that loops. The
	// deadline is on the call's context; wazero's compiled code checks
	// whether the module was closed at every loop header, and a
	// goroutine of wazero's closes it when the context is done. A worker
	// runs on one P (GOMAXPROCS=1), which that goroutine gets only when
	// the loop thread is preempted, so a runaway call stops a Go
	// preemption tick or two (10 ms each) after the limit. A call whose
	// thread the kernel kept off its CPU past the limit (a loaded
	// machine) goes on until its thread has run a little more
	// (callContext, cpuGrace), at most ten times the limit.
	CallTimeLimit = 50 * time.Millisecond

	// InitTimeLimit bounds an instance's creation: the language
	// runtime's start (Go's _initialize) and nproxy_init.
	InitTimeLimit = 2 * time.Second

	// wasmPage is the size of a WebAssembly memory page.
	wasmPage = 64 << 10

	// retryEvery spaces the tries to make a new instance after one
	// failed to start: between two, the module's requests are answered
	// 500 at once instead of each paying for a start that fails.
	retryEvery = time.Second

	// maxErrorText bounds a module's error message (set_error) and the
	// standard error kept for the message of a trap.
	maxErrorText = 1 << 10
)

// The hook masks nproxy_init returns. hookLog is version 2's: the mask
// of a version-1 module is read without it.
const (
	hookRequest  = 1
	hookResponse = 2
	hookLog      = 4
)

// hooksOf returns the hooks of version's mask that this nproxy runs.
func hooksOf(version, mask int32) int32 {
	if version < 2 {
		return mask & (hookRequest | hookResponse)
	}
	return mask & (hookRequest | hookResponse | hookLog)
}

// wasmHost is the process's WebAssembly runtime, made on first use and
// shared by every module and every server of the process (wazero's
// runtime is safe for concurrent use; each instance is not, and is used
// by one loop thread).
var wasmHost struct {
	once sync.Once
	rt   wazero.Runtime
	err  error

	mu   sync.Mutex
	code map[string]*compiledWASM // by absolute path
}

// compiledWASM is a module compiled for this process: the file's content
// is compiled once and shared by every instance made from it.
type compiledWASM struct {
	sum  [sha256.Size]byte
	cm   wazero.CompiledModule
	refs int // open instances; a replaced entry is closed at 0
	gone bool
}

// wasmRuntime returns the process's runtime: the compiler where wazero
// has one for this CPU, WASI without a file system, sockets, arguments or
// environment, and the nproxy host functions.
func wasmRuntime() (wazero.Runtime, error) {
	h := &wasmHost
	h.once.Do(func() {
		ctx := context.Background()
		cfg := wazero.NewRuntimeConfig().
			WithCloseOnContextDone(true).
			WithMemoryLimitPages(MemoryLimit / wasmPage).
			WithCompilationCache(wazero.NewCompilationCache())
		rt := wazero.NewRuntimeWithConfig(ctx, cfg)
		if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
			h.err = fmt.Errorf("modules: WASI: %w", err)
			return
		}
		if err := instantiateHost(ctx, rt); err != nil {
			h.err = fmt.Errorf("modules: host functions: %w", err)
			return
		}
		h.rt = rt
		h.code = make(map[string]*compiledWASM)
	})
	return h.rt, h.err
}

// compileWASM returns the compiled form of bin, the content of the
// module file at path (read from path when bin is nil), compiling it
// unless this process already did for the same path and content, and
// counts a reference to it (release with releaseWASM).
func compileWASM(path string, bin []byte) (*compiledWASM, error) {
	rt, err := wasmRuntime()
	if err != nil {
		return nil, err
	}
	if bin == nil {
		if bin, err = os.ReadFile(path); err != nil {
			return nil, err
		}
	}
	sum := sha256.Sum256(bin)
	h := &wasmHost
	h.mu.Lock()
	defer h.mu.Unlock()
	if c := h.code[path]; c != nil && c.sum == sum {
		c.refs++
		return c, nil
	}
	cm, err := rt.CompileModule(context.Background(), bin)
	if err != nil {
		return nil, errorf(ErrExports, "not a WebAssembly module nproxy can run: %v", err)
	}
	if err := checkImports(cm); err != nil {
		cm.Close(context.Background())
		return nil, err
	}
	if old := h.code[path]; old != nil {
		old.gone = true
		if old.refs == 0 {
			old.cm.Close(context.Background())
		}
	}
	c := &compiledWASM{sum: sum, cm: cm, refs: 1}
	h.code[path] = c
	return c, nil
}

// releaseWASM drops a reference taken by compileWASM.
func releaseWASM(c *compiledWASM) {
	h := &wasmHost
	h.mu.Lock()
	defer h.mu.Unlock()
	c.refs--
	if c.refs == 0 && c.gone {
		c.cm.Close(context.Background())
	}
}

// checkImports reports an import nproxy does not provide: a function of
// another module than WASI's and nproxy's, or an nproxy function of
// another name or type than the ABI has (version 2's functions are
// version 1's and log_get).
func checkImports(cm wazero.CompiledModule) error {
	for _, f := range cm.ImportedFunctions() {
		mod, name, _ := f.Import()
		switch mod {
		case wasi_snapshot_preview1.ModuleName:
		case hostModule:
			want, ok := hostSignatures[name]
			if !ok {
				return errorf(ErrExports, "imports %s.%s, which nproxy (hook API v%d) does not provide", mod, name, hook.Version)
			}
			if !sameTypes(f.ParamTypes(), want.params) || !sameTypes(f.ResultTypes(), want.results) {
				return errorf(ErrExports, "imports %s.%s with another signature than nproxy's (hook API v%d)", mod, name, hook.Version)
			}
		default:
			return errorf(ErrExports, "imports %s.%s: a module may import only %s and %s functions (no file system, no network)", mod, name, hostModule, wasi_snapshot_preview1.ModuleName)
		}
	}
	for _, name := range []string{"nproxy_api_version", "nproxy_init"} {
		if _, ok := cm.ExportedFunctions()[name]; !ok {
			return errorf(ErrExports, "does not export %s: not an nproxy module (see the README, Modules)", name)
		}
	}
	if len(cm.ExportedMemories()) == 0 {
		return errorf(ErrExports, "exports no memory")
	}
	return nil
}

func sameTypes(a, b []api.ValueType) bool { return bytes.Equal(a, b) }

// wasmModule is one instance of a WebAssembly module and the state of
// the hook call it is in. Loop thread only, but for close.
type wasmModule struct {
	name  string
	code  *compiledWASM
	args  []byte // the ARGS, each followed by a NUL
	log   Logger
	hooks int32 // hookRequest | hookResponse | hookLog, from nproxy_init

	mod        api.Module // nil after a failure, until made again
	onReq      api.Function
	onResp     api.Function
	onLog      api.Function
	ctx        context.Context // holds the wasmModule for the host functions
	calls      *callContext    // ctx with the hook calls' deadline
	stack      [1]uint64       // parameters and results of one call
	retryAfter time.Time       // no new instance before it, after one failed

	// The call in progress: the request (request phase), the response
	// (response phase), the finished exchange (log phase), and the
	// headers of a local answer.
	req      hook.Request
	resp     hook.Response
	logged   hook.Log
	answered hook.Headers

	errText []byte // set_error's text, for the error the call returns
	stderr  outputWriter
}

// ctxKey is the context key under which a call's wasmModule is found by
// the host functions.
type ctxKey struct{}

// openWASM compiles (or finds compiled) bin, the module at path (read
// from path when bin is nil), and makes its first instance.
func openWASM(name, path string, bin []byte, args []string, log Logger) (*wasmModule, error) {
	code, err := compileWASM(path, bin)
	if err != nil {
		return nil, err
	}
	w := &wasmModule{name: name, code: code, log: log}
	for _, a := range args {
		w.args = append(append(w.args, a...), 0)
	}
	w.ctx = context.WithValue(context.Background(), ctxKey{}, w)
	w.calls = newCallContext(w.ctx)
	if err := w.instantiate(); err != nil {
		w.close()
		return nil, err
	}
	return w, nil
}

// instantiate makes a new instance, checks its API version and runs
// nproxy_init with the module's ARGS.
func (w *wasmModule) instantiate() error {
	rt, err := wasmRuntime()
	if err != nil {
		return err
	}
	w.stderr.reset()
	// No file system, environment, arguments or sockets: the module sees
	// only the clocks, a random source and its own output, which
	// becomes the worker's log lines.
	cfg := wazero.NewModuleConfig().
		WithName("").
		WithStartFunctions("_initialize").
		WithStdout(&w.stderr).
		WithStderr(&w.stderr).
		WithRandSource(crand.Reader).
		WithSysWalltime().
		WithSysNanotime()
	ctx, cancel := context.WithTimeout(w.ctx, InitTimeLimit)
	defer cancel()
	mod, err := rt.InstantiateModule(ctx, w.code.cm, cfg)
	if err != nil {
		return errorf(ErrInit, "starting: %v", w.describe(err, InitTimeLimit))
	}
	w.mod = mod
	version, err := w.callInit(ctx, "nproxy_api_version")
	if err != nil {
		w.discard()
		return err
	}
	if version < hook.MinVersion || version > hook.Version {
		w.discard()
		return errorf(ErrVersion, "built for nproxy hook API v%d, this nproxy needs v%d to v%d", version, hook.MinVersion, hook.Version)
	}
	mask, err := w.callInit(ctx, "nproxy_init")
	if err == nil && mask < 0 {
		err = errorf(ErrInit, "%s", w.takeError("nproxy_init failed"))
	}
	mask = hooksOf(version, mask)
	if err == nil && mask == 0 {
		err = errorf(ErrInit, "nproxy_init returned no hook")
	}
	if err != nil {
		w.discard()
		return err
	}
	w.hooks = mask
	w.onReq = mod.ExportedFunction("nproxy_on_request")
	w.onResp = mod.ExportedFunction("nproxy_on_response")
	w.onLog = mod.ExportedFunction("nproxy_on_log")
	switch {
	case mask&hookRequest != 0 && w.onReq == nil:
		err = errorf(ErrExports, "nproxy_init names a request hook, and nproxy_on_request is not exported")
	case mask&hookResponse != 0 && w.onResp == nil:
		err = errorf(ErrExports, "nproxy_init names a response hook, and nproxy_on_response is not exported")
	case mask&hookLog != 0 && w.onLog == nil:
		err = errorf(ErrExports, "nproxy_init names a log hook, and nproxy_on_log is not exported")
	}
	if err != nil {
		w.discard()
		return err
	}
	w.flushOutput()
	return nil
}

// callInit calls an export without parameters during instantiate.
func (w *wasmModule) callInit(ctx context.Context, name string) (int32, error) {
	fn := w.mod.ExportedFunction(name)
	if fn == nil {
		return 0, errorf(ErrExports, "does not export %s", name)
	}
	w.stack[0] = 0
	if err := fn.CallWithStack(ctx, w.stack[:]); err != nil {
		return 0, errorf(ErrInit, "%s: %v", name, w.describe(err, InitTimeLimit))
	}
	return int32(uint32(w.stack[0])), nil
}

// ready makes sure there is an instance, making a new one after a
// failure. When making one fails, the next try waits retryEvery: until
// then the module's requests fail at once.
func (w *wasmModule) ready() error {
	if w.mod != nil {
		return nil
	}
	now := time.Now()
	if now.Before(w.retryAfter) {
		return errorf(ErrUnavailable, "a new instance could not be made; the next try is at most %v after the last", retryEvery)
	}
	if err := w.instantiate(); err != nil {
		w.retryAfter = now.Add(retryEvery)
		return err
	}
	return nil
}

func (w *wasmModule) onRequest(r hook.Request) error {
	if err := w.ready(); err != nil {
		return err
	}
	w.req = r
	err := w.call(w.onReq)
	w.req, w.answered = nil, nil
	return err
}

func (w *wasmModule) onResponse(r hook.Response) error {
	if err := w.ready(); err != nil {
		return err
	}
	w.resp = r
	err := w.call(w.onResp)
	w.resp = nil
	return err
}

func (w *wasmModule) onLogPhase(l hook.Log) error {
	if err := w.ready(); err != nil {
		return err
	}
	w.logged = l
	err := w.call(w.onLog)
	w.logged = nil
	return err
}

// call runs a hook export under CallTimeLimit. A failure of the module
// (trap, exit, time limit) discards the instance; an error the module
// returns leaves it in place.
func (w *wasmModule) call(fn api.Function) error {
	if fn == nil {
		return nil
	}
	w.calls.arm(CallTimeLimit)
	w.stack[0] = 0
	err := fn.CallWithStack(w.calls, w.stack[:])
	w.calls.disarm()
	if err != nil {
		err = w.describe(err, CallTimeLimit)
		w.discard()
		return err
	}
	if w.stderr.n > 0 {
		w.flushOutput()
	}
	if int32(uint32(w.stack[0])) < 0 {
		return errors.New(w.takeError("hook failed"))
	}
	return nil
}

// describe turns a call's error into ErrTimeLimit or ErrTrap, with the
// last line the module printed (a Go panic's message) when there is one.
func (w *wasmModule) describe(err error, limit time.Duration) error {
	var exit *sys.ExitError
	if errors.As(err, &exit) {
		switch exit.ExitCode() {
		case sys.ExitCodeDeadlineExceeded:
			return errorf(ErrTimeLimit, "ran past its time limit (%v)", limit)
		case sys.ExitCodeContextCanceled:
			return errorf(ErrTrap, "canceled")
		}
		err = fmt.Errorf("exited with code %d", exit.ExitCode())
	}
	msg, _, _ := strings.Cut(err.Error(), "\n") // wazero adds the wasm stack trace
	if last := w.stderr.tellingLine(); last != "" {
		return errorf(ErrTrap, "trapped: %s (it printed: %s)", msg, last)
	}
	return errorf(ErrTrap, "trapped: %s", msg)
}

// takeError returns and clears the text the module gave set_error, or
// fallback when it gave none.
func (w *wasmModule) takeError(fallback string) string {
	if len(w.errText) == 0 {
		return fallback
	}
	s := string(w.errText)
	w.errText = w.errText[:0]
	return s
}

// flushOutput logs the lines the module printed (standard output and
// error) since the last time, and forgets them.
func (w *wasmModule) flushOutput() {
	if w.log != nil {
		w.stderr.eachLine(func(line string) { w.log.Warnf("module %s: %s", w.name, line) })
	}
	w.stderr.reset()
}

// discard closes the current instance; the next call makes a new one.
func (w *wasmModule) discard() {
	if w.mod == nil {
		return
	}
	w.mod.Close(context.Background())
	w.mod, w.onReq, w.onResp, w.onLog = nil, nil, nil, nil
}

// close ends the instance and releases the compiled module.
func (w *wasmModule) close() {
	w.discard()
	w.calls.stop()
	if w.code != nil {
		releaseWASM(w.code)
		w.code = nil
	}
}

// outputWriter keeps what a module prints, up to maxErrorText bytes
// (the first ones: a Go panic's message comes before its stack trace),
// for the log and for a trap's message.
type outputWriter struct {
	buf []byte
	n   int // bytes written since the last reset, kept or not
}

func (o *outputWriter) Write(p []byte) (int, error) {
	o.n += len(p)
	if room := maxErrorText - len(o.buf); room > 0 {
		o.buf = append(o.buf, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (o *outputWriter) reset() { o.buf, o.n = o.buf[:0], 0 }

// eachLine calls f with every non-empty line kept, then with a count of
// the bytes that were not kept.
func (o *outputWriter) eachLine(f func(string)) {
	for _, line := range strings.Split(string(o.buf), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			f(line)
		}
	}
	if dropped := o.n - len(o.buf); dropped > 0 {
		f(fmt.Sprintf("(%d more bytes of output not logged)", dropped))
	}
}

// tellingLine returns the most telling line kept: a Go panic's or fatal
// error's first line when there is one, else the last line.
func (o *outputWriter) tellingLine() string {
	last := ""
	for _, line := range strings.Split(string(o.buf), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "panic: ") || strings.HasPrefix(line, "fatal error: ") {
			return line
		}
		if line != "" {
			last = line
		}
	}
	return last
}
