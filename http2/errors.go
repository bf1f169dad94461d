//go:build linux

package http2

import "errors"

// ErrCode is an HTTP/2 error code, carried by RST_STREAM and GOAWAY
// (RFC 9113 §7).
type ErrCode uint32

// The error codes of RFC 9113 §7.
const (
	ErrCodeNo                 ErrCode = 0x0
	ErrCodeProtocol           ErrCode = 0x1
	ErrCodeInternal           ErrCode = 0x2
	ErrCodeFlowControl        ErrCode = 0x3
	ErrCodeSettingsTimeout    ErrCode = 0x4
	ErrCodeStreamClosed       ErrCode = 0x5
	ErrCodeFrameSize          ErrCode = 0x6
	ErrCodeRefusedStream      ErrCode = 0x7
	ErrCodeCancel             ErrCode = 0x8
	ErrCodeCompression        ErrCode = 0x9
	ErrCodeConnect            ErrCode = 0xa
	ErrCodeEnhanceYourCalm    ErrCode = 0xb
	ErrCodeInadequateSecurity ErrCode = 0xc
	ErrCodeHTTP11Required     ErrCode = 0xd
)

var errCodeNames = [...]string{
	"NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR", "FLOW_CONTROL_ERROR",
	"SETTINGS_TIMEOUT", "STREAM_CLOSED", "FRAME_SIZE_ERROR", "REFUSED_STREAM",
	"CANCEL", "COMPRESSION_ERROR", "CONNECT_ERROR", "ENHANCE_YOUR_CALM",
	"INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED",
}

// String returns the code's name as RFC 9113 spells it, or "UNKNOWN" for
// a code it does not define (which a peer may send: RFC 9113 §7 says to
// treat it as INTERNAL_ERROR, but it is only ever logged here).
func (e ErrCode) String() string {
	if int(e) < len(errCodeNames) {
		return errCodeNames[e]
	}
	return "UNKNOWN"
}

// ConnError is a connection error (RFC 9113 §5.4.1): the connection
// queued a GOAWAY with Code, reported every open stream reset, and
// accepts no more input. The caller sends what Output still holds and
// closes the socket. Reason says which rule was broken; it is not sent
// to the peer.
type ConnError struct {
	Code   ErrCode
	Reason string
}

func (e *ConnError) Error() string {
	return "http2: connection error " + e.Code.String() + ": " + e.Reason
}

// Errors returned by the methods a Handler uses to answer a stream.
var (
	// ErrStreamClosed is returned by Respond, WriteData and WriteTrailers
	// for a stream that no longer exists: its response already ended, or
	// it was reset (the Handler was told by OnReset), or the connection
	// failed or closed.
	ErrStreamClosed = errors.New("http2: stream closed")

	// ErrHeadersSent is returned by Respond for a stream whose response
	// head was already sent.
	ErrHeadersSent = errors.New("http2: response head already sent")

	// ErrNoHeaders is returned by WriteData and WriteTrailers before
	// Respond sent the stream's response head.
	ErrNoHeaders = errors.New("http2: response head not sent")

	// ErrStreamEnded is returned by WriteData and WriteTrailers once the
	// response's END_STREAM was sent (or is the only thing left to send).
	ErrStreamEnded = errors.New("http2: response already ended")

	// ErrBadStatus is returned by Respond for a status outside 100-999,
	// and for 101, which HTTP/2 cannot express (RFC 9113 §8.6).
	ErrBadStatus = errors.New("http2: bad response status")
)
