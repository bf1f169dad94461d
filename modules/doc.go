// Package modules loads nproxy's dynamic modules and runs their hooks:
// native modules (Go plugins, .so) and WebAssembly modules (.wasm, on
// wazero), both behind the API of package hook.
//
// # Configuration and lifecycle
//
// A module is named by `module = PATH [ARGS...]`, repeatable, global
// (every [server]), in a [server] or in a [location] (package config).
// Each line is checked when the configuration is loaded (Check): the
// master at start and on every reload, and `nproxy -t`, load the module
// as a worker will, so a missing file, a bad export, a version mismatch
// or ARGS the module refuses are reported as "FILE:LINE: module PATH:
// ..." before any worker runs. Each worker then opens its own instance
// per line (Open), used by its loop thread only: no lock is shared
// between workers, and a module's state needs none.
//
// The server (server/modules.go) runs the global and [server] modules
// first in a block's routing chain, before rewrite rules; a [location]'s
// own modules run first in its route, once the location is chosen. For a
// request, the request hooks run in the order configured until one
// answers; then the rest of the chain; then every response hook, in the
// reverse of the order configured, on the answer's head: the server's own
// answer at the end of the chain, or the upstream's head when the reverse
// proxy relays one (HTTP/1.1 and HTTP/2 alike), before any byte of it is
// sent; then, once the exchange is over, every log hook in the order
// configured. A hook's error, or a module's failure (trap, time limit,
// panic), answers 500 and is logged with the module's path (a log hook's
// is only logged: the response is gone); the worker goes on.
//
// # Hook API, version 2
//
// Package hook defines it: the request phase sees the method, the
// decoded path, the query, the Host, the client's address and the header
// fields, may add, set or remove request fields (sent upstream by the
// reverse proxy), replace the path, or answer with a status, header
// fields and a body; the response phase sees the status and the header
// fields of the answer and may change both; the log phase (version 2)
// sees the request as the request hooks left it, the status sent, the
// body bytes sent and the duration. hook.Version numbers the API: a
// version adds to the one before and takes nothing away, and nproxy
// loads a module built for any version from hook.MinVersion (1) to
// hook.Version; another is refused at load with the numbers in the
// message. A version-1 module (request and response hooks, built
// against the v1 ABI) runs unchanged: WebAssembly modules as they are;
// native ones once rebuilt, as every Go plugin must be for a new nproxy.
//
// # Native modules
//
// A native module is a Go package main built with
//
//	go build -buildmode=plugin -o NAME.so ./DIR
//
// that declares
//
//	var NproxyAPI = hook.Version
//	func New(args []string) (any, error)
//
// and whose New returns a value implementing any of hook.RequestHook,
// hook.ResponseHook and hook.LogHook. It is the fastest form (a hook is an
// interface call) and the least safe: it runs in the worker's address
// space, unbounded, and Go's plugin package brings limits of its own,
// which Open checks before loading so that the message says what to do:
//
//   - the nproxy binary must be built with cgo (plugin.Open is dlopen);
//     a CGO_ENABLED=0 build refuses .so modules (ErrNativeUnavailable)
//     and still runs .wasm ones;
//   - the module must be built by the same Go release, with the same
//     flags that change every package (-race, GOARCH, GOAMD64, ...) and
//     the same versions of the packages it shares with nproxy (at least
//     modules/hook): the build information in the file and the declared
//     NproxyAPI (read from its symbol table) are compared with nproxy's
//     own before plugin.Open runs (ErrVersion);
//   - a plugin is never unloaded, and Go returns the plugin it loaded
//     first for a path: a .so that changed since the process loaded it
//     is refused (ErrChanged), so a reload with a new build fails with a
//     message, and a restart loads it.
//
// A native module's panic is recovered (500); a loop or a crash of its
// own is the worker's.
//
// # WebAssembly modules
//
// A WebAssembly module runs on wazero (pure Go, no cgo) in a sandbox: no
// file system, no network, no environment, no arguments; its memory is
// its own linear memory, bounded by MemoryLimit; each hook call is
// bounded by CallTimeLimit through wazero's context cancellation (a
// deadline on the call's context, checked by the compiled code at loop
// headers; past it, a call whose thread was kept off its CPU by a loaded
// machine goes on until the thread has run 10 ms more, within ten times
// the limit, so that scheduling delays do not fail calls of a few
// microseconds). A trap, an exit (a Go module's panic or out-of-memory) or
// the time limit discards the instance and answers 500; the next request
// gets a new instance. Each worker compiles a module once (wazero's
// compiler, with a compilation cache, shared by every instance of the
// same file content) and keeps one instance per module line, reused by
// every request: nothing is instantiated per request. A reload starts new
// workers, hence new instances of the new file.
//
// What the module prints on standard output or error becomes warning
// lines in the error log ("module PATH: LINE"); the first telling line
// (a Go panic's message) goes into the error of a failed call.
//
// In Go, package guest implements the ABI over package hook, so the
// source of a native module builds as a WebAssembly one too:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o NAME.wasm ./DIR
//
// # WebAssembly ABI, version 2
//
// Any language that targets WebAssembly can implement it. A module
// imports WASI preview 1 (wasi_snapshot_preview1; its file and socket
// functions find nothing) and the functions below from the module
// "nproxy", and exports its memory and these functions (all i32):
//
//	nproxy_api_version() -> version      1 or 2
//	nproxy_init() -> hooks               a mask: 1 request, 2 response,
//	                                     4 log (version 2 only);
//	                                     negative: refuse, after set_error
//	nproxy_on_request() -> status        0, or negative after set_error (500)
//	nproxy_on_response() -> status       as nproxy_on_request
//	nproxy_on_log() -> status            as nproxy_on_request (only logged)
//
// Version 2 is version 1 with the log hook: nproxy_on_log, bit 4 of the
// mask and the host function log_get. A version-1 module imports none
// of them, and nproxy reads its mask without bit 4, so a module built
// for version 1 runs unchanged; one that returns 2 may use them.
//
// A reactor module's _initialize, when exported, runs first. The host
// functions take and return i32; a pointer is an offset in the module's
// memory. A getter is given a buffer (buf, cap) and returns the full
// length of the value, copying it only when it fits: the module calls
// again with room for a longer one.
//
//	args(buf, cap) -> len                 the ARGS, each followed by a NUL
//	request_get(field, buf, cap) -> len   field: 0 method, 1 path, 2 query,
//	                                      3 host, 4 client address
//	header_count(kind) -> n               kind: 0 request, 1 response
//	header_at(kind, i, part, buf, cap) -> len    part: 0 name, 1 value
//	header_get(kind, name, name_len, buf, cap) -> len
//	header_set(kind, name, name_len, value, value_len) -> code
//	header_add(kind, name, name_len, value, value_len) -> code
//	header_del(kind, name, name_len) -> code
//	set_path(p, len) -> code
//	respond(status, body, len) -> code    then kind 1 is the answer's fields
//	status() -> status                    response and log phases
//	set_status(status) -> code            response phase
//	set_error(msg, len)                   the message of the next failure
//	log_get(field) -> i64                 log phase (version 2): field 0
//	                                      status, 1 body bytes, 2 duration
//	                                      in nanoseconds
//
// In the log phase request_get and the kind-0 header getters read the
// request as the request hooks left it; every change returns -4.
//
// Codes: 0 success, -1 absent (no such field), -2 refused (a field nproxy
// manages, hook.ErrRefused), -3 invalid (hook.ErrInvalid), -4 wrong
// phase (hook.ErrPhase), -5 too many fields (hook.ErrTooMany), -6 a
// pointer outside the module's memory.
//
// # Why not the proxy-wasm ABI
//
// proxy-wasm (Envoy, Istio) was considered for the HTTP-filter subset and
// not taken, for three reasons. Its filters are written against a stream
// model nproxy does not have: a filter may pause a stream and resume it
// later (after an HTTP call-out, a timer or a queue message), and the
// SDKs' filters use call-outs, shared data, metrics and timers as often
// as header maps; with the subset only, most existing filters would load
// and then fail on their first unsupported call, which is worse than
// refusing them. Its per-request cost is several calls across the
// boundary (context create, headers, done, delete, plus the host
// allocating in the guest through proxy_on_memory_allocate for every
// value it returns), against one call per hook here. And the two forms
// of an nproxy module share one API: the Go source of a native module
// builds unchanged as a WebAssembly one, which a proxy-wasm module could
// not give native modules. The ABI above is small enough that a
// proxy-wasm shim could be added later as a second ABI, told apart by
// its proxy_abi_version_* export.
package modules
