//go:build linux

package reactor

import (
	"errors"
	"fmt"
)

// Errors returned by Conn and Loop methods.
var (
	// ErrClosed is returned for an operation on a closed connection.
	ErrClosed = errors.New("reactor: connection closed")
	// ErrBusy is returned by Send or SendFile while another is in flight.
	ErrBusy = errors.New("reactor: send already in flight")
	// ErrTooManyConns is returned when worker_connections are all in use.
	ErrTooManyConns = errors.New("reactor: worker_connections reached")
	// ErrShortSplice is reported by OnSendDone when the source of a
	// Splice reached its end before the bytes asked for.
	ErrShortSplice = errors.New("reactor: splice source ended early")
	// ErrSpliceSource is returned by Splice for a source it cannot take:
	// the destination itself, a conn of another loop, a listener, a conn
	// still connecting, or one already in a transfer.
	ErrSpliceSource = errors.New("reactor: bad splice source")
	// ErrUnknownBackend is returned by New for a name it does not know.
	ErrUnknownBackend = errors.New("reactor: unknown backend")
)

// errSpliceSourceClosed is reported by OnSendDone when the source of a
// Splice was closed before the transfer ended.
var errSpliceSourceClosed = fmt.Errorf("reactor: splice source: %w", ErrClosed)
