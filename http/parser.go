//go:build linux

package http

import (
	"bytes"
	"encoding/binary"
)

// The request-head parser is a state machine with one named state per place
// in the grammar of RFC 9112 §2-§5, in the manner of nginx's
// ngx_http_parse_request_line: Parse looks at each byte once, remembers the
// state and the offsets of the element it is in, and returns when the buffer
// runs out, so a head may arrive in any number of pieces. Runs of token,
// target and value bytes are scanned by tight inner loops; every check they
// make happens at the same byte it would in the one-byte-at-a-time case, so
// the outcome never depends on how the head was split.
//
// Strictness follows llhttp's strict mode and the MUSTs of RFC 9110/9112,
// because a proxy that is lenient where its upstream is strict (or the other
// way round) is a request smuggling vector:
//
//   - lines end in CRLF; a bare CR anywhere and a bare LF used as a line
//     terminator are refused (nginx accepts bare LF, we do not);
//   - empty lines (CRLF) before the request line are skipped (RFC 9112 §2.2);
//   - the request line is method SP request-target SP HTTP-version, with
//     exactly one SP each time and no trailing whitespace;
//   - the request-target is origin-form ("/path?query") or absolute-form
//     ("http://authority/path?query", scheme http or https in any case);
//     asterisk-form ("*") only for OPTIONS and authority-form ("host:port")
//     only for CONNECT (RFC 9112 §3.2). An absolute-form target's authority
//     is the request's Host (RFC 9112 §3.2.2), whatever the Host header
//     says, and its path and query are what is routed and forwarded;
//   - Host, and the authority of a target, is RFC 3986's host [":" port]:
//     a reg-name, IPv4 address or bracketed IPv6 literal, and a port of
//     digits up to 65535; userinfo ("user@host"), '/', spaces and the like
//     are refused. An empty Host header is allowed (RFC 9112 §3.2);
//   - header names are tokens with no whitespace before the colon, values are
//     visible ASCII, obs-text, SP and HTAB, and obs-fold is refused;
//   - Content-Length is digits (a list of equal values at most), never beside
//     Transfer-Encoding; chunked is the only transfer coding accepted, once
//     (any other gets 501, as in nginx: a proxy that re-frames the body
//     cannot keep a coding it does not apply); Transfer-Encoding from
//     HTTP/1.0 is refused;
//   - any token is a method (a proxy passes extension methods on), except
//     PRI, the HTTP/2 preface; CONNECT parses but is answered 405 once its
//     head is complete, as nginx does, since nproxy opens no tunnels;
//   - the framing headers (Content-Length, Transfer-Encoding, Host) are
//     checked as each header line ends, the rest when the head ends.

// parseState is where the parser is in the request head.
type parseState uint8

const (
	stStart      parseState = iota // before the request line, skipping CRLFs
	stStartLF                      // CR of a leading empty line seen, LF next
	stMethod                       // in the method token
	stTargetHead                   // SP after the method seen, target next
	stTarget                       // in the request-target
	stVersion                      // matching "HTTP/" (mark is its start)
	stMajor                        // major version digit next
	stDot                          // '.' next
	stMinor                        // minor version digit next
	stLineCR                       // version complete, CR next
	stLineLF                       // CR of the request line seen, LF next
	stFieldStart                   // a header line or the final CRLF next
	stName                         // in a header name
	stValueWS                      // after the colon, in leading whitespace
	stValue                        // in a header value
	stFieldLF                      // CR of a header line seen, LF next
	stHeadLF                       // CR of the empty last line seen, LF next
	stDone                         // head complete
	stFailed                       // refused; err says why
)

// Bits of Parser.seen: facts from headers that only matter once the head is
// complete, or that a later header is checked against.
const (
	seenHost uint8 = 1 << iota
	seenContentLength
	seenTransferEncoding
	seenUpgrade       // an Upgrade header
	seenConnClose     // Connection: close
	seenConnKeepAlive // Connection: keep-alive
	seenConnUpgrade   // Connection: upgrade
)

// Parser is a resumable HTTP/1.1 request-head parser: an explicit state
// machine that accepts a request delivered in any number of pieces, down to
// one byte at a time, and allocates nothing.
//
// A Parser holds offsets, never slices, so the buffer may move between calls.
// Its zero value is ready to use; Reset it (and the Request) before each
// request.
type Parser struct {
	state    parseState
	seen     uint8
	pos      int // next byte of buf to look at
	mark     int // start of the current element: method, target, version, name
	nameEnd  int // end of the current header name (the colon)
	valStart int // start of the current header value
	valEnd   int // end of the value, trailing whitespace excluded
	err      *Error
	inFields bool // the request line was whole when Parse failed
}

// Reset prepares p for a new request.
func (p *Parser) Reset() { *p = Parser{} }

// Parse continues parsing the request head held in buf, which contains the
// request from its first byte (buf may have grown since the previous call;
// its prefix is unchanged). It returns done=true once the head is complete,
// with req filled in and req.HeadLen set; (false, nil) when more bytes are
// needed; and an *Error naming the response status for a bad request. Once
// it has returned an error or done, later calls return the same.
//
// Bytes past the head (a body, the next pipelined request) do not affect
// the result, and the result is the same however the head was split across
// calls. A bare LF as a line terminator is refused with ErrBadLineEnding,
// unlike nginx: see the strictness notes at the top of parser.go.
func (p *Parser) Parse(buf []byte, req *Request) (done bool, err error) {
	switch p.state {
	case stDone:
		return true, nil
	case stFailed:
		return false, p.err
	}
	// Nothing past MaxHeadLen is looked at: a head that has not ended by
	// then is refused below, whatever the later bytes are.
	end := len(buf)
	if end > MaxHeadLen {
		end = MaxHeadLen
	}
	pos := p.pos
	for pos < end {
		c := buf[pos]
		switch p.state {
		case stStart:
			switch {
			case c == '\r':
				p.state = stStartLF
				pos++
			case charClass[c]&isToken != 0:
				p.mark = pos
				p.state = stMethod
			case c == '\n':
				return p.fail(ErrBadLineEnding)
			default:
				return p.fail(ErrBadMethod)
			}

		case stStartLF:
			if c != '\n' {
				return p.fail(ErrBadLineEnding)
			}
			p.state = stStart
			pos++

		case stMethod:
			for pos < end && charClass[buf[pos]]&isToken != 0 {
				if pos-p.mark >= maxMethodLen {
					return p.fail(ErrBadMethod)
				}
				pos++
			}
			if pos == end {
				continue
			}
			if buf[pos] != ' ' {
				return p.fail(ErrBadMethod)
			}
			if e := setMethod(buf, p.mark, pos, req); e != nil {
				return p.fail(e)
			}
			pos++
			p.state = stTargetHead

		case stTargetHead:
			if charClass[c]&isTarget == 0 {
				return p.fail(ErrBadURI)
			}
			p.mark = pos
			p.state = stTarget

		case stTarget:
			lim := min(end, p.mark+MaxURILen)
			for pos+8 <= lim && targetRun8(binary.LittleEndian.Uint64(buf[pos:])) {
				pos += 8
			}
			for pos < lim && charClass[buf[pos]]&isTarget != 0 {
				pos++
			}
			if pos == end {
				continue
			}
			switch c = buf[pos]; {
			case c == ' ':
			case charClass[c]&isTarget != 0: // pos is mark+MaxURILen
				return p.fail(ErrURITooLong)
			case c == '\r' || c == '\n':
				// "GET /" + CRLF is HTTP/0.9, which we do not speak.
				return p.fail(ErrBadVersion)
			default:
				return p.fail(ErrBadURI)
			}
			if e := p.setTarget(buf, pos, req); e != nil {
				return p.fail(e)
			}
			pos++
			p.mark = pos
			p.state = stVersion

		case stVersion:
			// Fast path for the two versions we speak, whole in buf; any
			// other bytes take the states below, one at a time.
			if pos == p.mark && end-pos >= len("HTTP/1.1\r\n") {
				if v := string(buf[pos : pos+len("HTTP/1.1\r\n")]); v == "HTTP/1.1\r\n" || v == "HTTP/1.0\r\n" {
					req.Major, req.Minor = 1, v[len("HTTP/1.")]-'0'
					pos += len("HTTP/1.1\r\n")
					p.state = stFieldStart
					continue
				}
			}
			i := pos - p.mark
			if c != "HTTP/"[i] {
				return p.fail(ErrBadVersion)
			}
			pos++
			if i == len("HTTP/")-1 {
				p.state = stMajor
			}

		case stMajor:
			if c < '0' || c > '9' {
				return p.fail(ErrBadVersion)
			}
			req.Major = c - '0'
			p.state = stDot
			pos++

		case stDot:
			if c != '.' {
				return p.fail(ErrBadVersion)
			}
			p.state = stMinor
			pos++

		case stMinor:
			if c < '0' || c > '9' {
				return p.fail(ErrBadVersion)
			}
			req.Minor = c - '0'
			// The version is known at its last digit: refuse a well-formed
			// HTTP/2.0 or HTTP/1.2 here, before whatever follows it.
			if req.Major != 1 || req.Minor > 1 {
				return p.fail(ErrUnsupportedVersion)
			}
			p.state = stLineCR
			pos++

		case stLineCR:
			switch c {
			case '\r':
				p.state = stLineLF
				pos++
			case '\n':
				return p.fail(ErrBadLineEnding)
			default:
				return p.fail(ErrBadVersion)
			}

		case stLineLF, stFieldLF, stHeadLF:
			if c != '\n' {
				return p.fail(ErrBadLineEnding)
			}
			pos++
			switch p.state {
			case stLineLF:
				p.state = stFieldStart
			case stFieldLF:
				if e := p.addHeader(buf, req); e != nil {
					return p.fail(e)
				}
				p.state = stFieldStart
			default:
				if e := p.finish(req); e != nil {
					return p.fail(e)
				}
				req.HeadLen = pos
				p.pos = pos
				p.state = stDone
				return true, nil
			}

		case stFieldStart:
			switch {
			case c == '\r':
				p.state = stHeadLF
				pos++
			case charClass[c]&isToken != 0:
				if req.NumHeaders == MaxHeaders {
					return p.fail(ErrTooManyHeaders)
				}
				p.mark = pos
				p.state = stName
			case c == ' ' || c == '\t':
				return p.fail(ErrObsFold)
			case c == '\n':
				return p.fail(ErrBadLineEnding)
			default:
				return p.fail(ErrBadHeader)
			}

		case stName:
			// The loop stops at '_' too, so that the request can say
			// whether any name has one without a second scan.
			lim := min(end, p.mark+MaxHeaderLen)
			for {
				for pos < lim && charClass[buf[pos]]&isNameChar != 0 {
					pos++
				}
				if pos == lim || buf[pos] != '_' {
					break
				}
				req.HasUnderscoreHeader = true
				pos++
			}
			if pos == end {
				continue
			}
			if pos-p.mark >= MaxHeaderLen {
				return p.fail(ErrHeaderTooLarge)
			}
			if buf[pos] != ':' {
				return p.fail(ErrBadHeader)
			}
			p.nameEnd = pos
			pos++
			p.state = stValueWS

		case stValueWS:
			if c == ' ' || c == '\t' {
				if pos-p.mark >= MaxHeaderLen {
					return p.fail(ErrHeaderTooLarge)
				}
				pos++
				continue
			}
			p.valStart = pos
			p.state = stValue

		case stValue:
			lim := min(end, p.mark+MaxHeaderLen)
			for pos+8 <= lim && valueRun8(binary.LittleEndian.Uint64(buf[pos:])) {
				pos += 8
			}
			for pos < lim && charClass[buf[pos]]&isValueWS != 0 {
				pos++
			}
			if pos == end {
				continue
			}
			switch c = buf[pos]; {
			case c == '\r':
				// The value ends before trailing whitespace.
				v := p.valStart
				p.valEnd = v + len(trimOWS(buf[v:pos]))
				p.state = stFieldLF
				pos++
			case charClass[c]&isValueWS != 0: // pos is mark+MaxHeaderLen
				return p.fail(ErrHeaderTooLarge)
			case c == '\n':
				return p.fail(ErrBadLineEnding)
			default:
				return p.fail(ErrBadHeader)
			}

		default:
			return p.fail(ErrBadRequest)
		}
	}
	p.pos = pos
	if len(buf) > MaxHeadLen {
		return p.fail(ErrHeaderTooLarge)
	}
	return false, nil
}

// fail records e as the outcome of the request and returns it.
func (p *Parser) fail(e *Error) (bool, error) {
	p.inFields = p.state >= stFieldStart
	p.state = stFailed
	p.err = e
	return false, e
}

// LineParsed reports whether the request line was parsed whole: the
// method, target and version in the Request are set, also when Parse
// refused the head later, in its header fields (the access log then
// shows the request, as nginx's does).
func (p *Parser) LineParsed() bool {
	if p.state == stFailed {
		return p.inFields
	}
	return p.state >= stFieldStart
}

// spanOf returns the span of buf[from:to].
func spanOf(from, to int) Span {
	return Span{Off: uint32(from), Len: uint32(to - from)}
}

// setMethod records the method buf[from:to]. Methods are case-sensitive
// (RFC 9110 §9.1), so "get" is MethodOther.
func setMethod(buf []byte, from, to int, req *Request) *Error {
	req.MethodSpan = spanOf(from, to)
	m := buf[from:to]
	switch string(m) {
	case "GET":
		req.Method = MethodGet
	case "HEAD":
		req.Method = MethodHead
	case "POST":
		req.Method = MethodPost
	case "PUT":
		req.Method = MethodPut
	case "DELETE":
		req.Method = MethodDelete
	case "CONNECT":
		req.Method = MethodConnect
	case "OPTIONS":
		req.Method = MethodOptions
	case "TRACE":
		req.Method = MethodTrace
	case "PATCH":
		req.Method = MethodPatch
	case "PRI":
		// PRI exists only to make the HTTP/2 connection preface fail as an
		// HTTP/1 request (RFC 9113 §3.4).
		return ErrBadMethod
	default:
		req.Method = MethodOther
	}
	return nil
}

// setTarget records the request-target that ends at end and checks that
// its form is one the method may use (RFC 9112 §3.2): origin-form for any
// method but CONNECT, absolute-form likewise, asterisk-form for OPTIONS and
// authority-form, with a port, for CONNECT alone.
func (p *Parser) setTarget(buf []byte, end int, req *Request) *Error {
	start := p.mark
	req.URI = spanOf(start, end)
	t := buf[start:end] // never empty: stTargetHead saw its first byte
	switch {
	case req.Method == MethodConnect:
		if port, ok := authority(t); !ok || port < 0 {
			return ErrBadURI
		}
		req.Path, req.Query = req.URI, spanOf(end, end)
		return nil
	case t[0] == '/':
	case len(t) == 1 && t[0] == '*' && req.Method == MethodOptions:
		req.Path, req.Query = req.URI, spanOf(end, end)
		return nil
	default:
		n := schemeLen(t)
		if n == 0 {
			return ErrBadURI // "@evil/x", "evil:80/x", "ftp://x/"
		}
		a := n
		for a < len(t) && t[a] != '/' && t[a] != '?' {
			a++
		}
		if _, ok := authority(t[n:a]); !ok {
			return ErrBadURI
		}
		req.Host = spanOf(start+n, start+a)
		req.Absolute = true
		start += a // the path, possibly empty, and the query follow
	}
	q := bytes.IndexByte(buf[start:end], '?')
	if q < 0 {
		req.Path = spanOf(start, end)
		req.Query = spanOf(end, end)
		return nil
	}
	q += start
	req.Path = spanOf(start, q)
	req.Query = spanOf(q+1, end)
	return nil
}

// schemeLen returns the length of t's "http://" or "https://" prefix (the
// scheme in any case), or 0 when t has neither.
func schemeLen(t []byte) int {
	switch {
	case len(t) >= len("http://") && equalFold(t[:len("http://")], "http://"):
		return len("http://")
	case len(t) >= len("https://") && equalFold(t[:len("https://")], "https://"):
		return len("https://")
	}
	return 0
}

// maxPort is the largest TCP port number.
const maxPort = 65535

// authority checks that a is host [":" port] of RFC 3986 §3.2.2-§3.2.3
// with a non-empty host: a reg-name (unreserved, sub-delims and
// percent-encoded bytes, which covers IPv4 addresses) or an IP literal in
// brackets, and a port of one or more digits no larger than 65535. There
// is no userinfo: RFC 9110 §4.2.4 makes it an error in an http(s) URI, and
// in a Host header it can only mislead. port is the index of the colon
// before the port, -1 without one.
//
// The IP literal is checked for its characters (hex digits, ':' and '.'),
// not parsed: nproxy only routes and forwards it, and no byte that could
// end the field or change its meaning gets through.
func authority(a []byte) (port int, ok bool) {
	i := 0
	if len(a) > 0 && a[0] == '[' {
		for i = 1; i < len(a) && charClass[a[i]]&isIPLiteral != 0; i++ {
		}
		if i == 1 || i == len(a) || a[i] != ']' {
			return -1, false
		}
		i++
	} else if i = regNameLen(a); i == 0 {
		return -1, false
	}
	if i == len(a) {
		return -1, true
	}
	if a[i] != ':' || i+1 == len(a) {
		return -1, false
	}
	port = i
	n := 0
	for i++; i < len(a); i++ {
		c := a[i]
		if c < '0' || c > '9' {
			return -1, false
		}
		if n = n*10 + int(c-'0'); n > maxPort {
			return -1, false
		}
	}
	return port, true
}

// regNameLen returns the length of the reg-name at the start of a.
func regNameLen(a []byte) int {
	i := 0
	for i < len(a) {
		switch c := a[i]; {
		case charClass[c]&isRegName != 0:
			i++
		case c == '%' && i+2 < len(a) && isHex(a[i+1]) && isHex(a[i+2]):
			i += 3
		default:
			return i
		}
	}
	return i
}

// isHex reports whether c is a hexadecimal digit.
func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c|0x20 >= 'a' && c|0x20 <= 'f'
}

// addHeader records the header line just ended and gathers what it says
// about framing and the connection.
func (p *Parser) addHeader(buf []byte, req *Request) *Error {
	h := &req.Headers[req.NumHeaders]
	req.NumHeaders++
	h.Name = spanOf(p.mark, p.nameEnd)
	h.Value = spanOf(p.valStart, p.valEnd)
	name := buf[p.mark:p.nameEnd]
	value := buf[p.valStart:p.valEnd]

	// Dispatch on the length first: most headers are none of these and
	// cost one switch.
	switch len(name) {
	case len("host"):
		if equalFold(name, "host") {
			if p.seen&seenHost != 0 {
				return ErrDuplicateHost
			}
			p.seen |= seenHost
			if _, ok := authority(value); !ok && len(value) > 0 {
				return ErrBadHost
			}
			// An absolute-form target's authority is the Host, and the
			// header is ignored (RFC 9112 §3.2.2), once checked.
			if !req.Absolute {
				req.Host = h.Value
			}
		}
	case len("range"):
		if equalFold(name, "range") {
			req.Range = h.Value
		}
	case len("expect"):
		if equalFold(name, "expect") && equalFold(value, "100-continue") {
			req.Expect100 = true
		}
	case len("upgrade"):
		if equalFold(name, "upgrade") {
			p.seen |= seenUpgrade
			req.UpgradeProto = h.Value
		}
	case len("connection"):
		if equalFold(name, "connection") {
			req.Connection = h.Value
			p.seen |= connectionTokens(value)
		}
	case len("if-none-match"):
		if equalFold(name, "if-none-match") {
			req.IfNoneMatch = h.Value
		}
	case len("content-length"):
		if equalFold(name, "content-length") {
			return p.contentLength(value, req)
		}
	case len("transfer-encoding"): // also len("if-modified-since")
		if equalFold(name, "transfer-encoding") {
			return p.transferEncoding(value, req)
		}
		if equalFold(name, "if-modified-since") {
			req.IfModifiedSince = h.Value
		}
	}
	return nil
}

// finish checks what can only be checked once the head is complete and
// derives the connection facts.
func (p *Parser) finish(req *Request) *Error {
	// RFC 9112 §3.2: even an absolute-form target needs the header.
	if req.Minor == 1 && p.seen&seenHost == 0 {
		return ErrMissingHost
	}
	if p.seen&seenConnClose != 0 {
		req.KeepAlive = false
	} else {
		req.KeepAlive = req.Minor == 1 || p.seen&seenConnKeepAlive != 0
	}
	req.Upgrade = p.seen&seenConnUpgrade != 0 && p.seen&seenUpgrade != 0
	if req.Method == MethodConnect {
		return ErrMethodNotAllowed
	}
	return nil
}

// contentLength checks a Content-Length value: digits, or a comma list of
// equal digit strings (RFC 9110 §8.6 lets a recipient take "5, 5" as 5),
// equal to any earlier Content-Length and not beside Transfer-Encoding.
func (p *Parser) contentLength(v []byte, req *Request) *Error {
	if p.seen&seenTransferEncoding != 0 {
		return ErrConflictingLength
	}
	// One value, one field. RFC 9110 §8.6 lets a recipient merge a list
	// of identical values, but nginx and Go's net/http refuse it, and a
	// proxy that reads a length its neighbours refuse is a smuggling
	// vector: refuse lists and repeated fields alike.
	if p.seen&seenContentLength != 0 {
		return ErrConflictingLength
	}
	var x int64
	i := 0
	for ; i < len(v) && v[i] >= '0' && v[i] <= '9'; i++ {
		d := int64(v[i] - '0')
		if x > (maxInt64-d)/10 {
			return ErrBadContentLength
		}
		x = x*10 + d
	}
	if i == 0 || i != len(v) {
		return ErrBadContentLength
	}
	p.seen |= seenContentLength
	req.ContentLength = x
	return nil
}

const maxInt64 = 1<<63 - 1

// transferEncoding checks a Transfer-Encoding value. The only coding
// accepted is chunked, once (RFC 9110 §5.6.1: empty list elements are
// ignored); any other gets 501 (RFC 9112 §6.1), as in nginx. A proxy that
// decodes and re-frames the body could only forward "gzip, chunked" as
// "chunked", dropping the gzip its upstream needed to know about. So
// every Transfer-Encoding header that passes leaves req.Chunked set.
func (p *Parser) transferEncoding(v []byte, req *Request) *Error {
	// An HTTP/1.0 sender cannot know chunked framing: Transfer-Encoding
	// from one is either a broken client or an attempt to desynchronise a
	// 1.1 upstream, so it is refused outright.
	if req.Minor == 0 {
		return ErrBadTransferEncoding
	}
	if p.seen&seenContentLength != 0 {
		return ErrConflictingLength
	}
	p.seen |= seenTransferEncoding
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
				return ErrBadTransferEncoding // parameters, quotes, junk
			}
			i = skipOWS(v, i+1)
		}
		if len(coding) == 0 {
			continue
		}
		codings++
		if !equalFold(coding, "chunked") {
			return ErrNotImplemented
		}
		if req.Chunked {
			return ErrBadTransferEncoding // chunked twice
		}
		req.Chunked = true
	}
	if codings == 0 {
		return ErrBadTransferEncoding
	}
	return nil
}

// connectionTokens returns the seen bits for the Connection options in v
// that the parser acts on.
func connectionTokens(v []byte) uint8 {
	var bits uint8
	for i := 0; i < len(v); {
		start := i
		for i < len(v) && v[i] != ',' {
			i++
		}
		tok := trimOWS(v[start:i])
		switch {
		case equalFold(tok, "close"):
			bits |= seenConnClose
		case equalFold(tok, "keep-alive"):
			bits |= seenConnKeepAlive
		case equalFold(tok, "upgrade"):
			bits |= seenConnUpgrade
		}
		i++
	}
	return bits
}

// skipOWS returns the index of the first byte at or after i in v that is
// not SP or HTAB.
func skipOWS(v []byte, i int) int {
	for i < len(v) && (v[i] == ' ' || v[i] == '\t') {
		i++
	}
	return i
}

// trimOWS returns v without leading and trailing SP and HTAB.
func trimOWS(v []byte) []byte {
	v = v[skipOWS(v, 0):]
	for len(v) > 0 && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
		v = v[:len(v)-1]
	}
	return v
}

// Byte classes of charClass.
const (
	isToken     = 1 << iota // tchar (RFC 9110 §5.6.2)
	isTarget                // allowed in a request-target: visible ASCII
	isValue                 // field-vchar: visible ASCII and obs-text
	isValueWS               // field-vchar, SP or HTAB: inside a field value
	isNameChar              // tchar but '_': the header-name loop
	isRegName               // unreserved or sub-delims (RFC 3986 §3.2.2)
	isIPLiteral             // inside an IP literal's brackets: hex, ':', '.'
)

// charClass maps each byte to its classes. The request-target class is
// looser than RFC 3986 (it admits '"', '\\', '|', '{' and friends, as nginx
// and llhttp do, since real clients send them) but refuses every control,
// space and non-ASCII byte.
var charClass = func() (t [256]uint8) {
	for c := 0x21; c <= 0x7e; c++ {
		t[c] |= isTarget | isValue
	}
	for c := 0x80; c <= 0xff; c++ {
		t[c] |= isValue
	}
	for c := range t {
		if t[c]&isValue != 0 || c == ' ' || c == '\t' {
			t[c] |= isValueWS
		}
	}
	for c := '0'; c <= '9'; c++ {
		t[c] |= isToken
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] |= isToken
		t[c-'a'+'A'] |= isToken
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] |= isToken
	}
	for c := range t {
		if t[c]&isToken != 0 && c != '_' {
			t[c] |= isNameChar
		}
	}
	for c := '0'; c <= '9'; c++ {
		t[c] |= isRegName | isIPLiteral
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] |= isRegName
		t[c-'a'+'A'] |= isRegName
	}
	for _, c := range "-._~!$&'()*+,;=" {
		t[c] |= isRegName
	}
	for _, c := range "abcdefABCDEF:." {
		t[c] |= isIPLiteral
	}
	return t
}()

// Eight bytes at a time: the target and value loops first skip whole words
// that the byte tables would accept anyway, using the "has a byte less than
// n" test (exact for n <= 128 as to whether such a byte exists), so the
// outcome is that of the byte loop that follows them.
const (
	lsb8 = 0x0101010101010101
	msb8 = 0x8080808080808080
)

// targetRun8 reports whether the 8 bytes of x are all visible ASCII
// (0x21-0x7e), that is allowed in a request-target.
func targetRun8(x uint64) bool {
	below := (x - lsb8*0x21) & ^x & msb8 // a byte < 0x21
	above := (x | (x + lsb8)) & msb8     // a byte >= 0x7f
	return below|above == 0
}

// valueRun8 reports whether the 8 bytes of x are all field-vchar or SP,
// allowed in a field value. (HTAB is too, but is left to the byte loop.)
func valueRun8(x uint64) bool {
	ctl := (x - lsb8*0x20) & ^x & msb8 // a byte < 0x20
	y := x ^ lsb8*0x7f
	del := (y - lsb8) & ^y & msb8 // a byte == 0x7f
	return ctl|del == 0
}
