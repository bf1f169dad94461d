package modules

import (
	"context"
	"errors"
	"unsafe"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/nproxy/nproxy/modules/hook"
)

// hostModule is the import module name of nproxy's host functions.
const hostModule = "nproxy"

// The numbers of ABI version 1 (doc.go): request_get's fields, the header
// kinds and header_at's parts.
const (
	fieldMethod = iota
	fieldPath
	fieldQuery
	fieldHost
	fieldClientAddr
)

const (
	kindRequest  = 0
	kindResponse = 1
	partName     = 0
	partValue    = 1
)

// The fields of log_get (ABI version 2).
const (
	logStatus    = 0
	logBodyBytes = 1
	logDuration  = 2 // nanoseconds
)

// The results of the host functions that fail: one per hook error, and
// codeAbsent for a header or field that is not there.
const (
	codeAbsent  = -1
	codeRefused = -2
	codeInvalid = -3
	codePhase   = -4
	codeTooMany = -5
	codeBounds  = -6 // a pointer and length outside the module's memory
)

// signature is a host function's WebAssembly type.
type signature struct{ params, results []api.ValueType }

const (
	i32 = api.ValueTypeI32
	i64 = api.ValueTypeI64
)

// hostFunc is one host function of the ABI.
type hostFunc struct {
	sig signature
	fn  func(w *wasmModule, mem api.Memory, stack []uint64)
}

// hostFuncs are the functions nproxy provides to a module, by name. Every
// pointer and length is an i32; every result an i32 but log_get's, an
// i64. A version-1 module imports some of the first thirteen; log_get
// came with version 2.
var hostFuncs = map[string]hostFunc{
	// args(buf, cap) -> len: the ARGS, each followed by a NUL.
	"args": {signature{[]api.ValueType{i32, i32}, []api.ValueType{i32}}, hostArgs},
	// request_get(field, buf, cap) -> len
	"request_get": {signature{[]api.ValueType{i32, i32, i32}, []api.ValueType{i32}}, hostRequestGet},
	// header_count(kind) -> n
	"header_count": {signature{[]api.ValueType{i32}, []api.ValueType{i32}}, hostHeaderCount},
	// header_at(kind, i, part, buf, cap) -> len
	"header_at": {signature{[]api.ValueType{i32, i32, i32, i32, i32}, []api.ValueType{i32}}, hostHeaderAt},
	// header_get(kind, name, name_len, buf, cap) -> len
	"header_get": {signature{[]api.ValueType{i32, i32, i32, i32, i32}, []api.ValueType{i32}}, hostHeaderGet},
	// header_set(kind, name, name_len, value, value_len) -> code
	"header_set": {signature{[]api.ValueType{i32, i32, i32, i32, i32}, []api.ValueType{i32}}, hostHeaderSet},
	// header_add(kind, name, name_len, value, value_len) -> code
	"header_add": {signature{[]api.ValueType{i32, i32, i32, i32, i32}, []api.ValueType{i32}}, hostHeaderAdd},
	// header_del(kind, name, name_len) -> code
	"header_del": {signature{[]api.ValueType{i32, i32, i32}, []api.ValueType{i32}}, hostHeaderDel},
	// set_path(p, len) -> code
	"set_path": {signature{[]api.ValueType{i32, i32}, []api.ValueType{i32}}, hostSetPath},
	// respond(status, body, len) -> code
	"respond": {signature{[]api.ValueType{i32, i32, i32}, []api.ValueType{i32}}, hostRespond},
	// status() -> status
	"status": {signature{nil, []api.ValueType{i32}}, hostStatus},
	// set_status(code) -> code
	"set_status": {signature{[]api.ValueType{i32}, []api.ValueType{i32}}, hostSetStatus},
	// set_error(msg, len): the message of the failure the export returns.
	"set_error": {signature{[]api.ValueType{i32, i32}, nil}, hostSetError},
	// log_get(field) -> value: the log phase's status, body bytes or
	// duration in nanoseconds (version 2).
	"log_get": {signature{[]api.ValueType{i32}, []api.ValueType{i64}}, hostLogGet},
}

// hostSignatures are the types of hostFuncs, for checkImports.
var hostSignatures = func() map[string]signature {
	m := make(map[string]signature, len(hostFuncs))
	for name, f := range hostFuncs {
		m[name] = f.sig
	}
	return m
}()

// instantiateHost adds the nproxy host module to rt.
func instantiateHost(ctx context.Context, rt wazero.Runtime) error {
	b := rt.NewHostModuleBuilder(hostModule)
	for name, f := range hostFuncs {
		fn := f.fn
		b = b.NewFunctionBuilder().
			WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, mod api.Module, stack []uint64) {
				w, _ := ctx.Value(ctxKey{}).(*wasmModule)
				if w == nil {
					// A call nproxy did not make (cannot happen: every
					// call carries its module).
					result(stack, codePhase)
					return
				}
				fn(w, mod.Memory(), stack)
			}), f.sig.params, f.sig.results).
			Export(name)
	}
	_, err := b.Instantiate(ctx)
	return err
}

// Every parameter is an i32: the upper half of its stack slot is not
// defined, so each is read through uint32.

// result stores an i32 result.
func result(stack []uint64, v int32) { stack[0] = uint64(uint32(v)) }

// errCode returns the result code of a hook error.
func errCode(err error) int32 {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, hook.ErrRefused):
		return codeRefused
	case errors.Is(err, hook.ErrPhase):
		return codePhase
	case errors.Is(err, hook.ErrTooMany):
		return codeTooMany
	}
	return codeInvalid
}

// view returns the module's memory at [ptr, ptr+n) as a string, without
// copying: the callee must not keep it past the host function.
func view(mem api.Memory, ptr, n uint64) (string, bool) {
	b, ok := mem.Read(uint32(ptr), uint32(n))
	if !ok {
		return "", false
	}
	if len(b) == 0 {
		return "", true
	}
	return unsafe.String(&b[0], len(b)), true
}

// give writes v to the module's memory at buf when it fits in capacity,
// and returns its full length either way (the guest retries with room).
func give(mem api.Memory, stack []uint64, v []byte, buf, capacity uint64) {
	if len(v) <= int(uint32(capacity)) && len(v) > 0 {
		if !mem.Write(uint32(buf), v) {
			result(stack, codeBounds)
			return
		}
	}
	result(stack, int32(len(v)))
}

// request returns the request of the call in progress: the request
// phase's, or the response or log phase's (read only).
func (w *wasmModule) request() hook.Request {
	switch {
	case w.req != nil:
		return w.req
	case w.resp != nil:
		return w.resp.Request()
	case w.logged != nil:
		return w.logged.Request()
	}
	return nil
}

// headers returns the headers of kind in the call in progress.
func (w *wasmModule) headers(kind uint64) hook.Headers {
	switch uint32(kind) {
	case kindRequest:
		if r := w.request(); r != nil {
			return r.Headers()
		}
	case kindResponse:
		if w.resp != nil {
			return w.resp.Headers()
		}
		return w.answered // nil until the request hook responds
	}
	return nil
}

func hostArgs(w *wasmModule, mem api.Memory, stack []uint64) {
	give(mem, stack, w.args, stack[0], stack[1])
}

func hostRequestGet(w *wasmModule, mem api.Memory, stack []uint64) {
	r := w.request()
	if r == nil {
		result(stack, codePhase)
		return
	}
	var v []byte
	switch uint32(stack[0]) {
	case fieldMethod:
		v = r.Method()
	case fieldPath:
		v = r.Path()
	case fieldQuery:
		v = r.Query()
	case fieldHost:
		v = r.Host()
	case fieldClientAddr:
		v = r.ClientAddr()
	default:
		result(stack, codeInvalid)
		return
	}
	give(mem, stack, v, stack[1], stack[2])
}

func hostHeaderCount(w *wasmModule, _ api.Memory, stack []uint64) {
	h := w.headers(stack[0])
	if h == nil {
		result(stack, codePhase)
		return
	}
	result(stack, int32(h.Len()))
}

func hostHeaderAt(w *wasmModule, mem api.Memory, stack []uint64) {
	h := w.headers(stack[0])
	if h == nil {
		result(stack, codePhase)
		return
	}
	i := int(uint32(stack[1]))
	if i >= h.Len() {
		result(stack, codeAbsent)
		return
	}
	name, value := h.At(i)
	v := name
	if uint32(stack[2]) == partValue {
		v = value
	}
	give(mem, stack, v, stack[3], stack[4])
}

func hostHeaderGet(w *wasmModule, mem api.Memory, stack []uint64) {
	h := w.headers(stack[0])
	if h == nil {
		result(stack, codePhase)
		return
	}
	name, ok := view(mem, stack[1], stack[2])
	if !ok {
		result(stack, codeBounds)
		return
	}
	v, found := h.Get(name)
	if !found {
		result(stack, codeAbsent)
		return
	}
	give(mem, stack, v, stack[3], stack[4])
}

// headerChange runs change on the name and value of a header_set or
// header_add call.
func headerChange(w *wasmModule, mem api.Memory, stack []uint64, change func(h hook.Headers, name, value string) error) {
	h := w.headers(stack[0])
	if h == nil {
		result(stack, codePhase)
		return
	}
	name, ok1 := view(mem, stack[1], stack[2])
	value, ok2 := view(mem, stack[3], stack[4])
	if !ok1 || !ok2 {
		result(stack, codeBounds)
		return
	}
	result(stack, errCode(change(h, name, value)))
}

func hostHeaderSet(w *wasmModule, mem api.Memory, stack []uint64) {
	headerChange(w, mem, stack, hook.Headers.Set)
}

func hostHeaderAdd(w *wasmModule, mem api.Memory, stack []uint64) {
	headerChange(w, mem, stack, hook.Headers.Add)
}

func hostHeaderDel(w *wasmModule, mem api.Memory, stack []uint64) {
	h := w.headers(stack[0])
	if h == nil {
		result(stack, codePhase)
		return
	}
	name, ok := view(mem, stack[1], stack[2])
	if !ok {
		result(stack, codeBounds)
		return
	}
	result(stack, errCode(h.Del(name)))
}

func hostSetPath(w *wasmModule, mem api.Memory, stack []uint64) {
	r := w.request()
	if r == nil {
		result(stack, codePhase)
		return
	}
	p, ok := view(mem, stack[0], stack[1])
	if !ok {
		result(stack, codeBounds)
		return
	}
	result(stack, errCode(r.SetPath(p)))
}

func hostRespond(w *wasmModule, mem api.Memory, stack []uint64) {
	if w.req == nil {
		result(stack, codePhase)
		return
	}
	body, ok := mem.Read(uint32(stack[1]), uint32(stack[2]))
	if !ok {
		result(stack, codeBounds)
		return
	}
	h, err := w.req.Respond(int(uint32(stack[0])), body)
	if err == nil {
		w.answered = h
	}
	result(stack, errCode(err))
}

func hostStatus(w *wasmModule, _ api.Memory, stack []uint64) {
	switch {
	case w.resp != nil:
		result(stack, int32(w.resp.Status()))
	case w.logged != nil:
		result(stack, int32(w.logged.Status()))
	default:
		result(stack, codePhase)
	}
}

func hostSetStatus(w *wasmModule, _ api.Memory, stack []uint64) {
	if w.resp == nil {
		result(stack, codePhase)
		return
	}
	result(stack, errCode(w.resp.SetStatus(int(uint32(stack[0])))))
}

func hostSetError(w *wasmModule, mem api.Memory, stack []uint64) {
	msg, ok := mem.Read(uint32(stack[0]), uint32(stack[1]))
	if !ok {
		return
	}
	w.errText = append(w.errText[:0], msg[:min(len(msg), maxErrorText)]...)
}

func hostLogGet(w *wasmModule, _ api.Memory, stack []uint64) {
	l := w.logged
	var v int64
	switch {
	case l == nil:
		v = codePhase
	case uint32(stack[0]) == logStatus:
		v = int64(l.Status())
	case uint32(stack[0]) == logBodyBytes:
		v = l.BodyBytes()
	case uint32(stack[0]) == logDuration:
		v = int64(l.Duration())
	default:
		v = codeInvalid
	}
	stack[0] = uint64(v)
}
