//go:build linux

package reactor

import "errors"

// Errors returned by Conn and Loop methods.
var (
	// ErrClosed is returned for an operation on a closed connection.
	ErrClosed = errors.New("reactor: connection closed")
	// ErrBusy is returned by Send or SendFile while another is in flight.
	ErrBusy = errors.New("reactor: send already in flight")
	// ErrTooManyConns is returned when worker_connections are all in use.
	ErrTooManyConns = errors.New("reactor: worker_connections reached")
	// ErrUnknownBackend is returned by New for a name it does not know.
	ErrUnknownBackend = errors.New("reactor: unknown backend")
)
