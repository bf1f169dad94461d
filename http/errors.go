//go:build linux

package http

// Error is a request the server refuses. Status is the response code to send
// before closing the connection.
type Error struct {
	Status int
	Reason string
}

func (e *Error) Error() string { return "http: " + e.Reason }

// Parse errors. Each is returned by Parser.Parse or ChunkedDecoder.Next and
// carries the status the server answers with.
var (
	ErrBadRequest = &Error{400, "malformed request"}
)
