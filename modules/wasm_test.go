package modules

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nproxy/nproxy/modules/hook"
)

func TestKindOf(t *testing.T) {
	tests := []struct {
		path string
		want Kind
		err  bool
	}{
		{"/m/filter.so", Native, false},
		{"/m/filter.wasm", WASM, false},
		{"/m/FILTER.WASM", WASM, false},
		{"/m/filter.so.1", 0, true},
		{"/m/filter", 0, true},
	}
	for _, tt := range tests {
		k, err := KindOf(tt.path)
		if k != tt.want || (err != nil) != tt.err || err != nil && !errors.Is(err, ErrKind) {
			t.Errorf("KindOf(%q) = %v, %v", tt.path, k, err)
		}
	}
}

// TestWASMCheck covers what Check refuses in a WebAssembly module, with
// modules written by hand.
func TestWASMCheck(t *testing.T) {
	i32s := func(n int) []byte { return []byte(strings.Repeat(string(rune(i32T)), n)) }
	tests := []struct {
		name string
		bin  []byte
		kind error
		msg  string // part of the error's text
	}{
		{"passes", wasmBinary(nil, abiFuncs(returns(0)), 1), nil, ""},
		{"not WebAssembly", []byte("#!/bin/sh\n"), ErrExports, "not a WebAssembly module nproxy can run"},
		{"no exports", wasmBinary(nil, []wasmFunc{{"", returns(1)}}, 1), ErrExports, "does not export nproxy_api_version"},
		{"no init", wasmBinary(nil, []wasmFunc{{"nproxy_api_version", returns(1)}}, 1), ErrExports, "does not export nproxy_init"},
		{"no memory", wasmBinary(nil, abiFuncs(returns(0)), -1), ErrExports, "exports no memory"},
		{"a newer API version", wasmBinary(nil, []wasmFunc{
			{"nproxy_api_version", returns(3)}, {"nproxy_init", returns(1)},
		}, 1), ErrVersion, "built for nproxy hook API v3, this nproxy needs v1 to v2"},
		{"an older API version", wasmBinary(nil, []wasmFunc{
			{"nproxy_api_version", returns(0)}, {"nproxy_init", returns(1)},
		}, 1), ErrVersion, "built for nproxy hook API v0, this nproxy needs v1 to v2"},
		{"version 1 names only a log hook", wasmBinary(nil, []wasmFunc{
			{"nproxy_api_version", returns(1)}, {"nproxy_init", returns(hookLog)}, {"nproxy_on_log", returns(0)},
		}, 1), ErrInit, "nproxy_init returned no hook"},
		{"log hook not exported", wasmBinary(nil, []wasmFunc{
			{"nproxy_api_version", returns(2)}, {"nproxy_init", returns(hookRequest | hookLog)}, {"nproxy_on_request", returns(0)},
		}, 1), ErrExports, "nproxy_init names a log hook, and nproxy_on_log is not exported"},
		{"foreign import", wasmBinary([]wasmImport{{"env", "open", nil, nil}}, abiFuncs(returns(0)), 1),
			ErrExports, "imports env.open: a module may import only nproxy and wasi_snapshot_preview1 functions"},
		{"unknown host function", wasmBinary([]wasmImport{{"nproxy", "http_call", nil, nil}}, abiFuncs(returns(0)), 1),
			ErrExports, "imports nproxy.http_call, which nproxy (hook API v2) does not provide"},
		{"host function of another type", wasmBinary([]wasmImport{{"nproxy", "args", i32s(1), i32s(1)}}, abiFuncs(returns(0)), 1),
			ErrExports, "imports nproxy.args with another signature"},
		{"init refuses", wasmBinary(nil, []wasmFunc{
			{"nproxy_api_version", returns(1)}, {"nproxy_init", returns(-1)},
		}, 1), ErrInit, "nproxy_init failed"},
		{"init names no hook", wasmBinary(nil, []wasmFunc{
			{"nproxy_api_version", returns(1)}, {"nproxy_init", returns(0)},
		}, 1), ErrInit, "nproxy_init returned no hook"},
		{"hook not exported", wasmBinary(nil, []wasmFunc{
			{"nproxy_api_version", returns(1)}, {"nproxy_init", returns(hookResponse)},
		}, 1), ErrExports, "nproxy_on_response is not exported"},
		{"init traps", wasmBinary(nil, []wasmFunc{
			{"nproxy_api_version", returns(1)}, {"nproxy_init", trap},
		}, 1), ErrInit, "unreachable"},
		{"memory above the limit", wasmBinary(nil, abiFuncs(returns(0)), MemoryLimit/wasmPage+1), ErrExports, "not a WebAssembly module nproxy can run"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Check(writeModule(t, tt.bin), nil)
			if tt.kind == nil {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				return
			}
			if !errors.Is(err, tt.kind) || !strings.Contains(fmtErr(err), tt.msg) {
				t.Errorf("Check: %v, want %v with %q", err, tt.kind, tt.msg)
			}
		})
	}
}

func fmtErr(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestWASMCallLimits checks that a hook that loops is stopped at the time
// limit and one that traps is stopped at once, that both answer an error
// and leave the module usable: the next call gets a new instance.
func TestWASMCallLimits(t *testing.T) {
	tests := []struct {
		name string
		body []byte
		kind error
		msg  string
	}{
		{"loop", loopForever, ErrTimeLimit, "ran past its time limit (50ms)"},
		{"trap", trap, ErrTrap, "unreachable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Open("m.wasm", writeModule(t, wasmBinary(nil, abiFuncs(tt.body), 1)), nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			start := time.Now()
			err = m.OnRequest(nil)
			took := time.Since(start)
			if !errors.Is(err, tt.kind) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("OnRequest: %v, want %v with %q", err, tt.kind, tt.msg)
			}
			// The bound is generous: a loaded CI machine schedules the
			// goroutine that stops the call late, but not seconds late.
			if took > CallTimeLimit+2*time.Second {
				t.Errorf("stopped after %v", took)
			}
			// A new instance, which fails the same way.
			if err := m.OnRequest(nil); !errors.Is(err, tt.kind) {
				t.Errorf("second call: %v, want %v", err, tt.kind)
			}
		})
	}
}

// TestWASMPass checks a hook that passes, many times on one instance.
func TestWASMPass(t *testing.T) {
	m, err := Open("m.wasm", writeModule(t, wasmBinary(nil, abiFuncs(returns(0)), 1)), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if !m.HasRequestHook() || m.HasResponseHook() || m.Kind() != WASM {
		t.Fatalf("hooks %v %v kind %v", m.HasRequestHook(), m.HasResponseHook(), m.Kind())
	}
	inst := m.wasm.mod
	for i := 0; i < 100; i++ {
		if err := m.OnRequest(nil); err != nil {
			t.Fatal(err)
		}
	}
	if m.wasm.mod != inst {
		t.Error("a new instance was made for a call that passed")
	}
}

// TestWASMCompiledOnce checks that instances of one file share its
// compiled code, and that a changed file is compiled again.
func TestWASMCompiledOnce(t *testing.T) {
	p := writeModule(t, wasmBinary(nil, abiFuncs(returns(0)), 1))
	a, err := Open("a", p, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open("b", p, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if a.wasm.code != b.wasm.code {
		t.Error("the same file was compiled twice")
	}
	b.Close()
	writeFile(t, p, wasmBinary(nil, abiFuncs(returns(0)), 2))
	c, err := Open("c", p, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.wasm.code == a.wasm.code {
		t.Error("a changed file was not compiled again")
	}
}

// TestWASMRetry checks that a module whose new instance cannot start is
// not started again for every request: once per retryEvery.
func TestWASMRetry(t *testing.T) {
	p := writeModule(t, wasmBinary(nil, abiFuncs(trap), 1))
	m, err := Open("m.wasm", p, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	// The next instance will not start: its init refuses.
	writeFile(t, p, wasmBinary(nil, []wasmFunc{{"nproxy_api_version", returns(1)}, {"nproxy_init", returns(-1)}}, 1))
	m.wasm.code = mustCompile(t, m.wasm.code, p)
	if err := m.OnRequest(nil); !errors.Is(err, ErrTrap) {
		t.Fatalf("first call: %v, want %v", err, ErrTrap)
	}
	if err := m.OnRequest(nil); !errors.Is(err, ErrInit) {
		t.Fatalf("second call: %v, want %v", err, ErrInit)
	}
	if err := m.OnRequest(nil); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("third call: %v, want %v", err, ErrUnavailable)
	}
}

// mustCompile swaps a module's compiled code for that of the file at p,
// as a worker started after the file changed would have.
func mustCompile(t *testing.T, old *compiledWASM, p string) *compiledWASM {
	t.Helper()
	c, err := compileWASM(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	releaseWASM(old)
	return c
}

// fakeLog is a hook.Log for tests.
type fakeLog struct {
	status int
	body   int64
	d      time.Duration
}

func (l *fakeLog) Request() hook.Request   { return nil }
func (l *fakeLog) Status() int             { return l.status }
func (l *fakeLog) BodyBytes() int64        { return l.body }
func (l *fakeLog) Duration() time.Duration { return l.d }

// TestWASMVersions checks that a module built for API version 1 runs
// unchanged (the log bit of its hook mask means nothing to it), and that
// a version-2 module's log hook runs and reads log_get.
func TestWASMVersions(t *testing.T) {
	const (
		opCall    = 0x10
		opI32Sub  = 0x6b
		opWrapI64 = 0xa7
	)
	v1, err := Open("v1.wasm", writeModule(t, wasmBinary(nil, []wasmFunc{
		{"nproxy_api_version", returns(1)},
		{"nproxy_init", returns(hookRequest | hookResponse | hookLog)},
		{"nproxy_on_request", returns(0)},
		{"nproxy_on_response", returns(0)},
		{"nproxy_on_log", trap},
	}, 1)), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer v1.Close()
	if !v1.HasRequestHook() || !v1.HasResponseHook() || v1.HasLogHook() {
		t.Errorf("version 1: hooks %v %v %v, want request and response only", v1.HasRequestHook(), v1.HasResponseHook(), v1.HasLogHook())
	}

	// on_log returns log_get(field) - want, as an i32: 0 when the field
	// has the value wanted, else negative (the hook fails).
	logGet := []wasmImport{{"nproxy", "log_get", []byte{i32T}, []byte{0x7e}}}
	onLog := func(field, want int32) []byte {
		b := append(returns(field), opCall, 0, opWrapI64)
		b = append(b, returns(want)...)
		return append(b, opI32Sub)
	}
	for _, tt := range []struct {
		name        string
		field, want int32
	}{
		{"status", logStatus, 204},
		{"body bytes", logBodyBytes, 1234},
		{"duration", logDuration, 5000},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Open("v2.wasm", writeModule(t, wasmBinary(logGet, []wasmFunc{
				{"nproxy_api_version", returns(2)},
				{"nproxy_init", returns(hookLog)},
				{"nproxy_on_log", onLog(tt.field, tt.want)},
			}, 1)), nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			if m.HasRequestHook() || m.HasResponseHook() || !m.HasLogHook() {
				t.Fatalf("hooks %v %v %v, want log only", m.HasRequestHook(), m.HasResponseHook(), m.HasLogHook())
			}
			if err := m.OnLog(&fakeLog{status: 204, body: 1234, d: 5 * time.Microsecond}); err != nil {
				t.Errorf("OnLog: %v", err)
			}
			if err := m.OnLog(&fakeLog{status: 200, body: 1, d: time.Microsecond}); err == nil {
				t.Error("OnLog of another exchange passed: log_get read the wrong value")
			}
		})
	}
}
