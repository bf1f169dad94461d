//go:build linux

package bench

import "errors"

var (
	// ErrBadResponse is counted when a server's response cannot be framed:
	// a malformed status line, header or chunk size.
	ErrBadResponse = errors.New("bench: malformed response")

	// ErrValidation is returned by Main's runs when any response had a
	// non-2xx status, a wrong body length, or a connection failed.
	ErrValidation = errors.New("bench: responses failed validation")

	// ErrServerStart is returned when a server under test does not start or
	// does not listen on its port in time.
	ErrServerStart = errors.New("bench: server did not start")

	// ErrUsage is returned for bad flags or flag combinations.
	ErrUsage = errors.New("bench: usage")

	// errHandshakeCut and errHandshakeTimeout say why a TLS handshake
	// failed when the engine did not: the server closed the connection
	// or made no progress for Load.Timeout. They end up in the message of
	// a run that gave up after too many failures in a row.
	errHandshakeCut     = errors.New("bench: the server closed the connection during the TLS handshake")
	errHandshakeTimeout = errors.New("bench: the TLS handshake made no progress within the timeout")
)
