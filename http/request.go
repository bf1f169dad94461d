//go:build linux

package http

// Limits from the architecture document (NP_MAX_HEADERS, NP_MAX_URI_LEN,
// NP_MAX_HEADER_LEN). A request over one of them is refused with the status
// named beside it rather than truncated.
const (
	MaxHeaders    = 64       // 431 past it
	MaxURILen     = 8 << 10  // 414 past it
	MaxHeaderLen  = 8 << 10  // one header line; 431 past it
	MaxHeadLen    = 64 << 10 // the whole request head; 431 past it
	maxMethodLen  = 32       // no registered method is longer
	maxChunkDigit = 16       // hex digits of a chunk size (int64)
)

// Span is a byte range [Off, Off+Len) of the buffer a request was parsed
// from. Spans, not slices, let the parser resume when a request arrives in
// pieces and the buffer that holds it grows or moves.
type Span struct {
	Off, Len uint32
}

// Bytes returns the bytes of s in buf, the buffer the request was parsed from.
func (s Span) Bytes(buf []byte) []byte { return buf[s.Off : s.Off+s.Len] }

// Empty reports whether s covers no bytes.
func (s Span) Empty() bool { return s.Len == 0 }

// Method is a request method known to the parser. Other tokens parse as
// MethodOther and keep their text in Request.MethodSpan.
type Method uint8

// The methods of RFC 9110 plus PATCH; MethodOther is any other token.
const (
	MethodOther Method = iota
	MethodGet
	MethodHead
	MethodPost
	MethodPut
	MethodDelete
	MethodConnect
	MethodOptions
	MethodTrace
	MethodPatch
)

// Header is one request header field as spans of the request buffer. Name
// keeps the client's case; Value has surrounding whitespace trimmed.
type Header struct {
	Name, Value Span
}

// Request is a parsed request head. It holds no pointers into the buffer it
// was parsed from: every text field is a Span, so one Request value can be
// reused for every request of a connection (Reset) without allocating.
type Request struct {
	Method     Method
	MethodSpan Span
	URI        Span // request-target as sent
	Path       Span // URI's path up to '?' (still percent-encoded)
	Query      Span // after '?', without it; empty if none
	Major      uint8
	Minor      uint8

	// Absolute reports an absolute-form request-target
	// ("http://authority/path?query"): Host is then the target's
	// authority, not the Host header (RFC 9112 §3.2.2), and Path and Query
	// lie inside URI after it; Path may be empty ("http://a?q"). A proxy
	// forwards the origin-form, Path (or "/") and Query.
	Absolute bool

	Headers    [MaxHeaders]Header
	NumHeaders int

	// Framing and connection facts, gathered while parsing so that the
	// server never scans the headers again.
	Host          Span  // Host header value, or the target's authority if Absolute; may be empty
	ContentLength int64 // -1 when there is no Content-Length
	Chunked       bool  // Transfer-Encoding ends in chunked
	KeepAlive     bool  // persistent per version and Connection header
	Expect100     bool  // Expect: 100-continue
	Upgrade       bool  // Connection: upgrade and an Upgrade header

	// HasUnderscoreHeader reports that a header name holds '_'. Such
	// names are dropped by a proxy by default (nginx's
	// underscores_in_headers off), since a backend may read X_Forwarded_For
	// as the X-Forwarded-For the proxy vouches for; the flag spares the
	// proxy a scan of every name in the common case.
	HasUnderscoreHeader bool

	// Spans of headers the static and proxy paths consult.
	IfNoneMatch     Span
	IfModifiedSince Span
	Range           Span
	UpgradeProto    Span // value of Upgrade
	Connection      Span // value of the last Connection header

	// HeadLen is the length of the request head, request line through the
	// empty line, once parsing is done: the body (if any) starts there.
	HeadLen int
}

// Reset clears r for the next request, in O(1) for the header table:
// entries past NumHeaders are left as they were and mean nothing. (Zeroing
// the whole 1 KiB table cost about a fifth of parsing a small request.)
func (r *Request) Reset() {
	r.Method = MethodOther
	r.MethodSpan = Span{}
	r.URI, r.Path, r.Query = Span{}, Span{}, Span{}
	r.Major, r.Minor = 0, 0
	r.Absolute = false
	r.NumHeaders = 0
	r.Host = Span{}
	r.ContentLength = -1
	r.Chunked, r.KeepAlive, r.Expect100, r.Upgrade = false, false, false, false
	r.HasUnderscoreHeader = false
	r.IfNoneMatch, r.IfModifiedSince, r.Range = Span{}, Span{}, Span{}
	r.UpgradeProto, r.Connection = Span{}, Span{}
	r.HeadLen = 0
}

// Header returns the value of the first header named name (ASCII
// case-insensitive) and whether it was present.
func (r *Request) Header(buf []byte, name string) ([]byte, bool) {
	for i := 0; i < r.NumHeaders; i++ {
		h := &r.Headers[i]
		if equalFold(h.Name.Bytes(buf), name) {
			return h.Value.Bytes(buf), true
		}
	}
	return nil, false
}

// HasBody reports whether a body follows the head.
func (r *Request) HasBody() bool { return r.Chunked || r.ContentLength > 0 }

// EqualFold reports whether b equals the ASCII string s ignoring case: the
// comparison of header names and tokens everywhere in nproxy.
func EqualFold(b []byte, s string) bool { return equalFold(b, s) }

// EqualFoldBytes is EqualFold for two byte slices (no string conversion,
// which allocates past 32 bytes).
func EqualFoldBytes(a, b []byte) bool { return equalFold(a, b) }

// EqualFoldString is EqualFold for two strings.
func EqualFoldString(a, b string) bool { return equalFold(a, b) }

// equalFold reports whether a equals b ignoring ASCII case.
func equalFold[A, B ~[]byte | ~string](a A, b B) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x == y {
			continue
		}
		if x|0x20 != y|0x20 || (x|0x20) < 'a' || (x|0x20) > 'z' {
			return false
		}
	}
	return true
}

// String returns the method's name, or "OTHER" for MethodOther (whose text
// is in Request.MethodSpan).
func (m Method) String() string {
	switch m {
	case MethodGet:
		return "GET"
	case MethodHead:
		return "HEAD"
	case MethodPost:
		return "POST"
	case MethodPut:
		return "PUT"
	case MethodDelete:
		return "DELETE"
	case MethodConnect:
		return "CONNECT"
	case MethodOptions:
		return "OPTIONS"
	case MethodTrace:
		return "TRACE"
	case MethodPatch:
		return "PATCH"
	}
	return "OTHER"
}
