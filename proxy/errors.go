//go:build linux

package proxy

import "errors"

// Errors of the proxy.
var (
	// errBadResponse is a malformed upstream response head (502).
	errBadResponse = errors.New("proxy: malformed upstream response")

	// errHandshakeClosed is the connect failure of an https:// backend
	// that closed the connection in the middle of the TLS handshake
	// (502, the backend marked failed as for a refused connect).
	errHandshakeClosed = errors.New("proxy: backend closed the connection during the TLS handshake")
)
