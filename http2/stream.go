//go:build linux

package http2

// stream is one client-initiated stream the connection still tracks.
//
// States (RFC 9113 §5.1, server side) and transitions:
//
//	(idle) --HEADERS--> open --END_STREAM received--> halfClosedRemote
//	open --END_STREAM sent--> halfClosedLocal
//	halfClosedRemote --END_STREAM sent--> (closed)
//	halfClosedLocal --END_STREAM received--> (closed)
//	any --RST_STREAM either way--> (closed)
//
// "closed" and "idle" are not states of a stream value: a closed stream
// is removed from the table (its id is at most Conn.maxClientID), an idle
// one was never added (its id is above it).
//
// halfClosedLocal is a response that ended before its request body did
// (a static file or an error answered at the head, RFC 9113 §8.1). The
// Handler is done with the stream and hears nothing more of it; the Conn
// keeps it to read the rest of the request as the protocol says (DATA
// still counts against the windows and content-length, trailers are
// checked, WINDOW_UPDATE and RST_STREAM apply), throwing the body away:
// its bytes go back to the connection's window at once, never to the
// stream's, so a client can send at most what the stream window already
// allows. When that cannot hold the rest of the body (content-length
// says so, or the window runs out), the stream is ended with
// RST_STREAM(NO_ERROR), which tells the client to stop sending without
// discarding the response (§8.1). Such a stream still counts against
// SETTINGS_MAX_CONCURRENT_STREAMS (§5.1.2), but not in Conn.Streams.
//
// Invariant: a stream is in Conn.streams exactly while its state is open,
// halfClosedRemote or halfClosedLocal; a value taken off the table goes
// to the free list and is zeroed by the next newStream, so no pointer to
// it is kept across a Handler call (the Handler may close it): code
// re-reads the table.
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
	streamHalfClosedLocal                         // response ended, request body still coming
)

// lookup returns the stream with id, or nil when it is idle or closed.
func (c *Conn) lookup(id uint32) *stream {
	return c.streams[id]
}

// answering returns the stream with id while the Handler answers it: nil
// when it is idle, closed or its response has ended (halfClosedLocal).
func (c *Conn) answering(id uint32) *stream {
	if s := c.streams[id]; s != nil && s.state != streamHalfClosedLocal {
		return s
	}
	return nil
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
	if s.state == streamHalfClosedLocal {
		c.localClosed--
	}
	s.state = 0
	if len(c.free) < c.lim.maxStreams {
		c.free = append(c.free, s)
	}
}

// closeReported closes s and, unless the Handler is done with it
// (halfClosedLocal), reports it reset with code.
func (c *Conn) closeReported(s *stream, code ErrCode) {
	id, told := s.id, s.state != streamHalfClosedLocal
	c.closeStream(s)
	if told {
		c.h.OnReset(id, code)
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
