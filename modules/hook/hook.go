// Package hook is the API an nproxy module is written against: the
// request and response a hook sees, and the hooks a module implements. A
// native module (a Go plugin) imports it directly; a WebAssembly module
// written in Go imports it through package guest, which implements it
// over the WebAssembly ABI (see package modules), so one source builds in
// both forms.
//
// A module is a constructor, New(args) (any, error), called once per
// `module = PATH [ARGS...]` line and per worker with the line's ARGS. The
// value it returns implements any of RequestHook, ResponseHook and
// LogHook:
//
//	type filter struct{ value string }
//
//	func (f *filter) OnResponse(r hook.Response) error {
//		return r.Headers().Set("X-Frame-Options", f.value)
//	}
//
// Every []byte a method returns is a view of the server's buffers, valid
// only until the hook returns: copy what must be kept. A hook runs on the
// worker's event loop thread, one request at a time, so a module needs no
// locks for its own state; for the same reason a hook must not block (no
// I/O, no sleeping): every other connection of the worker waits for it.
//
// The API is versioned by Version. A version adds to the one before it
// and keeps what that one had: nproxy loads a module built for any
// version from MinVersion to Version, and refuses one built for a newer
// version than its own, with a message naming both. Version 2 added the
// log hook (LogHook); a version-1 module runs unchanged.
package hook

import (
	"errors"
	"time"
)

// Version is the version of this API. A native module declares the one it
// was built with as `var NproxyAPI = hook.Version`; a WebAssembly module
// returns it from its nproxy_api_version export.
const Version = 2

// MinVersion is the oldest version nproxy still loads: version 1, which
// had the request and response hooks only.
const MinVersion = 1

// Errors returned by the methods of Request, Response and Headers, and
// matched by modules with errors.Is.
var (
	// ErrRefused is returned for a header nproxy frames or manages
	// itself (Content-Length, Transfer-Encoding, Connection, Upgrade,
	// TE, Trailer, Keep-Alive, Proxy-Connection; and Date and Server on
	// a response): a module can neither set nor remove it.
	ErrRefused = errors.New("hook: header managed by nproxy")

	// ErrInvalid is returned for a header name that is not an RFC 9110
	// token, a value holding CR, LF or NUL, a path that is not absolute
	// and normalized, or a status out of range.
	ErrInvalid = errors.New("hook: invalid value")

	// ErrPhase is returned for a change the current phase does not
	// allow: the request's headers or path in the response phase, or a
	// second Respond.
	ErrPhase = errors.New("hook: not allowed in this phase")

	// ErrTooMany is returned by Headers.Add when the request already has
	// the most header fields nproxy keeps for one request.
	ErrTooMany = errors.New("hook: too many header fields")
)

// Headers is a list of header fields: a request's (as they will be sent
// upstream) or a response's (as they will be sent to the client). Names
// compare case-insensitively; Add keeps the case given.
type Headers interface {
	// Len returns the number of fields.
	Len() int
	// At returns field i, 0 <= i < Len(), in order.
	At(i int) (name, value []byte)
	// Get returns the value of the first field named name.
	Get(name string) (value []byte, ok bool)
	// Set replaces every field named name with one field.
	Set(name, value string) error
	// Add appends a field.
	Add(name, value string) error
	// Del removes every field named name.
	Del(name string) error
}

// Request is a request in the request phase: before rewrite rules,
// routing and any handler (for a module of a [location], once the
// location is chosen).
type Request interface {
	// Method returns the request method, e.g. "GET".
	Method() []byte
	// Path returns the request path: percent-decoded, with dot segments
	// resolved and runs of '/' merged, always starting with '/'.
	Path() []byte
	// Query returns the query string as sent, without the '?'.
	Query() []byte
	// Host returns the Host header (or an absolute request-target's
	// authority); empty when there is none.
	Host() []byte
	// ClientAddr returns the client's IP address in text form.
	ClientAddr() []byte
	// Headers returns the request's header fields. Changes reach the
	// rest of the routing chain and the upstream (through the reverse
	// proxy).
	Headers() Headers
	// SetPath replaces the path the rest of the routing chain sees and
	// the reverse proxy forwards (percent-encoded again, with the
	// client's query). p must start with '/' and hold no "." or ".."
	// segment, no "//", no NUL, CR or LF.
	SetPath(p string) error
	// Respond answers the request here with status (200..599) and body
	// (copied; nil for none): the routing chain stops, and no later
	// module's request hook runs. It returns the answer's headers, to
	// add Content-Type and others to.
	Respond(status int, body []byte) (Headers, error)
}

// Response is a response in the response phase: after the routing chain
// answered, before the head is sent.
type Response interface {
	// Status returns the response status.
	Status() int
	// SetStatus replaces it (200..599, but not 204 or 304, which have no
	// body).
	SetStatus(code int) error
	// Headers returns the response's header fields, but for those nproxy
	// writes itself (Server, Date, Content-Length, Connection).
	Headers() Headers
	// Request returns the request answered, to read: its changes return
	// ErrPhase.
	Request() Request
}

// RequestHook is implemented by a module that sees requests.
type RequestHook interface {
	// OnRequest runs before the rest of the routing chain. An error
	// answers the request with 500 and is logged with the module's name.
	OnRequest(r Request) error
}

// ResponseHook is implemented by a module that sees responses.
type ResponseHook interface {
	// OnResponse runs for every response head before it is sent: static
	// files, generated answers, errors, a module's answer, and a proxied
	// response (the upstream's head, as the reverse proxy relays it,
	// before its body; on HTTP/1.1 and HTTP/2 alike). Modules run in the
	// reverse of the order they are configured in: each module wraps
	// the ones after it, so the first configured sees the request first
	// and the response last. An error replaces the response with 500
	// (for a proxied response, before any byte of it went out) and is
	// logged with the module's name.
	OnResponse(r Response) error
}

// Log is an exchange in the log phase: it is over, and the access log
// line is being written. It can only be read.
type Log interface {
	// Request returns the request, as the request hooks left it (the
	// headers sent upstream, the path routed); its changes return
	// ErrPhase.
	Request() Request
	// Status returns the status sent: the final one, after the
	// response hooks; 499 when the client went away before a response
	// started (nginx's code).
	Status() int
	// BodyBytes returns the number of response body bytes the server
	// sent (0 for HEAD, 204 and 304).
	BodyBytes() int64
	// Duration returns the time from the request's head to the end of
	// the exchange, on the worker's clock (read once per batch of
	// events, as the access log's): a response answered from memory
	// or a file, logged when it is queued, shows 0.
	Duration() time.Duration
}

// LogHook is implemented by a module that sees finished exchanges (API
// version 2).
type LogHook interface {
	// OnLog runs once per exchange, after the response: when a response
	// the server made itself is queued, when a proxied one's last byte
	// was handed to the client or the exchange was cut (status 499 or
	// the last status sent), on HTTP/1.1 and HTTP/2 alike, in the order
	// the modules are configured in. An error is logged with the
	// module's name; the response is gone already.
	OnLog(l Log) error
}

// Constructor is the type of a module's constructor: an exported `func New` in a
// native module, or the function given to guest.Register.
type Constructor = func(args []string) (any, error)
