//go:build linux

package http2

import (
	"time"

	"github.com/nproxy/nproxy/http"
)

// Config holds a connection's limits. The zero value of a field means its
// default; a Config may be shared by every connection of a listener and
// must not change once a Conn uses it.
type Config struct {
	// MaxConcurrentStreams is SETTINGS_MAX_CONCURRENT_STREAMS: the
	// streams a client may have open at once (default 128, as nginx's
	// http2_max_concurrent_streams). A stream past it is refused with
	// RST_STREAM(REFUSED_STREAM), which clients retry.
	MaxConcurrentStreams int

	// StreamWindow is SETTINGS_INITIAL_WINDOW_SIZE: the request body
	// bytes a client may send on one stream before the Handler consumes
	// some (default 256 KiB; at least 65535, the protocol's default, so
	// that no frame sent before our SETTINGS arrive can overrun it).
	StreamWindow int

	// ConnWindow is the connection's receive window, raised by a
	// WINDOW_UPDATE right after our SETTINGS (default 1 MiB): the
	// request body bytes of all streams together that the Handler may
	// hold unconsumed. It bounds what a connection's uploads buffer.
	ConnWindow int

	// MaxHeaderListSize is SETTINGS_MAX_HEADER_LIST_SIZE: the decoded
	// size of a request head (names, values and 32 bytes per field, RFC
	// 9113 §6.5.2) past which the stream is answered 431 (default 64 KiB,
	// http.MaxHeadLen, the HTTP/1.1 limit). A request with more than
	// http.MaxHeaders fields is answered 431 too.
	MaxHeaderListSize int

	// MaxHeaderBlock bounds the compressed bytes of one header block,
	// HEADERS plus its CONTINUATION frames (default 2 x MaxHeaderListSize).
	// Past it the connection fails with ENHANCE_YOUR_CALM: this, and the
	// bound on CONTINUATION frames per block, is the defense against
	// CONTINUATION floods (CVE-2024-27316).
	MaxHeaderBlock int

	// MaxOutput bounds the DATA bytes the connection holds for Output
	// (default 64 KiB, one pooled send buffer): WriteData takes no more
	// until Output has drained some, so a client that reads slowly backs
	// up into the Handler (OnWritable) instead of into memory.
	MaxOutput int

	// MaxQueuedControl bounds the control frames (SETTINGS and PING
	// acknowledgements, RST_STREAM, WINDOW_UPDATE) queued while the peer
	// does not read what we send (default 1000): a SETTINGS or PING flood
	// fails the connection with ENHANCE_YOUR_CALM instead of growing the
	// output without end.
	MaxQueuedControl int

	// ResetBurst and ResetRate bound abuse charged to a connection: a
	// stream the client resets before its response ended, a stream we
	// refuse or reset for a protocol error, an empty DATA or CONTINUATION
	// frame. Each costs one token from a bucket of ResetBurst tokens
	// (default 2 x MaxConcurrentStreams) refilled at ResetRate per second
	// (default MaxConcurrentStreams); an empty bucket fails the
	// connection with ENHANCE_YOUR_CALM. This is the rapid reset defense
	// (CVE-2023-44487): cancelled streams cost the attacker as much as
	// they cost us.
	ResetBurst int
	ResetRate  int

	// ShutdownPingTimeout bounds how long Shutdown waits for the ACK of
	// its PING before it sends the final GOAWAY anyway (default 1s): a
	// client that does not answer PINGs must not hold a drain, and one
	// round trip rarely takes longer.
	ShutdownPingTimeout time.Duration

	// Now returns the current time for the abuse bucket and
	// ShutdownPingTimeout (default time.Now). A worker passes its loop's
	// cached clock.
	Now func() time.Time
}

// Defaults.
const (
	defaultMaxConcurrentStreams = 128
	defaultStreamWindow         = 256 << 10
	defaultConnWindow           = 1 << 20
	defaultMaxOutput            = 64 << 10
	defaultMaxQueuedControl     = 1000
	defaultShutdownPingTimeout  = time.Second
	// maxContinuations bounds the CONTINUATION frames of one header
	// block. A client splits a block only at the frame size, so even
	// MaxHeaderBlock's worth needs a handful; more means a flood of tiny
	// or empty frames, each costing a parse.
	maxContinuations = 64
)

// limits is a Config with its defaults applied.
type limits struct {
	maxStreams   int
	streamWindow int32
	connWindow   int32
	maxListSize  int
	maxBlock     int
	maxOutput    int
	maxControl   int
	resetBurst   int
	resetRate    int
	shutdownPing time.Duration
	now          func() time.Time
}

func (cfg *Config) limits() limits {
	var c Config
	if cfg != nil {
		c = *cfg
	}
	l := limits{
		maxStreams:   orDefault(c.MaxConcurrentStreams, defaultMaxConcurrentStreams),
		streamWindow: int32(clamp(orDefault(c.StreamWindow, defaultStreamWindow), defaultWindow, maxWindow)),
		connWindow:   int32(clamp(orDefault(c.ConnWindow, defaultConnWindow), defaultWindow, maxWindow)),
		maxListSize:  orDefault(c.MaxHeaderListSize, http.MaxHeadLen),
		maxOutput:    orDefault(c.MaxOutput, defaultMaxOutput),
		maxControl:   orDefault(c.MaxQueuedControl, defaultMaxQueuedControl),
		now:          c.Now,
	}
	l.maxBlock = orDefault(c.MaxHeaderBlock, 2*l.maxListSize)
	l.resetBurst = orDefault(c.ResetBurst, 2*l.maxStreams)
	l.resetRate = orDefault(c.ResetRate, l.maxStreams)
	if l.now == nil {
		l.now = time.Now
	}
	l.shutdownPing = c.ShutdownPingTimeout
	if l.shutdownPing <= 0 {
		l.shutdownPing = defaultShutdownPingTimeout
	}
	return l
}

func orDefault(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

func clamp(v, lo, hi int) int {
	return min(max(v, lo), hi)
}
