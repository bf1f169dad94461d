// Package examples holds example nproxy modules, one directory each. Every
// one builds in both forms from the same source:
//
//	go build -buildmode=plugin -o secheaders.so ./modules/examples/secheaders
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o secheaders.wasm ./modules/examples/secheaders
//
// and is loaded with a `module = PATH [ARGS...]` line (see the README,
// Modules):
//
//   - secheaders adds security headers (X-Content-Type-Options,
//     X-Frame-Options, Referrer-Policy, or NAME=VALUE arguments) to every
//     response: a response hook.
//   - authcheck answers 401 to a request without an API key header and
//     403 to one with a key it does not know: a request hook that
//     answers locally.
//   - requestid gives every request an X-Request-ID (kept when the client
//     sent one), sent upstream and echoed in the response: both hooks.
//
// The tests of package modules build them, load them in a worker and
// send them requests.
package examples
