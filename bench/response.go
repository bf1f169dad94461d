//go:build linux

package bench

import "bytes"

// respState names where the response parser stands. The parser is resumable:
// it can stop at any byte (the end of a read) and go on with the next read, so
// a connection needs no buffer of its own, only this small state.
type respState uint8

const (
	stProto        respState = iota // "HTTP/1.x" up to the first space
	stCode                          // the three status digits
	stReason                        // the reason phrase, up to LF
	stLineStart                     // first byte of a header line, or the CR/LF that ends the head
	stHeadLF                        // CR of the empty line seen, LF expected
	stName                          // header name, up to ':'
	stValue                         // header value, up to LF
	stBody                          // Content-Length bytes remain in remaining
	stChunkSize                     // hex chunk size
	stChunkExt                      // chunk extension, up to LF
	stChunkData                     // remaining bytes of chunk data
	stChunkCR                       // CR after chunk data
	stChunkLF                       // LF after chunk data
	stTrailerStart                  // first byte of a trailer line, or the end of the message
	stTrailer                       // trailer line, up to LF
	stTrailerLF                     // CR of the final empty line seen, LF expected
	stUntilClose                    // no length: the body ends when the server closes
)

// hdrKind is the header whose value the parser is reading.
type hdrKind uint8

const (
	hdrOther hdrKind = iota
	hdrContentLength
	hdrTransferEncoding
	hdrConnection
)

// maxHeaderName is how much of a header name is kept for matching; the
// longest name the parser cares about, "transfer-encoding", has 17 bytes.
const maxHeaderName = 20

// maxHeaderValue is how much of a Transfer-Encoding or Connection value is
// kept to look for "chunked" or "close" in it.
const maxHeaderValue = 32

// maxResponseHead bounds a response head (status line and headers); longer
// is treated as malformed rather than read forever.
const maxResponseHead = 64 << 10

// respParser reads HTTP/1.1 response framing: the status code, the body
// length (Content-Length, chunked or close-delimited) and whether the server
// will close. It skips body bytes without copying them and never allocates.
// The zero value is not ready: call reset first.
type respParser struct {
	state   respState
	started bool // a byte of the current response has been seen

	status        int
	contentLength int64 // -1 when absent
	chunked       bool
	closing       bool  // Connection: close, or a close-delimited body
	bodyLen       int64 // body bytes seen (chunk payloads only, for chunked)
	remaining     int64 // body or chunk bytes still to skip
	headLen       int

	kind    hdrKind
	name    [maxHeaderName]byte
	nameLen int
	val     [maxHeaderValue]byte
	valLen  int
	digits  int // digits of the status code or chunk size seen
}

// reset prepares p for the next response on the connection.
func (p *respParser) reset() {
	*p = respParser{contentLength: -1}
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

func unhex(c byte) int64 {
	switch {
	case '0' <= c && c <= '9':
		return int64(c - '0')
	case 'a' <= c && c <= 'f':
		return int64(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int64(c-'A') + 10
	}
	return -1
}

// feed parses b. It returns how many bytes belong to the current response and
// whether that response is now complete; the caller reads the result fields,
// calls reset and feeds the rest of b. A malformed response returns
// ErrBadResponse.
func (p *respParser) feed(b []byte) (n int, done bool, err error) {
	i := 0
	if len(b) > 0 {
		p.started = true
	}
	for i < len(b) {
		switch p.state {
		case stBody:
			k := int64(len(b) - i)
			if k > p.remaining {
				k = p.remaining
			}
			i += int(k)
			p.remaining -= k
			p.bodyLen += k
			if p.remaining == 0 {
				return i, true, nil
			}
			continue
		case stChunkData:
			k := int64(len(b) - i)
			if k > p.remaining {
				k = p.remaining
			}
			i += int(k)
			p.remaining -= k
			p.bodyLen += k
			if p.remaining == 0 {
				p.state = stChunkCR
			}
			continue
		case stUntilClose:
			p.bodyLen += int64(len(b) - i)
			return len(b), false, nil
		case stReason, stChunkExt, stTrailer:
			j := bytes.IndexByte(b[i:], '\n')
			if j < 0 {
				p.headLen += len(b) - i
				i = len(b)
				continue
			}
			i += j + 1
			p.headLen += j + 1
			switch p.state {
			case stReason:
				p.state = stLineStart
			case stChunkExt:
				p.startChunk()
			default:
				p.state = stTrailerStart
			}
			continue
		}
		c := b[i]
		i++
		p.headLen++
		if p.headLen > maxResponseHead {
			return i, false, ErrBadResponse
		}
		switch p.state {
		case stProto:
			if c == ' ' {
				if p.digits < 8 { // "HTTP/1.1"
					return i, false, ErrBadResponse
				}
				p.digits = 0
				p.state = stCode
				continue
			}
			p.digits++
		case stCode:
			if c >= '0' && c <= '9' && p.digits < 3 {
				p.status = p.status*10 + int(c-'0')
				p.digits++
				continue
			}
			if p.digits != 3 {
				return i, false, ErrBadResponse
			}
			switch c {
			case ' ':
				p.state = stReason
			case '\r':
				p.state = stReason // the LF follows
			case '\n':
				p.state = stLineStart
			default:
				return i, false, ErrBadResponse
			}
		case stLineStart:
			switch c {
			case '\r':
				p.state = stHeadLF
			case '\n':
				if p.endHead() {
					return i, true, nil
				}
			default:
				p.state = stName
				p.nameLen = 0
				p.name[0] = lower(c)
				p.nameLen = 1
			}
		case stHeadLF:
			if c != '\n' {
				return i, false, ErrBadResponse
			}
			if p.endHead() {
				return i, true, nil
			}
		case stName:
			if c == ':' {
				p.kind = p.headerKind()
				p.valLen = 0
				p.digits = 0
				if p.kind == hdrOther {
					p.state = stReason // skip the value like a reason phrase
					// stReason goes back to stLineStart at LF: what we want.
				} else {
					p.state = stValue
				}
				continue
			}
			if c == '\n' {
				return i, false, ErrBadResponse
			}
			if p.nameLen < maxHeaderName {
				p.name[p.nameLen] = lower(c)
			}
			p.nameLen++
		case stValue:
			if c == '\n' {
				if err := p.endValue(); err != nil {
					return i, false, err
				}
				p.state = stLineStart
				continue
			}
			if c == '\r' {
				continue
			}
			if p.kind == hdrContentLength {
				switch {
				case c >= '0' && c <= '9':
					if p.digits == 0 {
						p.contentLength = 0
					}
					p.contentLength = p.contentLength*10 + int64(c-'0')
					p.digits++
					if p.digits > 18 {
						return i, false, ErrBadResponse
					}
				case c == ' ' || c == '\t':
				default:
					return i, false, ErrBadResponse
				}
				continue
			}
			if p.valLen < maxHeaderValue {
				p.val[p.valLen] = lower(c)
				p.valLen++
			}
		case stChunkSize:
			if v := unhex(c); v >= 0 {
				p.remaining = p.remaining<<4 | v
				p.digits++
				if p.digits > 15 {
					return i, false, ErrBadResponse
				}
				continue
			}
			if p.digits == 0 {
				return i, false, ErrBadResponse
			}
			if c == '\n' {
				p.startChunk()
				continue
			}
			p.state = stChunkExt // ';' extensions, spaces or the CR: skip to LF
		case stChunkCR:
			if c == '\n' {
				p.beginChunkSize()
				continue
			}
			if c != '\r' {
				return i, false, ErrBadResponse
			}
			p.state = stChunkLF
		case stChunkLF:
			if c != '\n' {
				return i, false, ErrBadResponse
			}
			p.beginChunkSize()
		case stTrailerStart:
			switch c {
			case '\r':
				p.state = stTrailerLF
			case '\n':
				return i, true, nil
			default:
				p.state = stTrailer
			}
		case stTrailerLF:
			if c != '\n' {
				return i, false, ErrBadResponse
			}
			return i, true, nil
		}
	}
	return i, false, nil
}

func (p *respParser) beginChunkSize() {
	p.state = stChunkSize
	p.remaining = 0
	p.digits = 0
}

// startChunk is called at the LF that ends a chunk-size line.
func (p *respParser) startChunk() {
	if p.remaining == 0 {
		p.state = stTrailerStart
		return
	}
	p.state = stChunkData
}

func (p *respParser) headerKind() hdrKind {
	if p.nameLen > maxHeaderName {
		return hdrOther
	}
	switch string(p.name[:p.nameLen]) { // no allocation: compared in place
	case "content-length":
		return hdrContentLength
	case "transfer-encoding":
		return hdrTransferEncoding
	case "connection":
		return hdrConnection
	}
	return hdrOther
}

func (p *respParser) endValue() error {
	v := p.val[:p.valLen]
	switch p.kind {
	case hdrContentLength:
		if p.digits == 0 {
			return ErrBadResponse
		}
	case hdrTransferEncoding:
		if bytes.Contains(v, []byte("chunked")) {
			p.chunked = true
		}
	case hdrConnection:
		if bytes.Contains(v, []byte("close")) {
			p.closing = true
		}
	}
	return nil
}

// endHead decides how the body is framed (RFC 9112 section 6.3) once the
// head is complete, and reports whether the response has no body at all.
func (p *respParser) endHead() bool {
	switch {
	case p.status/100 == 1 || p.status == 204 || p.status == 304:
		return true
	case p.chunked:
		p.beginChunkSize()
		return false
	case p.contentLength == 0:
		return true
	case p.contentLength > 0:
		p.remaining = p.contentLength
		p.state = stBody
		return false
	}
	p.state = stUntilClose
	p.closing = true
	return false
}

// eof tells the parser the server closed the connection. It reports whether
// that completes the current response (a close-delimited body).
func (p *respParser) eof() bool {
	return p.state == stUntilClose
}
