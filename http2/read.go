//go:build linux

package http2

import "encoding/binary"

// Frames received, one function per type (RFC 9113 §6). Each checks what
// §6 requires of the frame and answers a violation with the connection
// or stream error named there; what it reports to the Handler it reports
// last, and re-reads the stream table afterwards, since the Handler may
// have closed streams.

// processFrame handles one whole frame; payload is its payload.
func (c *Conn) processFrame(fh frameHeader, payload []byte) {
	if c.hb.open && (fh.typ != frameContinuation || fh.streamID != c.hb.id) {
		c.connError(ErrCodeProtocol, "frame inside a header block")
		return
	}
	if c.state == stateSettings {
		if fh.typ != frameSettings || fh.flags&flagAck != 0 {
			c.connError(ErrCodeProtocol, "first frame is not SETTINGS")
			return
		}
		c.state = stateOpen
		if c.goAwaySent {
			c.state = stateDraining
		}
	}
	switch fh.typ {
	case frameData:
		c.onData(fh, payload)
	case frameHeaders:
		c.onHeaders(fh, payload)
	case framePriority:
		c.onPriority(fh, payload)
	case frameRSTStream:
		c.onRSTStream(fh, payload)
	case frameSettings:
		c.onSettings(fh, payload)
	case framePushPromise:
		c.connError(ErrCodeProtocol, "PUSH_PROMISE from a client")
	case framePing:
		c.onPing(fh, payload)
	case frameGoAway:
		c.onGoAway(fh, payload)
	case frameWindowUpdate:
		c.onWindowUpdate(fh, payload)
	case frameContinuation:
		c.onContinuation(fh, payload)
	default:
		// Unknown types are ignored (§4.1, §5.5).
	}
}

// unpad strips the padding of a DATA or HEADERS frame (§6.1, §6.2).
func unpad(fh frameHeader, payload []byte) ([]byte, bool) {
	if fh.flags&flagPadded == 0 {
		return payload, true
	}
	if len(payload) < 1 {
		return nil, false
	}
	pad := int(payload[0])
	if pad >= len(payload) {
		return nil, false
	}
	return payload[1 : len(payload)-pad], true
}

// idle reports whether id names a stream the client has not opened yet.
func (c *Conn) idle(id uint32) bool { return id > c.maxClientID }

// onData handles DATA (§6.1): flow control first, since every byte of
// the frame, padding included, counts against both windows whatever
// becomes of the stream.
func (c *Conn) onData(fh frameHeader, payload []byte) {
	id := fh.streamID
	if id == 0 {
		c.connError(ErrCodeProtocol, "DATA on stream 0")
		return
	}
	data, ok := unpad(fh, payload)
	if !ok {
		c.connError(ErrCodeProtocol, "DATA padding exceeds the payload")
		return
	}
	flowLen := int64(fh.length)
	if flowLen > c.recvWindow {
		c.connError(ErrCodeFlowControl, "DATA beyond the connection window")
		return
	}
	c.recvWindow -= flowLen
	s := c.lookup(id)
	if s == nil {
		if c.idle(id) {
			c.connError(ErrCodeProtocol, "DATA on an idle stream")
			return
		}
		c.creditConn(flowLen)
		if !c.resetByUs(id) {
			c.streamError(nil, id, ErrCodeStreamClosed)
		}
		return
	}
	if s.state == streamHalfClosedRemote {
		c.creditConn(flowLen)
		c.streamError(s, id, ErrCodeStreamClosed)
		return
	}
	if flowLen > s.recvWindow {
		c.creditConn(flowLen)
		c.streamError(s, id, ErrCodeFlowControl)
		return
	}
	s.recvWindow -= flowLen
	// Padding is consumed here and now; the data when the Handler says.
	if pad := flowLen - int64(len(data)); pad > 0 {
		c.creditConn(pad)
		c.creditStream(s, pad)
	}
	end := fh.flags&flagEndStream != 0
	s.received += int64(len(data))
	if s.contentLength >= 0 && (s.received > s.contentLength || end && s.received != s.contentLength) {
		c.creditConn(int64(len(data)))
		c.streamError(s, id, ErrCodeProtocol)
		return
	}
	if len(data) == 0 && !end {
		c.charge("empty DATA frames")
		return
	}
	if s.state == streamHalfClosedLocal {
		// The response ended first: the body is read and dropped, its
		// credit goes to the connection only (endResponse).
		c.creditConn(int64(len(data)))
		switch {
		case end:
			c.closeStream(s)
		case s.recvWindow == 0:
			c.queueRST(id, ErrCodeNo) // more than the window: stop sending
			c.closeStream(s)
		}
		return
	}
	s.outstanding += int64(len(data))
	if end {
		s.state = streamHalfClosedRemote
	}
	c.h.OnData(id, data, end)
}

// onPriority handles PRIORITY (§6.3): checked, then ignored, as §5.3.2
// allows.
func (c *Conn) onPriority(fh frameHeader, payload []byte) {
	if fh.streamID == 0 {
		c.connError(ErrCodeProtocol, "PRIORITY on stream 0")
		return
	}
	if len(payload) != 5 {
		c.streamError(c.lookup(fh.streamID), fh.streamID, ErrCodeFrameSize)
		return
	}
	if binary.BigEndian.Uint32(payload)&(1<<31-1) == fh.streamID {
		c.streamError(c.lookup(fh.streamID), fh.streamID, ErrCodeProtocol)
	}
}

// onRSTStream handles RST_STREAM (§6.4). A reset of a stream whose
// response is still going is charged to the abuse bucket: that is the
// rapid reset attack's move.
func (c *Conn) onRSTStream(fh frameHeader, payload []byte) {
	id := fh.streamID
	if id == 0 {
		c.connError(ErrCodeProtocol, "RST_STREAM on stream 0")
		return
	}
	if len(payload) != 4 {
		c.connError(ErrCodeFrameSize, "RST_STREAM length is not 4")
		return
	}
	if c.idle(id) {
		c.connError(ErrCodeProtocol, "RST_STREAM on an idle stream")
		return
	}
	s := c.lookup(id)
	if s == nil {
		return
	}
	if s.state == streamHalfClosedLocal {
		c.closeStream(s) // the response was whole: a client stopping its upload
		return
	}
	code := ErrCode(binary.BigEndian.Uint32(payload))
	c.closeStream(s)
	c.h.OnReset(id, code)
	c.charge("streams reset by the client")
}

// onSettings handles SETTINGS (§6.5): applied at once, then acknowledged.
func (c *Conn) onSettings(fh frameHeader, payload []byte) {
	if fh.streamID != 0 {
		c.connError(ErrCodeProtocol, "SETTINGS on a stream")
		return
	}
	if fh.flags&flagAck != 0 {
		if len(payload) != 0 {
			c.connError(ErrCodeFrameSize, "SETTINGS ACK with a payload")
		}
		return
	}
	if len(payload)%6 != 0 {
		c.connError(ErrCodeFrameSize, "SETTINGS length is not a multiple of 6")
		return
	}
	for p := payload; len(p) > 0; p = p[6:] {
		id, v := binary.BigEndian.Uint16(p), binary.BigEndian.Uint32(p[2:])
		switch id {
		case settingHeaderTableSize:
			c.enc.SetMaxDynamicTableSizeLimit(min(v, 4096))
		case settingEnablePush:
			if v > 1 {
				c.connError(ErrCodeProtocol, "SETTINGS_ENABLE_PUSH is not 0 or 1")
				return
			}
		case settingInitialWindowSize:
			if v > maxWindow {
				c.connError(ErrCodeFlowControl, "SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1")
				return
			}
			delta := int64(v) - int64(c.peerInitialWindow)
			c.peerInitialWindow = int32(v)
			for _, s := range c.streams {
				s.sendWindow += delta
				if s.sendWindow > maxWindow {
					c.connError(ErrCodeFlowControl, "SETTINGS_INITIAL_WINDOW_SIZE overflows a stream window")
					return
				}
			}
		case settingMaxFrameSize:
			if v < minMaxFrameSize || v > maxMaxFrameSize {
				c.connError(ErrCodeProtocol, "SETTINGS_MAX_FRAME_SIZE out of range")
				return
			}
			c.peerMaxFrame = int(v)
		}
		// SETTINGS_MAX_CONCURRENT_STREAMS limits server pushes, which we
		// never make; SETTINGS_MAX_HEADER_LIST_SIZE is advisory; unknown
		// settings are ignored (§6.5.2).
	}
	c.grab()
	c.out = appendFrameHeader(c.out, 0, frameSettings, flagAck, 0)
	c.countControl()
}

// onPing handles PING (§6.7): answered with the same payload.
func (c *Conn) onPing(fh frameHeader, payload []byte) {
	if fh.streamID != 0 {
		c.connError(ErrCodeProtocol, "PING on a stream")
		return
	}
	if len(payload) != 8 {
		c.connError(ErrCodeFrameSize, "PING length is not 8")
		return
	}
	if fh.flags&flagAck != 0 {
		// Our only PING is Shutdown's: its ACK ends the first step.
		if !c.shutdownDue.IsZero() && string(payload) == string(shutdownPing[:]) {
			c.finishShutdown()
		}
		return
	}
	c.grab()
	c.out = append(appendFrameHeader(c.out, 8, framePing, flagAck, 0), payload...)
	c.countControl()
}

// onGoAway handles GOAWAY (§6.8): the client opens no more streams; the
// open ones finish, then the connection is Done. Its last-stream-id
// names server-initiated streams, of which there are none.
func (c *Conn) onGoAway(fh frameHeader, payload []byte) {
	if fh.streamID != 0 {
		c.connError(ErrCodeProtocol, "GOAWAY on a stream")
		return
	}
	if len(payload) < 8 {
		c.connError(ErrCodeFrameSize, "GOAWAY shorter than 8 bytes")
		return
	}
	c.goAwayRecv = true
	if !c.shutdownDue.IsZero() {
		c.finishShutdown() // the client opens no more streams: no need to wait
	}
	if c.state == stateOpen {
		c.state = stateDraining
	}
}

// onWindowUpdate handles WINDOW_UPDATE (§6.9). Streams it unblocks get
// OnWritable when Input finishes the batch (wakeBlocked).
func (c *Conn) onWindowUpdate(fh frameHeader, payload []byte) {
	if len(payload) != 4 {
		c.connError(ErrCodeFrameSize, "WINDOW_UPDATE length is not 4")
		return
	}
	incr := int64(binary.BigEndian.Uint32(payload) & (1<<31 - 1))
	id := fh.streamID
	if id == 0 {
		if incr == 0 {
			c.connError(ErrCodeProtocol, "WINDOW_UPDATE of 0 on the connection")
			return
		}
		c.sendWindow += incr
		if c.sendWindow > maxWindow {
			c.connError(ErrCodeFlowControl, "connection window above 2^31-1")
		}
		return
	}
	s := c.lookup(id)
	if s == nil {
		if c.idle(id) {
			c.connError(ErrCodeProtocol, "WINDOW_UPDATE on an idle stream")
		}
		return
	}
	if incr == 0 {
		c.streamError(s, id, ErrCodeProtocol)
		return
	}
	s.sendWindow += incr
	if s.sendWindow > maxWindow {
		c.streamError(s, id, ErrCodeFlowControl)
	}
}
