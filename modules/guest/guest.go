//go:build wasip1

package guest

import (
	"errors"
	"strings"
	"time"
	"unsafe"

	"github.com/nproxy/nproxy/modules/hook"
)

// The host functions of the ABI, version 2 (package modules documents
// each).
// Pointers are offsets into this module's memory; lengths are bytes.

//go:wasmimport nproxy args
func hostArgs(buf unsafe.Pointer, cap uint32) int32

//go:wasmimport nproxy request_get
func hostRequestGet(field uint32, buf unsafe.Pointer, cap uint32) int32

//go:wasmimport nproxy header_count
func hostHeaderCount(kind uint32) int32

//go:wasmimport nproxy header_at
func hostHeaderAt(kind, i, part uint32, buf unsafe.Pointer, cap uint32) int32

//go:wasmimport nproxy header_get
func hostHeaderGet(kind uint32, name unsafe.Pointer, nameLen uint32, buf unsafe.Pointer, cap uint32) int32

//go:wasmimport nproxy header_set
func hostHeaderSet(kind uint32, name unsafe.Pointer, nameLen uint32, value unsafe.Pointer, valueLen uint32) int32

//go:wasmimport nproxy header_add
func hostHeaderAdd(kind uint32, name unsafe.Pointer, nameLen uint32, value unsafe.Pointer, valueLen uint32) int32

//go:wasmimport nproxy header_del
func hostHeaderDel(kind uint32, name unsafe.Pointer, nameLen uint32) int32

//go:wasmimport nproxy set_path
func hostSetPath(p unsafe.Pointer, n uint32) int32

//go:wasmimport nproxy respond
func hostRespond(status uint32, body unsafe.Pointer, n uint32) int32

//go:wasmimport nproxy status
func hostStatus() int32

//go:wasmimport nproxy set_status
func hostSetStatus(code uint32) int32

//go:wasmimport nproxy set_error
func hostSetError(msg unsafe.Pointer, n uint32)

//go:wasmimport nproxy log_get
func hostLogGet(field uint32) int64

// Request fields of request_get, header kinds and parts of header_at,
// hook masks of nproxy_init, log_get's fields, and the result codes of
// the host functions: the numbers of the ABI.
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
	hookRequest  = 1
	hookResponse = 2
	hookLog      = 4
	logStatus    = 0
	logBodyBytes = 1
	logDuration  = 2
)

const (
	codeAbsent   = -1
	codeRefused  = -2
	codeInvalid  = -3
	codePhase    = -4
	codeTooMany  = -5
	codeBounds   = -6
	initialArena = 4 << 10
)

var (
	ctor    hook.Constructor
	request hook.RequestHook
	resp    hook.ResponseHook
	logHook hook.LogHook

	// arena holds what the host functions return during one hook call;
	// it is emptied when the next call starts, so a view handed to the
	// module stays valid until its hook returns (a larger arena is a new
	// array: the old views keep theirs).
	arena = make([]byte, 0, initialArena)

	req  guestRequest
	rsp  guestResponse
	lg   guestLog
	reqH = guestHeaders{kind: kindRequest}
	rspH = guestHeaders{kind: kindResponse}
)

// Register makes newModule the module's constructor. Call it from an init
// function; nproxy calls newModule once per configured instance, with the
// ARGS of its module line.
func Register(newModule hook.Constructor) { ctor = newModule }

//go:wasmexport nproxy_api_version
func apiVersion() int32 { return hook.Version }

//go:wasmexport nproxy_init
func initModule() int32 {
	if ctor == nil {
		return fail(errors.New("no constructor: call guest.Register(New) from an init function"))
	}
	arena = arena[:0]
	b := fetch(func(p unsafe.Pointer, n uint32) int32 { return hostArgs(p, n) })
	var args []string
	for _, a := range strings.Split(string(b), "\x00") {
		if a != "" {
			args = append(args, a)
		}
	}
	m, err := ctor(args)
	if err != nil {
		return fail(err)
	}
	var mask int32
	if h, ok := m.(hook.RequestHook); ok {
		request, mask = h, mask|hookRequest
	}
	if h, ok := m.(hook.ResponseHook); ok {
		resp, mask = h, mask|hookResponse
	}
	if h, ok := m.(hook.LogHook); ok {
		logHook, mask = h, mask|hookLog
	}
	if mask == 0 {
		return fail(errors.New("the module implements none of OnRequest, OnResponse and OnLog"))
	}
	return mask
}

//go:wasmexport nproxy_on_request
func onRequest() int32 {
	arena = arena[:0]
	if err := request.OnRequest(&req); err != nil {
		return fail(err)
	}
	return 0
}

//go:wasmexport nproxy_on_response
func onResponse() int32 {
	arena = arena[:0]
	if err := resp.OnResponse(&rsp); err != nil {
		return fail(err)
	}
	return 0
}

//go:wasmexport nproxy_on_log
func onLog() int32 {
	arena = arena[:0]
	if err := logHook.OnLog(&lg); err != nil {
		return fail(err)
	}
	return 0
}

// fail hands err's text to the host and returns the error result.
func fail(err error) int32 {
	msg := err.Error()
	hostSetError(unsafe.Pointer(unsafe.StringData(msg)), uint32(len(msg)))
	return -1
}

// fetch appends what get writes to the arena and returns it: get is
// given the free room and returns the full length (or a negative code,
// for which fetch returns nil), so a result too large for the room is
// fetched again into a larger arena.
func fetch(get func(p unsafe.Pointer, n uint32) int32) []byte {
	for {
		room := arena[len(arena):cap(arena)]
		n := get(unsafe.Pointer(unsafe.SliceData(room)), uint32(len(room)))
		if n < 0 {
			return nil
		}
		if int(n) <= len(room) {
			start := len(arena)
			arena = arena[:start+int(n)]
			return arena[start:len(arena):len(arena)]
		}
		arena = make([]byte, 0, 2*cap(arena)+int(n))
	}
}

// codeError maps a host function's result to the hook error it stands for.
func codeError(code int32) error {
	switch {
	case code >= 0:
		return nil
	case code == codeRefused:
		return hook.ErrRefused
	case code == codeInvalid:
		return hook.ErrInvalid
	case code == codePhase:
		return hook.ErrPhase
	case code == codeTooMany:
		return hook.ErrTooMany
	}
	return errors.New("guest: host function failed")
}

func strPtr(s string) unsafe.Pointer { return unsafe.Pointer(unsafe.StringData(s)) }

// guestRequest is hook.Request over the host functions.
type guestRequest struct{}

var _ hook.Request = (*guestRequest)(nil)

func (*guestRequest) field(f uint32) []byte {
	return fetch(func(p unsafe.Pointer, n uint32) int32 { return hostRequestGet(f, p, n) })
}

func (r *guestRequest) Method() []byte      { return r.field(fieldMethod) }
func (r *guestRequest) Path() []byte        { return r.field(fieldPath) }
func (r *guestRequest) Query() []byte       { return r.field(fieldQuery) }
func (r *guestRequest) Host() []byte        { return r.field(fieldHost) }
func (r *guestRequest) ClientAddr() []byte  { return r.field(fieldClientAddr) }
func (*guestRequest) Headers() hook.Headers { return &reqH }

func (*guestRequest) SetPath(p string) error {
	return codeError(hostSetPath(strPtr(p), uint32(len(p))))
}

func (*guestRequest) Respond(status int, body []byte) (hook.Headers, error) {
	if status < 0 || status > 999 {
		return nil, hook.ErrInvalid
	}
	if err := codeError(hostRespond(uint32(status), unsafe.Pointer(unsafe.SliceData(body)), uint32(len(body)))); err != nil {
		return nil, err
	}
	return &rspH, nil
}

// guestResponse is hook.Response over the host functions.
type guestResponse struct{}

var _ hook.Response = (*guestResponse)(nil)

func (*guestResponse) Status() int { return int(hostStatus()) }

func (*guestResponse) SetStatus(code int) error {
	if code < 0 || code > 999 {
		return hook.ErrInvalid
	}
	return codeError(hostSetStatus(uint32(code)))
}

func (*guestResponse) Headers() hook.Headers { return &rspH }
func (*guestResponse) Request() hook.Request { return &req }

// guestLog is hook.Log over the host functions.
type guestLog struct{}

var _ hook.Log = (*guestLog)(nil)

func (*guestLog) Request() hook.Request   { return &req }
func (*guestLog) Status() int             { return int(hostLogGet(logStatus)) }
func (*guestLog) BodyBytes() int64        { return hostLogGet(logBodyBytes) }
func (*guestLog) Duration() time.Duration { return time.Duration(hostLogGet(logDuration)) }

// guestHeaders is hook.Headers over the host functions, for one kind.
type guestHeaders struct{ kind uint32 }

var _ hook.Headers = (*guestHeaders)(nil)

func (h *guestHeaders) Len() int {
	n := hostHeaderCount(h.kind)
	if n < 0 {
		return 0
	}
	return int(n)
}

func (h *guestHeaders) At(i int) (name, value []byte) {
	if i < 0 {
		return nil, nil
	}
	at := func(part uint32) []byte {
		return fetch(func(p unsafe.Pointer, n uint32) int32 { return hostHeaderAt(h.kind, uint32(i), part, p, n) })
	}
	return at(partName), at(partValue)
}

func (h *guestHeaders) Get(name string) ([]byte, bool) {
	absent := false
	v := fetch(func(p unsafe.Pointer, n uint32) int32 {
		r := hostHeaderGet(h.kind, strPtr(name), uint32(len(name)), p, n)
		absent = r < 0
		return r
	})
	return v, !absent
}

func (h *guestHeaders) Set(name, value string) error {
	return codeError(hostHeaderSet(h.kind, strPtr(name), uint32(len(name)), strPtr(value), uint32(len(value))))
}

func (h *guestHeaders) Add(name, value string) error {
	return codeError(hostHeaderAdd(h.kind, strPtr(name), uint32(len(name)), strPtr(value), uint32(len(value))))
}

func (h *guestHeaders) Del(name string) error {
	return codeError(hostHeaderDel(h.kind, strPtr(name), uint32(len(name))))
}
