package modules

import (
	"os"
	"path/filepath"
	"testing"
)

// A WebAssembly binary encoder for the few modules the tests write by
// hand: modules a Go compiler would never produce (a wrong API version,
// missing exports, foreign imports, a loop without any call) and that
// compile in microseconds.

// wasmImport is an imported function.
type wasmImport struct {
	module, name    string
	params, results []byte // value types, e.g. i32T
}

// wasmFunc is a defined function of type () -> i32.
type wasmFunc struct {
	export string
	body   []byte // instructions, without the final end
}

const (
	i32T = 0x7f

	opUnreachable = 0x00
	opLoop        = 0x03
	opBr          = 0x0c
	opEnd         = 0x0b
	opI32Const    = 0x41
	emptyBlock    = 0x40
)

// returns is the body of a function returning v.
func returns(v int32) []byte { return append([]byte{opI32Const}, sleb(int64(v))...) }

// loopForever is the body of a function that never returns.
var loopForever = []byte{opLoop, emptyBlock, opBr, 0, opEnd, opI32Const, 0}

// trap is the body of a function that traps.
var trap = []byte{opUnreachable}

// wasmBinary encodes a module with imports, funcs and, when memPages >=
// 0, a memory of that many pages exported as "memory".
func wasmBinary(imports []wasmImport, funcs []wasmFunc, memPages int) []byte {
	b := []byte{0, 'a', 's', 'm', 1, 0, 0, 0}
	// Types: 0 is () -> i32, then one per import.
	types := [][]byte{{0x60, 0, 1, i32T}}
	for _, im := range imports {
		t := append([]byte{0x60}, uleb(uint64(len(im.params)))...)
		t = append(t, im.params...)
		t = append(t, uleb(uint64(len(im.results)))...)
		types = append(types, append(t, im.results...))
	}
	b = section(b, 1, vec(types))
	if len(imports) > 0 {
		var ims [][]byte
		for i, im := range imports {
			e := append(name(im.module), name(im.name)...)
			ims = append(ims, append(append(e, 0), uleb(uint64(i+1))...))
		}
		b = section(b, 2, vec(ims))
	}
	var fnTypes, exports, bodies [][]byte
	for i, f := range funcs {
		fnTypes = append(fnTypes, []byte{0})
		if f.export != "" {
			exports = append(exports, append(append(name(f.export), 0), uleb(uint64(len(imports)+i))...))
		}
		code := append([]byte{0}, f.body...) // no locals
		code = append(code, opEnd)
		bodies = append(bodies, append(uleb(uint64(len(code))), code...))
	}
	b = section(b, 3, vec(fnTypes))
	if memPages >= 0 {
		b = section(b, 5, vec([][]byte{append([]byte{0}, uleb(uint64(memPages))...)}))
		exports = append(exports, append(name("memory"), 2, 0))
	}
	b = section(b, 7, vec(exports))
	return section(b, 10, vec(bodies))
}

func section(b []byte, id byte, content []byte) []byte {
	b = append(b, id)
	b = append(b, uleb(uint64(len(content)))...)
	return append(b, content...)
}

func vec(items [][]byte) []byte {
	b := uleb(uint64(len(items)))
	for _, it := range items {
		b = append(b, it...)
	}
	return b
}

func name(s string) []byte { return append(uleb(uint64(len(s))), s...) }

func uleb(v uint64) []byte {
	var b []byte
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			c |= 0x80
		}
		b = append(b, c)
		if v == 0 {
			return b
		}
	}
}

func sleb(v int64) []byte {
	var b []byte
	for {
		c := byte(v & 0x7f)
		v >>= 7
		done := v == 0 && c&0x40 == 0 || v == -1 && c&0x40 != 0
		if !done {
			c |= 0x80
		}
		b = append(b, c)
		if done {
			return b
		}
	}
}

// writeModule writes bin to a file NAME.wasm in a test directory.
func writeModule(t testing.TB, bin []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "m.wasm")
	if err := os.WriteFile(p, bin, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// abiFuncs are the exports of a module that passes: API version 1, a
// request hook, and the request hook's body.
func abiFuncs(onRequest []byte) []wasmFunc {
	return []wasmFunc{
		{"nproxy_api_version", returns(1)},
		{"nproxy_init", returns(hookRequest)},
		{"nproxy_on_request", onRequest},
	}
}

func writeFile(t testing.TB, p string, b []byte) {
	t.Helper()
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
