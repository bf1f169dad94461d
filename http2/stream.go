//go:build linux

package http2

// stream is one client-initiated stream the connection still tracks.
//
// States (RFC 9113 §5.1, server side) and transitions:
//
//	(idle) --HEADERS--> open --END_STREAM received--> halfClosedRemote
//	open, halfClosedRemote --END_STREAM sent / RST_STREAM either way--> (closed)
//
// "closed" and "idle" are not states of a stream value: a closed stream
// is removed from the table (its id is at most Conn.maxClientID), an idle
// one was never added (its id is above it). The server's half-closed
// (local) state is never kept: when the response ends before the request
// body has, the rest of the body is refused with RST_STREAM(NO_ERROR), as
// RFC 9113 §8.1 allows, and the stream is closed at once.
//
// Invariant: a stream is in Conn.streams exactly while its state is open
// or halfClosedRemote; a value taken off the table goes to the free list
// and is zeroed by the next newStream, so no pointer to it is kept across
// a Handler call (the Handler may close it): code re-reads the table.
type stream struct {
	id    uint32
	state streamState

	// Send side: what the client lets us send (may go negative when the
	// client lowers SETTINGS_INITIAL_WINDOW_SIZE, §6.9.2).
	sendWindow int64
	headSent   bool // a final (non-1xx) response head went out
	blocked    bool // WriteData took less than offered: OnWritable is owed

	// Receive side. recvWindow is what the client may still send;
	// outstanding is what the Handler holds unconsumed (given back to the
	// connection's window if the stream closes first); unacked is what
	// it consumed and no WINDOW_UPDATE has returned yet.
	recvWindow  int64
	outstanding int64
	unacked     int64

	// contentLength is the request's content-length (-1 if none);
	// received counts DATA bytes to check it (§8.1.1).
	contentLength int64
	received      int64
}

// streamState is the state of a stream in the table.
type streamState uint8

const (
	streamOpen             streamState = iota + 1 // request and response both going
	streamHalfClosedRemote                        // request ended (END_STREAM received)
)

// lookup returns the stream with id, or nil when it is idle or closed.
func (c *Conn) lookup(id uint32) *stream {
	return c.streams[id]
}

// newStream adds stream id in state open.
func (c *Conn) newStream(id uint32) *stream {
	var s *stream
	if n := len(c.free); n > 0 {
		s, c.free = c.free[n-1], c.free[:n-1]
		*s = stream{}
	} else {
		s = new(stream)
	}
	s.id = id
	s.state = streamOpen
	s.sendWindow = int64(c.peerInitialWindow)
	s.recvWindow = int64(c.lim.streamWindow)
	s.contentLength = -1
	c.streams[id] = s
	return s
}

// closeStream removes s from the table: what the Handler still held
// unconsumed goes back to the connection's window (a stream's end must
// not shrink the window of the others).
func (c *Conn) closeStream(s *stream) {
	if s.outstanding > 0 {
		c.creditConn(s.outstanding)
	}
	delete(c.streams, s.id)
	s.state = 0
	if len(c.free) < c.lim.maxStreams {
		c.free = append(c.free, s)
	}
}

// rememberReset records that we reset stream id, so that frames the
// client sent before it saw the RST_STREAM are ignored (§5.1, "closed")
// instead of answered with more errors.
func (c *Conn) rememberReset(id uint32) {
	c.recentResets[c.recentResetNext%uint32(len(c.recentResets))] = id
	c.recentResetNext++
}

// resetByUs reports whether we reset stream id recently.
func (c *Conn) resetByUs(id uint32) bool {
	for _, r := range c.recentResets {
		if r == id && id != 0 {
			return true
		}
	}
	return false
}
