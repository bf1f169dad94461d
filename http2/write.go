//go:build linux

package http2

import (
	"strconv"
	"sync"
	"unsafe"

	"golang.org/x/net/http2/hpack"
)

// The response side: what a Handler sends on a stream, and the flow
// control both ways (RFC 9113 §5.2, §6.9). DATA is framed straight into
// the output, as much as the stream's and the connection's send windows
// and Config.MaxOutput allow; what does not fit stays with the Handler,
// which hears OnWritable when there is room again (backpressure, never a
// per-stream queue). Request body credit comes back through Consume and
// goes out as WINDOW_UPDATE once half a window has been consumed, so a
// steady upload costs one small frame per half window.

// Respond sends stream id's response head. lines holds the header fields
// in the HTTP/1.1 form the server already builds (http.Response.Header,
// plus the Date, Server and Content-Length lines): "Name: value\r\n" each.
// Names are lowercased and connection-specific fields (Connection,
// Keep-Alive, Proxy-Connection, Transfer-Encoding, Upgrade) dropped, as
// RFC 9113 §8.2.2 requires. A 1xx status (100-continue) may be sent
// before the final one and cannot end the stream. endStream ends the
// response with the head (HEAD, 204, 304, an empty body).
func (c *Conn) Respond(id uint32, status int, lines []byte, endStream bool) error {
	s := c.answering(id)
	if s == nil || c.state == stateClosed {
		return ErrStreamClosed
	}
	if s.headSent {
		return ErrHeadersSent
	}
	if status < 100 || status > 999 || status == 101 || status < 200 && endStream {
		return ErrBadStatus
	}
	c.writeHead(s, status, lines, endStream)
	if status >= 200 {
		s.headSent = true
	}
	if endStream {
		c.endResponse(s)
	}
	return nil
}

// WriteData sends response body bytes on stream id and reports how many
// it took: as many as the windows and the output's room allow. Taking
// fewer than len(p) means "full": the Handler keeps the rest and calls
// again after OnWritable. endStream ends the response after the last
// byte of p, once all of p is taken (an empty p with endStream sends an
// empty final DATA frame, which needs no window). p is copied.
func (c *Conn) WriteData(id uint32, p []byte, endStream bool) (int, error) {
	s := c.answering(id)
	if s == nil || c.state == stateClosed {
		return 0, ErrStreamClosed
	}
	if !s.headSent {
		return 0, ErrNoHeaders
	}
	n := 0
	for n < len(p) {
		left := len(p) - n
		room := c.lim.maxOutput - c.Pending()
		if room < min(left, minDataFrame) {
			break
		}
		chunk := int(min(int64(left), s.sendWindow, c.sendWindow, int64(c.peerMaxFrame), int64(room)))
		if chunk <= 0 {
			break
		}
		var flags uint8
		if endStream && chunk == left {
			flags = flagEndStream
		}
		c.grab()
		c.out = appendFrameHeader(c.out, chunk, frameData, flags, id)
		c.out = append(c.out, p[n:n+chunk]...)
		n += chunk
		s.sendWindow -= int64(chunk)
		c.sendWindow -= int64(chunk)
	}
	if n < len(p) {
		c.block(s)
		return n, nil
	}
	if endStream {
		if len(p) == 0 {
			c.grab()
			c.out = appendFrameHeader(c.out, 0, frameData, flagEndStream, id)
		}
		c.endResponse(s)
	}
	return n, nil
}

// minDataFrame is the least output room WriteData fills with a DATA
// frame shorter than what it was offered: a client that reads slowly
// otherwise gets a stream of tiny frames, each with a 9-byte header.
const minDataFrame = 4096

// WriteTrailers ends stream id's response with trailer fields, in the
// form Respond takes. Send it after the last WriteData took everything
// it was offered (trailers are not flow-controlled and would overtake
// body bytes the Handler still holds).
func (c *Conn) WriteTrailers(id uint32, lines []byte) error {
	s := c.answering(id)
	if s == nil || c.state == stateClosed {
		return ErrStreamClosed
	}
	if !s.headSent {
		return ErrNoHeaders
	}
	c.encw.b = c.encw.b[:0]
	c.encodeLines(lines)
	c.appendHeaderFrames(id, c.encw.b, true)
	c.endResponse(s)
	return nil
}

// Reset ends stream id with RST_STREAM(code) (an upstream failed
// mid-response: INTERNAL_ERROR; the Handler refuses the request body:
// NO_ERROR after the response). No event follows for the stream.
func (c *Conn) Reset(id uint32, code ErrCode) {
	s := c.answering(id)
	if s == nil || c.state == stateClosed {
		return
	}
	c.queueRST(id, code)
	c.closeStream(s)
}

// Consume returns n bytes of stream id's request body, given by OnData,
// to the flow-control windows: the Handler has sent them on (upstream)
// or no longer needs them. A closed stream's bytes went back when it
// closed; more than the Handler was given is ignored.
func (c *Conn) Consume(id uint32, n int) {
	s := c.lookup(id)
	if s == nil || n <= 0 {
		return
	}
	k := min(int64(n), s.outstanding)
	s.outstanding -= k
	c.creditConn(k)
	c.creditStream(s, k)
}

// creditConn returns n bytes to the connection's receive window, with a
// WINDOW_UPDATE once half the window is owed.
func (c *Conn) creditConn(n int64) {
	if c.state == stateClosed {
		return
	}
	c.recvUnacked += n
	if c.recvUnacked >= int64(c.lim.connWindow)/2 {
		c.grab()
		c.out = appendWindowUpdate(c.out, 0, uint32(c.recvUnacked))
		c.recvWindow += c.recvUnacked
		c.recvUnacked = 0
		c.countControl()
	}
}

// creditStream is creditConn for a stream still receiving its body.
func (c *Conn) creditStream(s *stream, n int64) {
	if s.state != streamOpen || c.state == stateClosed {
		return
	}
	s.unacked += n
	if s.unacked >= int64(c.lim.streamWindow)/2 {
		c.grab()
		c.out = appendWindowUpdate(c.out, s.id, uint32(s.unacked))
		s.recvWindow += s.unacked
		s.unacked = 0
		c.countControl()
	}
}

// endResponse closes s once its END_STREAM is queued, or, when its
// request body is still coming, makes it half-closed (local): the rest of
// the body is read and thrown away (onData), and what the Handler held
// unconsumed goes back to the connection's window now. A body that
// cannot fit the stream's window (content-length says so) is refused at
// once with RST_STREAM(NO_ERROR) (RFC 9113 §8.1).
func (c *Conn) endResponse(s *stream) {
	if s.state != streamOpen {
		c.closeStream(s)
		return
	}
	if s.contentLength >= 0 && s.contentLength-s.received > s.recvWindow {
		c.queueRST(s.id, ErrCodeNo)
		c.closeStream(s)
		return
	}
	s.state = streamHalfClosedLocal
	c.localClosed++
	s.blocked = false
	if s.outstanding > 0 {
		c.creditConn(s.outstanding)
		s.outstanding = 0
	}
}

// block records that s is owed an OnWritable.
func (c *Conn) block(s *stream) {
	if !s.blocked {
		s.blocked = true
		c.blocked = append(c.blocked, s.id)
	}
}

// wakeBlocked gives OnWritable, oldest first, to the blocked streams
// that can send now. A stream that blocks again from inside OnWritable
// goes to the back of the line.
func (c *Conn) wakeBlocked() {
	n := len(c.blocked)
	if n == 0 || c.state == stateClosed {
		return
	}
	kept := 0
	for i := 0; i < n; i++ {
		id := c.blocked[i]
		s := c.lookup(id)
		if s == nil || !s.blocked {
			continue
		}
		if c.state == stateClosed || s.sendWindow <= 0 || c.sendWindow <= 0 ||
			c.lim.maxOutput-c.Pending() < minDataFrame {
			c.blocked[kept] = id
			kept++
			continue
		}
		s.blocked = false
		c.h.OnWritable(id)
	}
	kept += copy(c.blocked[kept:], c.blocked[n:])
	c.blocked = c.blocked[:kept]
}

// writeHead encodes and queues a response head.
func (c *Conn) writeHead(s *stream, status int, lines []byte, endStream bool) {
	c.encw.b = c.encw.b[:0]
	c.enc.WriteField(hpack.HeaderField{Name: ":status", Value: statusText[3*(status-100) : 3*(status-100)+3]})
	c.encodeLines(lines)
	c.appendHeaderFrames(s.id, c.encw.b, endStream)
}

// appendHeaderFrames queues a header block as HEADERS and, past the
// client's frame size, CONTINUATION frames.
func (c *Conn) appendHeaderFrames(id uint32, block []byte, endStream bool) {
	typ := frameHeaders
	var flags uint8
	c.grab()
	if endStream {
		flags = flagEndStream
	}
	for {
		chunk := min(len(block), c.peerMaxFrame)
		if chunk == len(block) {
			flags |= flagEndHeaders
		}
		c.out = appendFrameHeader(c.out, chunk, typ, flags, id)
		c.out = append(c.out, block[:chunk]...)
		block = block[chunk:]
		if len(block) == 0 {
			return
		}
		typ, flags = frameContinuation, 0
	}
}

// encodeLines encodes "Name: value\r\n" lines; a line without a colon is
// skipped.
func (c *Conn) encodeLines(lines []byte) {
	for len(lines) > 0 {
		end := 0
		for end < len(lines) && lines[end] != '\n' {
			end++
		}
		line := lines[:end]
		if end < len(lines) {
			lines = lines[end+1:]
		} else {
			lines = nil
		}
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		colon := 0
		for colon < len(line) && line[colon] != ':' {
			colon++
		}
		if colon == 0 || colon == len(line) {
			continue
		}
		name := c.lineName[:0]
		for _, b := range trimSpace(line[:colon]) {
			if b >= 'A' && b <= 'Z' {
				b |= 0x20
			}
			name = append(name, b)
		}
		c.lineName = name
		switch string(name) {
		case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade":
			continue
		}
		c.encodeField(name, trimSpace(line[colon+1:]))
	}
}

// trimSpace strips spaces and tabs at both ends.
func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// Interning bounds: field text the encoder may index is kept as strings
// per connection, at most maxInterned of each kind and maxInternLen bytes
// each; a full value set is cleared and refilled (Date changes each
// second, and must not pin the set).
const (
	maxInterned  = 64
	maxInternLen = 128
)

// encodeField encodes one response field with the connection's HPACK
// encoder.
//
// x/net's encoder takes strings and keeps those it indexes in its dynamic
// table, so a field it may index must be a string that lives as long as
// the table: the names of common fields are constants (commonNames), the
// rest, and values, are interned per connection (one allocation per
// distinct text, none once warm). A field that is not interned (a value
// unique to the response: content-length, etag, ...; or the intern set
// is full) is encoded never-indexed, which the encoder does not keep, so
// it is passed as a string over the caller's bytes without a copy.
func (c *Conn) encodeField(name, value []byte) {
	f := hpack.HeaderField{}
	n, ok := commonNames[string(name)]
	if !ok {
		n, ok = c.fieldNames[string(name)]
	}
	if !ok && len(c.fieldNames) < maxInterned && len(name) <= maxInternLen {
		n, ok = string(name), true
		c.fieldNames[n] = n
	}
	if !ok {
		n = unsafeString(name)
	}
	v, vok := "", false
	if ok && !uniqueValue(n) && len(value) <= maxInternLen {
		v, vok = c.fieldValues[string(value)]
		if !vok {
			if len(c.fieldValues) >= maxInterned {
				clear(c.fieldValues)
			}
			v, vok = string(value), true
			c.fieldValues[v] = v
		}
	}
	if !vok {
		v = unsafeString(value)
	}
	f.Name, f.Value, f.Sensitive = n, v, !vok
	c.enc.WriteField(f)
}

// unsafeString views b as a string without copying. Only for a field the
// encoder does not keep (never-indexed): the string must not outlive b.
func unsafeString(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// uniqueValue reports fields whose values rarely repeat on a connection:
// indexing them would only churn the dynamic table and the intern set.
func uniqueValue(name string) bool {
	switch name {
	case "content-length", "etag", "last-modified", "content-range", "set-cookie", "location", "age":
		return true
	}
	return false
}

// commonNames maps the names of common response fields to constant
// strings, so that encoding them never allocates.
var commonNames = func() map[string]string {
	m := make(map[string]string)
	for _, n := range []string{
		"accept-ranges", "access-control-allow-origin", "age", "cache-control",
		"content-disposition", "content-encoding", "content-language", "content-length",
		"content-location", "content-range", "content-security-policy", "content-type",
		"date", "etag", "expires", "last-modified", "link", "location", "refresh",
		"retry-after", "server", "set-cookie", "strict-transport-security", "vary", "via",
		"www-authenticate", "x-content-type-options", "x-frame-options", "x-request-id",
		"alt-svc", "allow", "referrer-policy", "permissions-policy",
	} {
		m[n] = n
	}
	return m
}()

// statusText holds "100" through "999", three bytes each, so that a
// status needs no formatting.
var statusText = func() string {
	b := make([]byte, 0, 3*900)
	for i := 100; i < 1000; i++ {
		b = strconv.AppendInt(b, int64(i), 10)
	}
	return string(b)
}()

// encBuf is the io.Writer the HPACK encoder writes a header block to.
type encBuf struct{ b []byte }

func (w *encBuf) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// outBuf holds an output buffer while it is in outPool.
type outBuf struct{ b []byte }

// outPool lends connections their output buffers: taken when a frame is
// queued on an empty output (grab), given back once Output drained it
// (release). Buffers are shared by every connection of the process; a
// worker's are reused on its loop thread, so steady traffic allocates
// none.
var outPool sync.Pool

// grab gives an empty output a pooled buffer to append frames to.
func (c *Conn) grab() {
	if c.out != nil {
		return
	}
	if ob, _ := outPool.Get().(*outBuf); ob != nil {
		c.out, c.ob, ob.b = ob.b[:0], ob, nil
	}
}

// release gives the drained output's buffer back to outPool.
func (c *Conn) release() {
	c.outOff, c.control = 0, 0
	if cap(c.out) == 0 {
		return
	}
	ob := c.ob
	if ob == nil {
		ob = new(outBuf)
	}
	ob.b, c.ob, c.out = c.out[:0], nil, nil
	outPool.Put(ob)
}
