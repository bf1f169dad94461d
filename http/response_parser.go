//go:build linux

package http

import "encoding/binary"

// The response-head parser is the request parser's twin for what comes
// back: a state machine with one named state per place in the grammar of
// RFC 9112 §4-§5 (nginx keeps ngx_http_parse_status_line beside its request
// parser for the same reason). It looks at each byte once, remembers the
// state and offsets, and returns when the buffer runs out, so a head may
// arrive in any number of pieces; the outcome never depends on the split.
//
// A response head is as dangerous as a request head when it is wrong: a
// proxy copies it to its client, so whatever the parser lets through (a bare
// LF inside a value, a NUL, a Content-Length the client reads differently)
// is header injection or response splitting by the upstream. It is strict
// in the same way the request parser is:
//
//   - the status line is HTTP/1.0 or HTTP/1.1, one SP, three digits (100 to
//     599), then SP and a reason phrase (visible ASCII, obs-text, SP, HTAB;
//     may be empty) or, as nginx tolerates, the CRLF at once;
//   - lines end in CRLF: a bare CR anywhere, and a bare LF anywhere
//     (a line end included: nginx accepts one, we do not), are refused;
//   - header names are tokens with no whitespace before the colon, values
//     are visible ASCII, obs-text, SP and HTAB, and obs-fold is refused;
//   - Content-Length is digits only, a comma list of equal values at most,
//     and several Content-Length fields must agree;
//   - Transfer-Encoding is a list of tokens, in an HTTP/1.1 response only;
//     the body is chunked only when the final coding is exactly "chunked",
//     and chunked may appear once.
//     Beside Content-Length it wins and Content-Length is ignored (RFC 9112
//     §6.3); a final coding other than chunked (an unknown one such as
//     "xchunked" included) leaves the body delimited by the close of the
//     connection, which a proxy may refuse to relay;
//   - no more than MaxHeaders fields and MaxHeadLen bytes. Response lines
//     have no limit of their own (a long Set-Cookie or CSP is common).

// respState is where the parser is in the response head.
type respState uint8

const (
	rsVersion    respState = iota // matching "HTTP/" (from the first byte)
	rsMajor                       // major version digit next
	rsDot                         // '.' next
	rsMinor                       // minor version digit next
	rsVersionSP                   // the SP after the version next
	rsStatus                      // in the three status digits
	rsStatusEnd                   // SP before the reason, or CR of the line
	rsReason                      // in the reason phrase
	rsLineLF                      // CR of the status line seen, LF next
	rsFieldStart                  // a header line or the final CRLF next
	rsName                        // in a header name
	rsValueWS                     // after the colon, in leading whitespace
	rsValue                       // in a header value
	rsFieldLF                     // CR of a header line seen, LF next
	rsHeadLF                      // CR of the empty last line seen, LF next
	rsDone                        // head complete
	rsFailed                      // refused; err says why
)

// ResponseHead is a parsed response head. Like Request it holds spans of
// the buffer it was parsed from, never slices, so it can be reused and the
// buffer may grow or move while the head arrives.
type ResponseHead struct {
	Status int   // 100 to 599
	Major  uint8 // always 1
	Minor  uint8 // 0 or 1
	Reason Span  // reason phrase as sent, possibly empty

	Headers    [MaxHeaders]Header
	NumHeaders int

	// ContentLength is the body length from Content-Length, or -1 when
	// there is none or Transfer-Encoding overrides it (RFC 9112 §6.3: the
	// Content-Length fields then stay in Headers but mean nothing, and a
	// proxy must not forward them).
	ContentLength int64
	// Chunked reports that the final transfer coding is chunked.
	Chunked bool
	// TE reports a Transfer-Encoding field. With Chunked false the body
	// ends when the connection closes.
	TE bool
	// Close reports that the server closes the connection after this
	// response: Connection: close, or HTTP/1.0 without keep-alive. (A body
	// delimited by the close ends the connection too; the caller knows
	// which responses have a body.)
	Close bool

	ConnectionValue Span // value of the last Connection field
	Upgrade         Span // value of the last Upgrade field

	// HeadLen is the length of the head, status line through the empty
	// line, once parsing is done: the body (if any) starts there.
	HeadLen int
}

// Reset clears h for the next response, in O(1) for the header table (as
// Request.Reset). ResponseParser.Parse does it when it starts a head.
func (h *ResponseHead) Reset() {
	h.Status, h.Major, h.Minor, h.Reason = 0, 0, 0, Span{}
	h.NumHeaders = 0
	h.ContentLength = -1
	h.Chunked, h.TE, h.Close = false, false, false
	h.ConnectionValue, h.Upgrade = Span{}, Span{}
	h.HeadLen = 0
}

// Header returns the value of the first header named name (ASCII
// case-insensitive) and whether it was present.
func (h *ResponseHead) Header(buf []byte, name string) ([]byte, bool) {
	for i := 0; i < h.NumHeaders; i++ {
		f := &h.Headers[i]
		if equalFold(f.Name.Bytes(buf), name) {
			return f.Value.Bytes(buf), true
		}
	}
	return nil, false
}

// ResponseParser is a resumable HTTP/1.x response-head parser: an explicit
// state machine that accepts a head delivered in any number of pieces, down
// to one byte at a time, and allocates nothing.
//
// A ResponseParser holds offsets, never slices, so the buffer may move
// between calls. Its zero value is ready to use; Reset it before each
// response.
type ResponseParser struct {
	state       respState
	seen        uint8 // the seen* bits of Parser.seen (seenHost unused)
	chunkedSeen bool  // a Transfer-Encoding listed chunked (only once is allowed)
	pos         int   // next byte of buf to look at
	mark        int   // start of the current element: status, reason, name
	nameEnd     int   // end of the current header name (the colon)
	valStart    int   // start of the current header value
	err         *Error
}

// Reset prepares p for a new response.
func (p *ResponseParser) Reset() { *p = ResponseParser{} }

// Parse continues parsing the response head held in buf, which contains
// the response from its first byte (buf may have grown since the previous
// call; its prefix is unchanged). The first call on a response resets h;
// later calls go on filling it. Parse returns done=true once the head is
// complete, with h filled in and h.HeadLen set; (false, nil) when more bytes
// are needed; and one of the ErrBadStatusLine ... ErrResponseTooManyHeaders
// errors (an *Error, Status 502) for a head that must not be relayed. Once
// it has returned an error or done, later calls return the same.
//
// Bytes past the head do not affect the result, and the result is the same
// however the head was split across calls.
func (p *ResponseParser) Parse(buf []byte, h *ResponseHead) (done bool, err error) {
	switch p.state {
	case rsDone:
		return true, nil
	case rsFailed:
		return false, p.err
	case rsVersion:
		if p.pos == 0 {
			h.Reset()
		}
	}
	// Nothing past MaxHeadLen is looked at: a head that has not ended by
	// then is refused below, whatever the later bytes are.
	end := min(len(buf), MaxHeadLen)
	pos := p.pos
	for pos < end {
		c := buf[pos]
		switch p.state {
		case rsVersion:
			// Fast path for the two versions we speak, whole in buf; any
			// other bytes take the states below, one at a time.
			if pos == 0 && end >= len("HTTP/1.1 ") {
				if v := string(buf[:len("HTTP/1.1 ")]); v == "HTTP/1.1 " || v == "HTTP/1.0 " {
					h.Major, h.Minor = 1, v[len("HTTP/1.")]-'0'
					pos = len("HTTP/1.1 ")
					p.mark = pos
					p.state = rsStatus
					continue
				}
			}
			if c != "HTTP/"[pos] {
				return p.fail(ErrBadStatusLine)
			}
			pos++
			if pos == len("HTTP/") {
				p.state = rsMajor
			}

		case rsMajor:
			if c != '1' {
				return p.fail(ErrBadStatusLine) // HTTP/0.9 and HTTP/2 included
			}
			h.Major = 1
			p.state = rsDot
			pos++

		case rsDot:
			if c != '.' {
				return p.fail(ErrBadStatusLine)
			}
			p.state = rsMinor
			pos++

		case rsMinor:
			if c != '0' && c != '1' {
				return p.fail(ErrBadStatusLine)
			}
			h.Minor = c - '0'
			p.state = rsVersionSP
			pos++

		case rsVersionSP:
			if c != ' ' {
				return p.fail(ErrBadStatusLine)
			}
			pos++
			p.mark = pos
			p.state = rsStatus

		case rsStatus:
			if c < '0' || c > '9' {
				return p.fail(ErrBadStatusLine)
			}
			h.Status = h.Status*10 + int(c-'0')
			pos++
			if pos-p.mark == 3 {
				if h.Status < 100 || h.Status > 599 {
					return p.fail(ErrBadStatusLine)
				}
				p.state = rsStatusEnd
			}

		case rsStatusEnd:
			switch c {
			case ' ':
				pos++
				p.mark = pos
				p.state = rsReason
			case '\r':
				// "HTTP/1.1 200" + CRLF: no SP, no reason. RFC 9112 §4
				// wants the SP, nginx takes it without; so do we.
				h.Reason = spanOf(pos, pos)
				pos++
				p.state = rsLineLF
			case '\n':
				return p.fail(ErrBadResponseLineEnding)
			default:
				return p.fail(ErrBadStatusLine) // a fourth digit, or junk
			}

		case rsReason:
			for pos < end && charClass[buf[pos]]&isValueWS != 0 {
				pos++
			}
			if pos == end {
				continue
			}
			switch buf[pos] {
			case '\r':
				h.Reason = spanOf(p.mark, pos)
				pos++
				p.state = rsLineLF
			case '\n':
				return p.fail(ErrBadResponseLineEnding)
			default:
				return p.fail(ErrBadStatusLine)
			}

		case rsLineLF, rsFieldLF, rsHeadLF:
			if c != '\n' {
				return p.fail(ErrBadResponseLineEnding)
			}
			pos++
			if p.state != rsHeadLF {
				p.state = rsFieldStart
				continue
			}
			p.finish(h)
			h.HeadLen = pos
			p.pos = pos
			p.state = rsDone
			return true, nil

		case rsFieldStart:
			switch {
			case c == '\r':
				p.state = rsHeadLF
				pos++
			case charClass[c]&isToken != 0:
				if h.NumHeaders == MaxHeaders {
					return p.fail(ErrResponseTooManyHeaders)
				}
				p.mark = pos
				p.state = rsName
			case c == ' ' || c == '\t':
				return p.fail(ErrResponseObsFold)
			case c == '\n':
				return p.fail(ErrBadResponseLineEnding)
			default:
				return p.fail(ErrBadResponseHeader)
			}

		case rsName:
			for pos < end && charClass[buf[pos]]&isToken != 0 {
				pos++
			}
			if pos == end {
				continue
			}
			if buf[pos] != ':' {
				return p.fail(ErrBadResponseHeader)
			}
			p.nameEnd = pos
			pos++
			p.state = rsValueWS

		case rsValueWS:
			if c == ' ' || c == '\t' {
				pos++
				continue
			}
			p.valStart = pos
			p.state = rsValue

		case rsValue:
			for pos+8 <= end && valueRun8(binary.LittleEndian.Uint64(buf[pos:])) {
				pos += 8
			}
			for pos < end && charClass[buf[pos]]&isValueWS != 0 {
				pos++
			}
			if pos == end {
				continue
			}
			switch buf[pos] {
			case '\r':
				if e := p.addHeader(buf, pos, h); e != nil {
					return p.fail(e)
				}
				pos++
				p.state = rsFieldLF
			case '\n':
				return p.fail(ErrBadResponseLineEnding)
			default:
				return p.fail(ErrBadResponseHeader) // NUL, DEL, other controls
			}

		default:
			return p.fail(ErrBadStatusLine)
		}
	}
	p.pos = pos
	if len(buf) > MaxHeadLen {
		return p.fail(ErrResponseHeadTooLarge)
	}
	return false, nil
}

// fail records e as the outcome of the response and returns it.
func (p *ResponseParser) fail(e *Error) (bool, error) {
	p.state = rsFailed
	p.err = e
	return false, e
}

// addHeader records the header line whose value ends (before the CR) at
// end, and gathers what it says about framing and the connection. It runs
// at the CR rather than the LF so that the value is checked once, at the
// same byte however the head was split.
func (p *ResponseParser) addHeader(buf []byte, end int, h *ResponseHead) *Error {
	f := &h.Headers[h.NumHeaders]
	h.NumHeaders++
	f.Name = spanOf(p.mark, p.nameEnd)
	v := p.valStart
	f.Value = spanOf(v, v+len(trimOWS(buf[v:end])))
	name := f.Name.Bytes(buf)
	value := f.Value.Bytes(buf)

	switch len(name) {
	case len("upgrade"):
		if equalFold(name, "upgrade") {
			h.Upgrade = f.Value
		}
	case len("connection"):
		if equalFold(name, "connection") {
			h.ConnectionValue = f.Value
			p.seen |= connectionTokens(value)
		}
	case len("content-length"):
		if equalFold(name, "content-length") {
			return p.contentLength(value, h)
		}
	case len("transfer-encoding"):
		if equalFold(name, "transfer-encoding") {
			return p.transferEncoding(value, h)
		}
	}
	return nil
}

// finish derives the facts that need the whole head.
func (p *ResponseParser) finish(h *ResponseHead) {
	if h.TE {
		h.ContentLength = -1 // RFC 9112 §6.3: Transfer-Encoding wins
	}
	h.Close = p.seen&seenConnClose != 0 ||
		h.Minor == 0 && p.seen&seenConnKeepAlive == 0
}

// contentLength checks a Content-Length value: digits, or a comma list of
// equal digit strings (RFC 9110 §8.6 lets a recipient take "5, 5" as 5),
// equal to any earlier Content-Length. No sign, no inner space, no
// overflow: anything a client could read as another length is refused.
func (p *ResponseParser) contentLength(v []byte, h *ResponseHead) *Error {
	n := int64(-1)
	for i := 0; ; {
		start := i
		var x int64
		for ; i < len(v) && v[i] >= '0' && v[i] <= '9'; i++ {
			d := int64(v[i] - '0')
			if x > (maxInt64-d)/10 {
				return ErrBadResponseLength
			}
			x = x*10 + d
		}
		if i == start || n >= 0 && x != n {
			return ErrBadResponseLength
		}
		n = x
		i = skipOWS(v, i)
		if i == len(v) {
			break
		}
		if v[i] != ',' {
			return ErrBadResponseLength
		}
		i = skipOWS(v, i+1)
	}
	if p.seen&seenContentLength != 0 && n != h.ContentLength {
		return ErrBadResponseLength
	}
	p.seen |= seenContentLength
	h.ContentLength = n
	return nil
}

// transferEncoding reads a Transfer-Encoding value: a comma list of
// codings, whose last one (over all Transfer-Encoding fields, in order)
// decides Chunked. Any coding is accepted, since the body is then read to
// the close; only the list's syntax, an empty list and chunked applied
// twice (RFC 9112 §6.1) are refused, and so is Transfer-Encoding in an
// HTTP/1.0 response. Parameters are refused too: no coding a server sends
// in practice takes one.
func (p *ResponseParser) transferEncoding(v []byte, h *ResponseHead) *Error {
	// RFC 9112 §6.1: an HTTP/1.0 message with Transfer-Encoding has faulty
	// framing (its sender cannot know chunked), even beside a
	// Content-Length: no length can be trusted.
	if h.Minor == 0 {
		return ErrBadResponseTransferEncoding
	}
	h.TE = true
	codings := 0
	for i := 0; i < len(v); {
		start := i
		for i < len(v) && charClass[v[i]]&isToken != 0 {
			i++
		}
		coding := v[start:i]
		i = skipOWS(v, i)
		if i < len(v) {
			if v[i] != ',' {
				return ErrBadResponseTransferEncoding // parameters, quotes
			}
			i = skipOWS(v, i+1)
		}
		if len(coding) == 0 {
			continue // RFC 9110 §5.6.1: empty list elements are ignored
		}
		codings++
		h.Chunked = equalFold(coding, "chunked")
		if h.Chunked {
			if p.chunkedSeen {
				return ErrBadResponseTransferEncoding
			}
			p.chunkedSeen = true
		}
	}
	if codings == 0 {
		return ErrBadResponseTransferEncoding
	}
	return nil
}
