//go:build linux

package bench

import (
	"bytes"
	"fmt"

	"github.com/nproxy/nproxy/http"
)

// respState names where the response parser stands. The parser is resumable:
// it can stop at any byte (the end of a read) and go on with the next read.
// The head is parsed by http.ResponseParser, the one strict response-head
// parser of the tree; body framing is skipped here by count.
type respState uint8

const (
	stHead         respState = iota // the status line and headers
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
	stDone                          // a response without a body is complete
)

// respParser reads HTTP/1.1 response framing: the status code, the body
// length (Content-Length, chunked or close-delimited) and whether the server
// will close. It skips body bytes without copying them and allocates nothing
// once warm.
//
// A head that arrives whole in one read is parsed where it lies. One split
// across reads is gathered in head, a buffer the connection keeps for the
// next time (it grows to the size of the longest split head, at most
// http.MaxHeadLen+1 bytes), and parsed again from its start as it grows:
// heads are small and seldom split, so that costs less than keeping a
// 1 KiB http.ResponseHead per connection between reads.
// The zero value is not ready: call reset first.
type respParser struct {
	state   respState
	started bool // a byte of the current response has been seen

	status        int
	contentLength int64 // -1 when absent
	chunked       bool
	closing       bool  // the server closes after this response
	bodyLen       int64 // body bytes seen (chunk payloads only, for chunked)
	remaining     int64 // body or chunk bytes still to skip
	digits        int   // digits of the chunk size seen

	head []byte // the start of a head split across reads
}

// reset prepares p for the next response on the connection. The head
// buffer is kept for the next split head.
func (p *respParser) reset() {
	*p = respParser{contentLength: -1, head: p.head[:0]}
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
// calls reset and feeds the rest of b. A malformed response returns an error
// wrapping ErrBadResponse (and, for the head, the http error saying why).
func (p *respParser) feed(b []byte) (n int, done bool, err error) {
	i := 0
	if len(b) > 0 {
		p.started = true
	}
	for i < len(b) {
		switch p.state {
		case stHead:
			k, err := p.readHead(b[i:])
			i += k
			if err != nil {
				return i, false, err
			}
			if p.state == stHead {
				return i, false, nil // k == len(b[i:]): all of it is head
			}
			if p.endHead() {
				return i, true, nil
			}
			continue
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
		case stDone:
			return i, true, nil // the caller resets before the next response
		case stChunkExt, stTrailer:
			j := bytes.IndexByte(b[i:], '\n')
			if j < 0 {
				i = len(b)
				continue
			}
			i += j + 1
			if p.state == stChunkExt {
				p.startChunk()
			} else {
				p.state = stTrailerStart
			}
			continue
		}
		c := b[i]
		i++
		switch p.state {
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

// readHead parses the head from b, joined to the start of it that earlier
// reads left in p.head, and returns how many bytes of b belong to the head.
// Once the head is complete it records the status and framing and leaves
// stHead; before that, all of b is head.
func (p *respParser) readHead(b []byte) (int, error) {
	old := len(p.head)
	buf := b
	if old > 0 {
		// Past MaxHeadLen+1 bytes the parser refuses the head whatever
		// follows: no need to keep more.
		buf = append(p.head, b[:min(len(b), http.MaxHeadLen+1-old)]...)
		p.head = buf
	}
	var hp http.ResponseParser
	var h http.ResponseHead
	done, err := hp.Parse(buf, &h)
	if err != nil {
		return len(b), fmt.Errorf("%w: %w", ErrBadResponse, err)
	}
	if !done {
		if old == 0 {
			p.head = append(p.head, b...)
		}
		return len(b), nil
	}
	p.head = p.head[:0]
	p.status, p.contentLength, p.chunked = h.Status, h.ContentLength, h.Chunked
	p.closing = h.Close
	p.state = stDone // endHead moves on to the body, if there is one
	return h.HeadLen - old, nil
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
