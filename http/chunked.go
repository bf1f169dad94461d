//go:build linux

package http

// Limits of the chunked decoder beyond those shared with the head parser.
const (
	// maxChunkExtLen bounds the chunk-extension bytes of one message (all
	// chunks together): extensions carry nothing we use, and without a
	// bound a client could make us read an endless chunk line.
	maxChunkExtLen = 4 << 10
)

// chunkState is where the decoder is in the chunked body grammar of RFC 9112
// §7.1.
type chunkState uint8

const (
	ckSize         chunkState = iota // first hex digit of a chunk size next
	ckSizeMore                       // in the size: digit, ';' or CR next
	ckExtName0                       // after ';': first byte of an ext name
	ckExtName                        // in an ext name
	ckExtValue0                      // after '=': token or quoted string
	ckExtToken                       // in a token ext value
	ckExtQuoted                      // in a quoted-string ext value
	ckExtEscape                      // after '\\' in a quoted string
	ckExtQuoteEnd                    // after the closing quote
	ckSizeLF                         // CR of the chunk line seen, LF next
	ckData                           // in chunk data; size bytes remain
	ckDataCR                         // chunk data consumed, CR next
	ckDataLF                         // CR after the data seen, LF next
	ckTrailer                        // a trailer line or the final CRLF next
	ckTrailerName                    // in a trailer field name
	ckTrailerValue                   // in a trailer field value (or OWS)
	ckTrailerLF                      // CR of a trailer line seen, LF next
	ckLastLF                         // CR of the final empty line seen
	ckDone                           // message complete
	ckFailed                         // refused; err says why
)

// ChunkedDecoder decodes a chunked request body (RFC 9112 §7.1) as it
// arrives, in pieces of any size, without allocating. Chunk extensions are
// checked and skipped; trailer fields are checked with the header rules and
// skipped. Its zero value is ready to use; Reset it before each body.
type ChunkedDecoder struct {
	state    chunkState
	digits   uint8 // hex digits of the current size so far
	size     int64 // current chunk size, then the data bytes left of it
	payload  int64 // data bytes returned so far
	extLen   int   // chunk-extension bytes so far (whole message)
	trailLen int   // trailer section bytes so far
	trailers int   // trailer fields so far
	err      *Error
}

// Reset prepares d for a new body.
func (d *ChunkedDecoder) Reset() { *d = ChunkedDecoder{} }

// Payload returns the number of payload (chunk data) bytes decoded so far.
func (d *ChunkedDecoder) Payload() int64 { return d.payload }

// TrailerLen returns how many bytes of the body's end Next has consumed
// so far: from the LF that ends the last chunk's size line through the
// trailer fields to the CR of the final empty line. The LF after that CR
// (Next's done) is not counted. Within one Next call these bytes are the
// last ones consumed, so a caller that forwards the trailer fields (an
// HTTP/2 stream's trailing HEADERS) collects, after each call, the last
// k bytes of in[:n], k being how much TrailerLen grew in the call (plus
// one when done); the whole collection is then "\n", the fields as
// "Name: value\r\n" lines, and "\r\n".
func (d *ChunkedDecoder) TrailerLen() int { return d.trailLen }

// Next consumes the first n bytes of in, framing included, and returns at
// most one piece of payload: data is a subslice of in, valid while in is.
// Callers loop, passing in[n:] (joined with later input) again, until
// n == len(in) or done. done reports that the final CRLF was consumed: the
// bytes after in[:n] belong to the next request. Unless done or err, Next
// consumes at least one byte of a non-empty in. After an error (an *Error,
// ErrBadChunk for framing) or done, later calls return the same.
func (d *ChunkedDecoder) Next(in []byte) (n int, data []byte, done bool, err error) {
	switch d.state {
	case ckDone:
		return 0, nil, true, nil
	case ckFailed:
		return 0, nil, false, d.err
	}
	i := 0
	for i < len(in) {
		c := in[i]
		switch d.state {
		case ckSize:
			v := unhex(c)
			if v < 0 {
				return d.fail(i, ErrBadChunk)
			}
			d.size, d.digits = int64(v), 1
			d.state = ckSizeMore

		case ckSizeMore:
			if v := unhex(c); v >= 0 {
				if d.digits == maxChunkDigit || d.size > (maxInt64-int64(v))>>4 {
					return d.fail(i, ErrBadChunk)
				}
				d.size = d.size<<4 | int64(v)
				d.digits++
			} else if !d.endExt(c) {
				return d.fail(i, ErrBadChunk)
			}

		case ckExtName0, ckExtValue0:
			switch {
			case charClass[c]&isToken != 0 && d.state == ckExtName0:
				d.state = ckExtName
			case charClass[c]&isToken != 0:
				d.state = ckExtToken
			case c == '"' && d.state == ckExtValue0:
				d.state = ckExtQuoted
			default:
				return d.fail(i, ErrBadChunk)
			}

		case ckExtName, ckExtToken:
			switch {
			case charClass[c]&isToken != 0:
			case c == '=' && d.state == ckExtName:
				d.state = ckExtValue0
			default:
				if !d.endExt(c) {
					return d.fail(i, ErrBadChunk)
				}
			}

		case ckExtQuoted, ckExtEscape:
			// qdtext and quoted-pair (RFC 9110 §5.6.4): HTAB, SP, visible
			// ASCII and obs-text; a bare '"' ends the string, '\\' escapes.
			if c != '\t' && c != ' ' && charClass[c]&isValue == 0 {
				return d.fail(i, ErrBadChunk)
			}
			switch {
			case d.state == ckExtEscape:
				d.state = ckExtQuoted
			case c == '"':
				d.state = ckExtQuoteEnd
			case c == '\\':
				d.state = ckExtEscape
			}

		case ckExtQuoteEnd:
			if !d.endExt(c) {
				return d.fail(i, ErrBadChunk)
			}

		case ckSizeLF:
			if c != '\n' {
				return d.fail(i, ErrBadChunk)
			}
			switch {
			case d.size == 0:
				d.state = ckTrailer
			case d.payload > maxInt64-d.size:
				return d.fail(i, ErrBadChunk)
			default:
				d.state = ckData
			}

		case ckData:
			k := len(in) - i
			if int64(k) > d.size {
				k = int(d.size)
			}
			d.size -= int64(k)
			d.payload += int64(k)
			if d.size == 0 {
				d.state = ckDataCR
			}
			return i + k, in[i : i+k], false, nil

		case ckDataCR:
			if c != '\r' {
				return d.fail(i, ErrBadChunk)
			}
			d.state = ckDataLF

		case ckDataLF:
			if c != '\n' {
				return d.fail(i, ErrBadChunk)
			}
			d.state = ckSize

		case ckTrailer:
			switch {
			case c == '\r':
				d.state = ckLastLF
			case charClass[c]&isToken != 0:
				if d.trailers == MaxHeaders {
					return d.fail(i, ErrTooManyHeaders)
				}
				d.trailers++
				d.state = ckTrailerName
			default:
				// SP/HTAB (obs-fold), bare LF, junk.
				return d.fail(i, ErrBadChunk)
			}

		case ckTrailerName:
			switch {
			case c == ':':
				d.state = ckTrailerValue
			case charClass[c]&isToken == 0:
				return d.fail(i, ErrBadChunk)
			}

		case ckTrailerValue:
			switch {
			case c == '\r':
				d.state = ckTrailerLF
			case c != ' ' && c != '\t' && charClass[c]&isValue == 0:
				return d.fail(i, ErrBadChunk)
			}

		case ckTrailerLF, ckLastLF:
			if c != '\n' {
				return d.fail(i, ErrBadChunk)
			}
			if d.state == ckLastLF {
				d.state = ckDone
				return i + 1, nil, true, nil
			}
			d.state = ckTrailer

		default:
			return d.fail(i, ErrBadChunk)
		}
		switch {
		case d.state >= ckExtName0 && d.state <= ckExtQuoteEnd:
			d.extLen++
			if d.extLen > maxChunkExtLen {
				return d.fail(i, ErrBadChunk)
			}
		case d.state >= ckTrailer:
			// The trailer section (including the final CRLF) is bounded
			// like one header line.
			d.trailLen++
			if d.trailLen > MaxHeaderLen {
				return d.fail(i, ErrHeaderTooLarge)
			}
		}
		i++
	}
	return i, nil, false, nil
}

// endExt handles byte c where a chunk line may end or another extension
// begin: ';' starts an extension, CR ends the line. Anything else, whitespace
// (BWS) included, is refused: strict, as llhttp. It reports whether c was
// one of the two.
func (d *ChunkedDecoder) endExt(c byte) bool {
	switch c {
	case ';':
		d.state = ckExtName0
	case '\r':
		d.state = ckSizeLF
	default:
		return false
	}
	return true
}

// fail records e as the outcome of the body and returns it, with the bytes
// before the offending one consumed.
func (d *ChunkedDecoder) fail(i int, e *Error) (int, []byte, bool, error) {
	d.state = ckFailed
	d.err = e
	return i, nil, false, e
}

// unhex returns the value of hex digit c, or -1.
func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c - 'a' + 10)
	case c >= 'A' && c <= 'F':
		return int(c - 'A' + 10)
	}
	return -1
}
