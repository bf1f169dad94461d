//go:build linux

package http2

import (
	"encoding/binary"
	"sync"

	"github.com/nproxy/nproxy/http"
	"golang.org/x/net/http2/hpack"
)

// Header blocks received (RFC 9113 §4.3, §6.2, §6.10, §8). Every block is
// decoded, even one whose stream is refused, reset or ignored, because
// HPACK's dynamic table is shared by the connection: skipping a block
// would corrupt every later one. Fragments are decoded as they arrive
// (no copy of the block), each field is checked as it is emitted, and
// the stream is told at END_HEADERS.

// blockKind says what a header block is for.
type blockKind uint8

const (
	blockRequest  blockKind = iota + 1 // a new stream's request head
	blockTrailers                      // an open stream's trailer fields
	blockDiscard                       // decoded for HPACK's sake only
)

// Pseudo-header fields seen in a request (bits of headerBlock.pseudo).
const (
	pseudoMethod = 1 << iota
	pseudoScheme
	pseudoAuthority
	pseudoPath
)

// headerBlock is the header block being received.
type headerBlock struct {
	open      bool // END_HEADERS not seen yet: only CONTINUATION may follow
	id        uint32
	kind      blockKind
	endStream bool
	size      int // compressed bytes so far
	conts     int // CONTINUATION frames so far

	// What to do with a discarded block once decoded: reset the stream
	// with rst when rstSet, answer it 431 when tooLarge.
	rst    ErrCode
	rstSet bool

	listSize  int  // decoded size, RFC 9113 §6.5.2
	tooLarge  bool // over MaxHeaderListSize or http.MaxHeaders
	malformed bool // broke a rule of §8 (a stream PROTOCOL_ERROR)
	regular   bool // a regular field was seen (pseudo-fields must precede)
	pseudo    uint8
	method    http.Span
	path      http.Span
	authority http.Span
	host      http.Span
	cookies   int // cookie fields, joined at the end
}

// onHeaders handles HEADERS (§6.2): a new stream, or an open stream's
// trailers.
func (c *Conn) onHeaders(fh frameHeader, payload []byte) {
	id := fh.streamID
	if id == 0 || id%2 == 0 {
		c.connError(ErrCodeProtocol, "HEADERS on stream 0 or an even stream")
		return
	}
	frag, ok := unpad(fh, payload)
	if !ok {
		c.connError(ErrCodeProtocol, "HEADERS padding exceeds the payload")
		return
	}
	selfDep := false
	if fh.flags&flagPriority != 0 {
		if len(frag) < 5 {
			c.connError(ErrCodeFrameSize, "HEADERS too short for its priority")
			return
		}
		selfDep = binary.BigEndian.Uint32(frag)&(1<<31-1) == id
		frag = frag[5:]
	}
	c.hb = headerBlock{id: id, endStream: fh.flags&flagEndStream != 0}
	hb := &c.hb
	switch s := c.lookup(id); {
	case s != nil:
		switch {
		case s.state == streamHalfClosedRemote:
			hb.kind, hb.rst, hb.rstSet = blockDiscard, ErrCodeStreamClosed, true
		case !hb.endStream: // trailers must end the stream (§8.1)
			hb.kind, hb.rst, hb.rstSet = blockDiscard, ErrCodeProtocol, true
		default:
			hb.kind = blockTrailers
		}
	case !c.idle(id):
		if !c.resetByUs(id) {
			c.connError(ErrCodeProtocol, "HEADERS on a closed stream")
			return
		}
		hb.kind = blockDiscard
	default:
		c.maxClientID = id
		switch {
		case c.state != stateOpen:
			// After our GOAWAY the stream is ignored (§6.8); the client
			// retries it elsewhere.
			hb.kind = blockDiscard
		case len(c.streams) >= c.lim.maxStreams:
			hb.kind, hb.rst, hb.rstSet = blockDiscard, ErrCodeRefusedStream, true
		default:
			hb.kind = blockRequest
			c.newStream(id)
		}
	}
	if selfDep {
		if hb.kind != blockDiscard {
			hb.kind = blockDiscard
			if s := c.lookup(id); s != nil {
				c.closeStream(s) // not reported yet: the Handler never knew it
			}
		}
		hb.rst, hb.rstSet = ErrCodeProtocol, true
	}
	c.startBlock()
	c.fragment(frag, fh.flags&flagEndHeaders != 0)
}

// onContinuation handles CONTINUATION (§6.10). processFrame already
// refused one that does not continue the open block.
func (c *Conn) onContinuation(fh frameHeader, payload []byte) {
	if !c.hb.open {
		c.connError(ErrCodeProtocol, "CONTINUATION without a header block")
		return
	}
	c.hb.conts++
	if c.hb.conts > maxContinuations {
		c.connError(ErrCodeEnhanceYourCalm, "too many CONTINUATION frames in a header block")
		return
	}
	if len(payload) == 0 && fh.flags&flagEndHeaders == 0 {
		c.charge("empty CONTINUATION frames")
		if c.state == stateClosed {
			return
		}
	}
	c.fragment(payload, fh.flags&flagEndHeaders != 0)
}

// startBlock prepares the decoder and the request head for a block.
func (c *Conn) startBlock() {
	c.hb.open = true
	if c.head == nil {
		c.head = headPool.Get().(*RequestHead)
	}
	c.head.Req.Reset()
	c.head.Req.Major, c.head.Req.Minor = 2, 0
	c.head.Req.KeepAlive = true
	c.head.Scheme = http.Span{}
	c.head.Buf = c.head.Buf[:0]
	c.dec.SetEmitEnabled(c.hb.kind != blockDiscard)
}

// fragment decodes one piece of the block and finishes the block at its
// end.
func (c *Conn) fragment(frag []byte, end bool) {
	c.hb.size += len(frag)
	if c.hb.size > c.lim.maxBlock {
		c.connError(ErrCodeEnhanceYourCalm, "header block larger than the limit")
		return
	}
	if _, err := c.dec.Write(frag); err != nil {
		c.connError(ErrCodeCompression, "HPACK: bad header block")
		return
	}
	if !end {
		return
	}
	c.hb.open = false
	if err := c.dec.Close(); err != nil {
		c.connError(ErrCodeCompression, "HPACK: truncated header block")
		return
	}
	c.dec.SetEmitEnabled(true)
	c.finishBlock()
	if c.head != nil && !c.hb.open {
		headPool.Put(c.head)
		c.head = nil
	}
}

// headPool lends connections the RequestHead a header block is decoded
// into, for as long as the block and its Handler call last.
var headPool = sync.Pool{New: func() any { return new(RequestHead) }}

// finishBlock acts on a whole, decoded header block.
func (c *Conn) finishBlock() {
	hb := &c.hb
	id := hb.id
	switch hb.kind {
	case blockDiscard:
		if hb.rstSet {
			c.streamError(c.lookup(id), id, hb.rst)
		}
		return
	case blockTrailers:
		s := c.lookup(id)
		if hb.malformed || hb.tooLarge || hb.pseudo != 0 ||
			s.contentLength >= 0 && s.received != s.contentLength {
			c.streamError(s, id, ErrCodeProtocol)
			return
		}
		if s.state == streamHalfClosedLocal {
			c.closeStream(s) // the request ends; its response had
			return
		}
		s.state = streamHalfClosedRemote
		c.h.OnTrailers(id, c.head)
		return
	}
	s := c.lookup(id)
	if hb.tooLarge {
		c.answerTooLarge(s)
		return
	}
	if hb.malformed || !c.completeRequest(s) {
		c.closeStream(s) // the Handler never knew it
		c.streamError(nil, id, ErrCodeProtocol)
		return
	}
	if hb.endStream {
		s.state = streamHalfClosedRemote
	}
	c.h.OnRequest(id, c.head, hb.endStream)
}

// answerTooLarge answers a request whose head is over the limits with
// 431, as the HTTP/1.1 server does, without the Handler.
func (c *Conn) answerTooLarge(s *stream) {
	if c.hb.endStream {
		s.state = streamHalfClosedRemote
	}
	c.writeHead(s, 431, nil, true)
	c.endResponse(s)
}

// completeRequest checks the pseudo-header fields of a request (§8.3.1)
// and fills the rest of c.head.Req from them.
func (c *Conn) completeRequest(s *stream) bool {
	hb, r, buf := &c.hb, &c.head.Req, c.head.Buf
	if hb.pseudo&pseudoMethod == 0 {
		return false
	}
	r.MethodSpan = hb.method
	r.Method = methodOf(hb.method.Bytes(buf))
	if r.Method == http.MethodConnect {
		// CONNECT (§8.5): :authority only. Extended CONNECT (RFC 8441)
		// is not offered (no SETTINGS_ENABLE_CONNECT_PROTOCOL).
		if hb.pseudo != pseudoMethod|pseudoAuthority {
			return false
		}
	} else {
		if hb.pseudo&(pseudoScheme|pseudoPath) != pseudoScheme|pseudoPath {
			return false
		}
		path := hb.path.Bytes(buf)
		switch {
		case len(path) == 0:
			return false
		case path[0] == '/':
		case len(path) == 1 && path[0] == '*' && r.Method == http.MethodOptions:
		default:
			return false
		}
		for _, b := range path {
			if b <= ' ' || b >= 0x7f {
				return false
			}
		}
		r.URI = hb.path
		r.Path = hb.path
		for i, b := range path {
			if b == '?' {
				r.Path.Len = uint32(i)
				r.Query = http.Span{Off: hb.path.Off + uint32(i) + 1, Len: hb.path.Len - uint32(i) - 1}
				break
			}
		}
	}
	r.Host = hb.authority
	if hb.pseudo&pseudoAuthority == 0 {
		r.Host = hb.host
	}
	for _, b := range r.Host.Bytes(buf) {
		// No userinfo (§8.3.1), nothing a Host header could not hold.
		if b <= ' ' || b >= 0x7f || b == '@' {
			return false
		}
	}
	if hb.cookies > 1 {
		c.joinCookies()
	}
	s.contentLength = r.ContentLength
	if hb.endStream && r.ContentLength > 0 {
		return false // §8.1.1: no DATA can match a positive content-length
	}
	r.HeadLen = len(c.head.Buf)
	return true
}

// methodOf maps a method token to http.Method.
func methodOf(m []byte) http.Method {
	switch string(m) {
	case "GET":
		return http.MethodGet
	case "HEAD":
		return http.MethodHead
	case "POST":
		return http.MethodPost
	case "PUT":
		return http.MethodPut
	case "DELETE":
		return http.MethodDelete
	case "CONNECT":
		return http.MethodConnect
	case "OPTIONS":
		return http.MethodOptions
	case "TRACE":
		return http.MethodTrace
	case "PATCH":
		return http.MethodPatch
	}
	return http.MethodOther
}

// joinCookies folds the cookie fields into the first one, "; " between
// them (§8.2.3), as an HTTP/1.1 server expects a single Cookie header.
func (c *Conn) joinCookies() {
	r := &c.head.Req
	first := -1
	start := len(c.head.Buf)
	j := 0
	for i := 0; i < r.NumHeaders; i++ {
		h := r.Headers[i]
		if string(h.Name.Bytes(c.head.Buf)) != "cookie" {
			r.Headers[j] = h
			j++
			continue
		}
		if first < 0 {
			first = j
			r.Headers[j] = h
			j++
		} else {
			c.head.Buf = append(c.head.Buf, "; "...)
		}
		c.head.Buf = append(c.head.Buf, h.Value.Bytes(c.head.Buf)...)
	}
	r.NumHeaders = j
	r.Headers[first].Value = http.Span{Off: uint32(start), Len: uint32(len(c.head.Buf) - start)}
}

// onField receives each field the decoder emits (set once, at NewConn,
// so that no closure is made per block) and checks it against §8.2 and
// §8.3 as it goes. A broken rule marks the block malformed; decoding goes
// on regardless, for HPACK's sake.
func (c *Conn) onField(f hpack.HeaderField) {
	hb := &c.hb
	hb.listSize += len(f.Name) + len(f.Value) + 32
	if hb.listSize > c.lim.maxListSize {
		hb.tooLarge = true
		c.dec.SetEmitEnabled(false)
		return
	}
	if hb.malformed {
		return
	}
	name, value := f.Name, f.Value
	if !validValue(value) {
		hb.malformed = true
		return
	}
	if len(name) > 0 && name[0] == ':' {
		hb.malformed = !c.pseudoField(name, value)
		return
	}
	hb.regular = true
	if !validName(name) {
		hb.malformed = true
		return
	}
	switch name {
	case "connection", "proxy-connection", "keep-alive", "transfer-encoding", "upgrade":
		hb.malformed = true // connection-specific (§8.2.2)
		return
	case "te":
		if value != "trailers" {
			hb.malformed = true
			return
		}
	}
	r := &c.head.Req
	if r.NumHeaders == http.MaxHeaders {
		hb.tooLarge = true
		c.dec.SetEmitEnabled(false)
		return
	}
	nameSpan := c.appendText(name)
	valueSpan := c.appendText(value)
	r.Headers[r.NumHeaders] = http.Header{Name: nameSpan, Value: valueSpan}
	r.NumHeaders++
	if hb.kind != blockRequest {
		return
	}
	switch name {
	case "content-length":
		n, ok := parseContentLength(value)
		if !ok || r.ContentLength >= 0 && r.ContentLength != n {
			hb.malformed = true
		}
		r.ContentLength = n
	case "host":
		hb.host = valueSpan
	case "cookie":
		hb.cookies++
	case "expect":
		r.Expect100 = http.EqualFoldString(value, "100-continue")
	case "range":
		r.Range = valueSpan
	case "if-none-match":
		r.IfNoneMatch = valueSpan
	case "if-modified-since":
		r.IfModifiedSince = valueSpan
	}
	for i := 0; i < len(name); i++ {
		if name[i] == '_' {
			r.HasUnderscoreHeader = true
		}
	}
}

// pseudoField records a request pseudo-header field; false means the
// block is malformed (§8.3: after a regular field, repeated, unknown, a
// response's, or in trailers).
func (c *Conn) pseudoField(name, value string) bool {
	hb := &c.hb
	if hb.regular || hb.kind != blockRequest {
		return false
	}
	var bit uint8
	switch name {
	case ":method":
		bit = pseudoMethod
	case ":scheme":
		bit = pseudoScheme
	case ":authority":
		bit = pseudoAuthority
	case ":path":
		bit = pseudoPath
	default:
		return false
	}
	if hb.pseudo&bit != 0 {
		return false
	}
	hb.pseudo |= bit
	span := c.appendText(value)
	switch bit {
	case pseudoMethod:
		hb.method = span
		return validName(value) || isUpperToken(value)
	case pseudoScheme:
		c.head.Scheme = span
	case pseudoAuthority:
		hb.authority = span
	case pseudoPath:
		hb.path = span
	}
	return true
}

// appendText copies s to the head's buffer and returns its span.
func (c *Conn) appendText(s string) http.Span {
	off := len(c.head.Buf)
	c.head.Buf = append(c.head.Buf, s...)
	return http.Span{Off: uint32(off), Len: uint32(len(s))}
}

// parseContentLength parses a content-length value: digits only, no sign,
// no list (a repeated field with the same value is fine; onField compares).
func parseContentLength(v string) (int64, bool) {
	if len(v) == 0 || len(v) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(v); i++ {
		d := v[i] - '0'
		if d > 9 {
			return 0, false
		}
		n = n*10 + int64(d)
	}
	return n, true
}

// tokenLower marks the bytes a field name may hold in HTTP/2: tchar
// (RFC 9110 §5.6.2) without uppercase letters (§8.2.1).
var tokenLower = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// validName reports whether s is a lowercase token.
func validName(s string) bool {
	if len(s) == 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tokenLower[s[i]] {
			return false
		}
	}
	return true
}

// isUpperToken reports whether s is a token (methods are case-sensitive
// and usually uppercase).
func isUpperToken(s string) bool {
	if len(s) == 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if b >= 'A' && b <= 'Z' {
			b |= 0x20
		}
		if !tokenLower[b] {
			return false
		}
	}
	return true
}

// validValue reports whether s may be a field value (§8.2.1): no NUL,
// CR or LF, no whitespace at either end.
func validValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if b := s[i]; b == 0 || b == '\r' || b == '\n' {
			return false
		}
	}
	if n := len(s); n > 0 {
		if s[0] == ' ' || s[0] == '\t' || s[n-1] == ' ' || s[n-1] == '\t' {
			return false
		}
	}
	return true
}
