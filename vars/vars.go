// Package vars expands the nginx-style variables that configuration
// values may hold ($scheme, $host, $request_uri, ...) into a response or
// an upstream request head.
//
// A value is parsed once, when the configuration is loaded (Parse), into a
// Template: literal text and variables in order. Expanding it for a
// request (Template.Append) copies bytes the caller already has, gathered
// in a Values, and allocates nothing when dst has room.
//
// Values come from the request, so a client chooses their bytes: Append
// percent-encodes every control byte, space and DEL in them (a decoded
// path may hold "%0D%0A"), so that an expansion can never end a header
// line or a status line early. A header's value (Scope.Header) keeps its
// spaces and tabs, which a field value may hold, and percent-encodes the
// other control bytes and DEL.
package vars

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Var names one variable.
type Var uint8

// The variables a Template may hold, with nginx's names and meanings.
const (
	literal    Var = iota // not a variable: the part's text
	Scheme                // $scheme: "http" or "https"
	Host                  // $host: the Host header's name without port, lower case; else the server's first name, else the listen address
	HTTPHost              // $http_host: the Host header as sent
	RequestURI            // $request_uri: the request-target as sent (path and query)
	URI                   // $uri: the decoded, normalized path (after rewrites and strip_prefix)
	Args                  // $args: the query string, without '?'
	IsArgs                // $is_args: "?" when the request has a query string, else ""
	RemoteAddr            // $remote_addr: the client's address (after real_ip)
	ServerPort            // $server_port: the port the connection came in on
	// ProxyAddXFF is $proxy_add_x_forwarded_for: the client's
	// X-Forwarded-For with $remote_addr appended, or $remote_addr alone.
	ProxyAddXFF
	RequestID // $request_id: 32 random hex digits, one per request (also the access log's)
	// Header is $http_NAME: a request header field; the part holds its
	// name, lower case with '-' for '_'.
	Header
	// MapResult is a map's result variable (map.go); the part names the
	// map.
	MapResult
	// Status, UpstreamAddr and UpstreamStatus are known only once the
	// response head is written (Scope.Response: add_header): $status,
	// the response's status; $upstream_addr and $upstream_status, the
	// backends a proxied request tried and their statuses, ", " between
	// them, as the access log shows them.
	Status
	UpstreamAddr
	UpstreamStatus
	numVars

	// Capture+N is the regular expression's capture N ($1..$9, ${N}).
	Capture Var = 128
)

// builtins maps each variable's name (without '$') to it.
var builtins = map[string]Var{
	"scheme":                    Scheme,
	"host":                      Host,
	"http_host":                 HTTPHost,
	"request_uri":               RequestURI,
	"uri":                       URI,
	"document_uri":              URI,
	"args":                      Args,
	"query_string":              Args,
	"is_args":                   IsArgs,
	"remote_addr":               RemoteAddr,
	"server_port":               ServerPort,
	"proxy_add_x_forwarded_for": ProxyAddXFF,
	"request_id":                RequestID,
}

// responseVars are the variables known only once the response head is
// written, which a Scope takes with Response.
var responseVars = map[string]Var{
	"status":          Status,
	"upstream_addr":   UpstreamAddr,
	"upstream_status": UpstreamStatus,
}

// Names returns the variable names Parse accepts, with '$', for messages.
func Names() string {
	out := make([]string, 0, len(builtins))
	for _, n := range []string{"scheme", "host", "http_host", "request_uri", "uri", "args", "is_args", "remote_addr", "server_port", "proxy_add_x_forwarded_for", "request_id", "http_NAME"} {
		out = append(out, "$"+n)
	}
	return strings.Join(out, " ")
}

// ErrUnknown is matched (errors.Is) by the error Parse returns for a '$'
// that does not start a known variable name, or names a capture the regex
// does not have.
var ErrUnknown = errors.New("vars: unknown variable")

// ErrControl is matched by the error Parse returns for text holding a
// control byte: a header or status line must not be split by the
// configuration either.
var ErrControl = errors.New("vars: control character in the value")

// parseError is an error of Parse: its text names the problem without the
// package prefix (configuration messages quote the value before it), and
// it unwraps to its kind.
type parseError struct {
	kind error
	msg  string
}

func (e *parseError) Error() string { return e.msg }
func (e *parseError) Unwrap() error { return e.kind }

func errorf(kind error, format string, args ...any) error {
	return &parseError{kind, fmt.Sprintf(format, args...)}
}

// part is literal text or one variable.
type part struct {
	lit string
	v   Var
	m   *Map // MapResult: the map
}

// Template is a parsed value: literal text and variables. The zero
// Template is empty. It is read-only after Parse and may be shared.
type Template struct {
	parts []part
	raw   string
	esc   escape // how the request's bytes are appended
}

// escape names how a variable's bytes are appended.
type escape uint8

const (
	escURL    escape = iota // control bytes, space and DEL percent-encoded
	escHeader               // control bytes but tab, and DEL, percent-encoded
	escRaw                  // as they are (a map's source: matched, not sent)
)

// Parse parses s: "$name" and "${name}" are variables (the name runs as
// far as letters, digits and '_' go, as nginx reads "$hostx" as $hostx,
// so "${host}x" is needed there). Any other '$' is ErrUnknown.
func Parse(s string) (Template, error) { return ParseCaptures(s, 0) }

// ParseCaptures is Parse for a value that may also name the first groups
// captures of a regular expression: $1..$9 (one digit, as nginx: "$12" is
// capture 1 then "2") or ${N}. Append expands them from Values.Subject and
// Values.Match.
func ParseCaptures(s string, groups int) (Template, error) { return ParseNamed(s, groups, nil) }

// ParseNamed is ParseCaptures for a regular expression whose groups may
// have names (regexp.Regexp.SubexpNames: names[i] is group i's, "" for
// none): "$name" and "${name}" then name capture i, as nginx's
// (?P<name>...) and (?<name>...) do. A built-in variable's name is never
// a capture's (the caller refuses such a group).
func ParseNamed(s string, groups int, names []string) (Template, error) {
	return Scope{Groups: groups, Names: names}.Parse(s)
}

// Scope is what a value may name besides the built-in variables: the
// groups of a regular expression (Groups of them, named as Names, see
// ParseNamed) and maps' results.
type Scope struct {
	Groups int
	Names  []string
	// Maps returns the map whose result is called name (without '$'),
	// or nil.
	Maps func(name string) *Map
	// Response allows the variables known once the response head is
	// written ($status, $upstream_addr, $upstream_status): a value
	// expanded then (add_header), with Prepared or with Values that
	// hold them.
	Response bool
	// Header marks a header field's value (add_header,
	// proxy_set_header): the request's bytes keep their spaces and
	// tabs, and only the other control bytes and DEL are
	// percent-encoded ("Mozilla/5.0 (X11)" stays as it is).
	Header bool
}

// Parse parses s as ParseNamed does, with sc's maps too. A map whose
// source is known only when the request is logged (Map.LogOnly) is
// refused.
func (sc Scope) Parse(s string) (Template, error) {
	groups, names := sc.Groups, sc.Names
	t := Template{raw: s}
	if sc.Header {
		t.esc = escHeader
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return Template{}, errorf(ErrControl, "control character 0x%02x", c)
		}
	}
	rest := s
	for rest != "" {
		i := strings.IndexByte(rest, '$')
		if i < 0 {
			t.parts = append(t.parts, part{lit: rest})
			break
		}
		if i > 0 {
			t.parts = append(t.parts, part{lit: rest[:i]})
		}
		rest = rest[i+1:]
		var name string
		switch {
		case strings.HasPrefix(rest, "{"):
			end := strings.IndexByte(rest, '}')
			if end < 0 {
				return Template{}, errorf(ErrUnknown, "'${' without '}'")
			}
			name, rest = rest[1:end], rest[end+1:]
		case rest != "" && rest[0] >= '0' && rest[0] <= '9':
			name, rest = rest[:1], rest[1:]
		default:
			j := 0
			for j < len(rest) && isNameByte(rest[j]) {
				j++
			}
			name, rest = rest[:j], rest[j:]
		}
		if n, err := strconv.Atoi(name); err == nil && name[0] != '-' && name[0] != '+' {
			if groups == 0 {
				return Template{}, errorf(ErrUnknown, "$%s: no capture groups here (captures come from a regex [location]'s or a rewrite's regex)", name)
			}
			if n < 1 || n > groups || n > maxCapture {
				return Template{}, errorf(ErrUnknown, "$%s, but the regex has %d capture group(s)", name, groups)
			}
			t.parts = append(t.parts, part{v: Capture + Var(n)})
			continue
		}
		v, ok := builtins[name]
		if !ok && name != "" {
			if i := indexOf(names, name); i > 0 && i <= maxCapture {
				t.parts = append(t.parts, part{v: Capture + Var(i)})
				continue
			}
		}
		if rv, isResp := responseVars[name]; isResp {
			if !sc.Response {
				return Template{}, errorf(ErrUnknown, "$%s: known only when the response is sent (add_header and log_format take it)", name)
			}
			v, ok = rv, true
		}
		if h, isHeader := strings.CutPrefix(name, "http_"); !ok && isHeader && h != "" {
			t.parts = append(t.parts, part{v: Header, lit: HeaderName(h)})
			continue
		}
		if m := sc.lookupMap(name); !ok && m != nil {
			if m.LogOnly {
				return Template{}, errorf(ErrLogOnly, "$%s: a map of $%s, which is known only when the request is logged (use it in log_format or access_log if=)", name, m.SourceName)
			}
			t.parts = append(t.parts, part{v: MapResult, m: m})
			continue
		}
		if !ok {
			if name == "" {
				return Template{}, errorf(ErrUnknown, "'$' without a variable name (known: %s)", Names())
			}
			known := Names()
			if sc.Response {
				known += " $status $upstream_addr $upstream_status"
			}
			for _, n := range names {
				if n != "" {
					known += " $" + n
				}
			}
			return Template{}, errorf(ErrUnknown, "unknown variable $%s (known: %s)", name, known)
		}
		t.parts = append(t.parts, part{v: v})
	}
	return t, nil
}

// HeaderName returns the header field name of $http_NAME's NAME: lower
// case, '-' for '_', as nginx reads it.
func HeaderName(name string) string {
	return strings.ReplaceAll(strings.ToLower(name), "_", "-")
}

// lookupMap returns sc's map called name, or nil.
func (sc Scope) lookupMap(name string) *Map {
	if sc.Maps == nil || name == "" {
		return nil
	}
	return sc.Maps(name)
}

// ErrLogOnly is matched by the error Parse returns for a map whose source
// is known only when the request is logged.
var ErrLogOnly = errors.New("vars: variable known only in the access log")

// maxCapture is the highest capture a Template may name.
const maxCapture = 99

// IsBuiltin reports whether name (without '$') is a built-in variable's,
// which no named capture may take.
func IsBuiltin(name string) bool {
	_, ok := builtins[name]
	return ok
}

// indexOf returns the index of name in names, or -1.
func indexOf(names []string, name string) int {
	for i, n := range names {
		if n == name {
			return i
		}
	}
	return -1
}

// MustParse is Parse for values known to be valid; it panics otherwise.
func MustParse(s string) Template {
	t, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return t
}

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

// String returns the text t was parsed from.
func (t Template) String() string { return t.raw }

// Empty reports whether t expands to nothing whatever the request.
func (t Template) Empty() bool { return len(t.parts) == 0 }

// Literal returns t's text and true when it holds no variable.
func (t Template) Literal() (string, bool) {
	for _, p := range t.parts {
		if p.v != literal {
			return "", false
		}
	}
	return t.raw, true
}

// AsText returns t expanded as Scope.Header parses it: the request's
// spaces and tabs kept, the other control bytes and DEL percent-encoded.
// For a value that is not a URL: a text body (return 200 TEXT).
func (t Template) AsText() Template {
	t.esc = escHeader
	return t
}

// Uses reports whether t holds variable v.
func (t Template) Uses(v Var) bool {
	for _, p := range t.parts {
		if p.v == v {
			return true
		}
	}
	return false
}

// UsesResponse reports whether t holds a variable known only once the
// response head is written (Scope.Response).
func (t Template) UsesResponse() bool {
	for _, p := range t.parts {
		if isResponseVar(p.v) {
			return true
		}
	}
	return false
}

// isResponseVar reports whether v is known only once the response head
// is written.
func isResponseVar(v Var) bool { return v == Status || v == UpstreamAddr || v == UpstreamStatus }

// UsesCaptures reports whether t holds a regular expression's capture.
func (t Template) UsesCaptures() bool {
	for _, p := range t.parts {
		if p.v >= Capture {
			return true
		}
	}
	return false
}

// Headers calls fn with the name of every header field t names
// ($http_NAME), as HeaderName gives it.
func (t Template) Headers(fn func(name string)) {
	for _, p := range t.parts {
		if p.v == Header {
			fn(p.lit)
		}
	}
}

// Maps calls fn with every map t names.
func (t Template) Maps(fn func(*Map)) {
	for _, p := range t.parts {
		if p.v == MapResult {
			fn(p.m)
		}
	}
}

// StartsWithVar reports whether t's first part is variable v.
func (t Template) StartsWithVar(v Var) bool {
	return len(t.parts) > 0 && t.parts[0].v == v
}

// Values are the bytes the variables of one request expand to. The caller
// fills the fields its templates use (see Template.Uses); the slices are
// only read during Append.
type Values struct {
	Scheme     []byte
	Host       []byte
	HTTPHost   []byte
	RequestURI []byte
	URI        []byte
	Args       []byte
	RemoteAddr []byte
	ServerPort []byte
	// XFF is the client's X-Forwarded-For value, for
	// $proxy_add_x_forwarded_for.
	XFF []byte
	// RequestID is $request_id's text.
	RequestID []byte
	// Subject and Match are a regular expression's subject and its
	// FindSubmatchIndex result, for captures.
	Subject []byte
	Match   []int
	// Maps keeps the request's map results (map.go); nil evaluates a
	// map at each use.
	Maps *MapCache
	// Headers gives the request's header fields, for $http_NAME; nil
	// expands them to nothing.
	Headers HeaderSource
	// Status, UpstreamAddr and UpstreamStatus are the response's
	// variables' texts ($status, $upstream_addr, $upstream_status), for
	// a template parsed with Scope.Response; the server writes them, and
	// Append copies them as they are.
	Status         []byte
	UpstreamAddr   []byte
	UpstreamStatus []byte
}

// HeaderSource gives a request's header fields.
type HeaderSource interface {
	// Header returns the value of the field called name (any case)
	// and whether the request has one.
	Header(name string) ([]byte, bool)
}

// Append appends t expanded with vals to dst.
func (t Template) Append(dst []byte, vals *Values) []byte { return t.AppendPath(dst, vals, nil) }

// AppendPath is Append for a request target: the captures and $uri,
// decoded path text, are appended with escapePath (which percent-encodes
// what a path may not hold: '?', '#', '%', spaces, bytes above 0x7f),
// the rest as Append does. A nil escapePath is Append.
func (t Template) AppendPath(dst []byte, vals *Values, escapePath func(dst, p []byte) []byte) []byte {
	return t.appendParts(dst, vals, escapePath, t.esc)
}

// appendParts is AppendPath with the variables' bytes appended as esc
// says (escRaw: as they are, for a map's source, which is matched, not
// sent).
func (t Template) appendParts(dst []byte, vals *Values, escapePath func(dst, p []byte) []byte, esc escape) []byte {
	for i := range t.parts {
		dst = appendPart(dst, &t.parts[i], vals, escapePath, esc)
	}
	return dst
}

// appendPart appends part p expanded with vals (see appendParts).
func appendPart(dst []byte, p *part, vals *Values, escapePath func(dst, p []byte) []byte, esc escape) []byte {
	switch p.v {
	case literal:
		dst = append(dst, p.lit...)
	case Scheme:
		dst = appendVal(esc, dst, vals.Scheme)
	case Host:
		dst = appendVal(esc, dst, vals.Host)
	case HTTPHost:
		dst = appendVal(esc, dst, vals.HTTPHost)
	case RequestURI:
		dst = appendVal(esc, dst, vals.RequestURI)
	case URI:
		if escapePath != nil {
			return escapePath(dst, vals.URI)
		}
		dst = appendVal(esc, dst, vals.URI)
	case Args:
		dst = appendVal(esc, dst, vals.Args)
	case IsArgs:
		if len(vals.Args) > 0 {
			dst = append(dst, '?')
		}
	case RemoteAddr:
		dst = appendVal(esc, dst, vals.RemoteAddr)
	case ServerPort:
		dst = appendVal(esc, dst, vals.ServerPort)
	case RequestID:
		dst = appendVal(esc, dst, vals.RequestID)
	case ProxyAddXFF:
		if len(vals.XFF) > 0 {
			dst = appendVal(esc, dst, vals.XFF)
			dst = append(dst, ", "...)
		}
		dst = appendVal(esc, dst, vals.RemoteAddr)
	case MapResult:
		dst = vals.appendMap(dst, p.m)
	case Header:
		if vals.Headers != nil {
			if b, ok := vals.Headers.Header(p.lit); ok {
				dst = appendVal(esc, dst, b)
			}
		}
	case Status, UpstreamAddr, UpstreamStatus:
		dst = appendResponse(dst, p.v, vals)
	default:
		if n := 2 * int(p.v-Capture); p.v >= Capture && n+1 < len(vals.Match) && vals.Match[n] >= 0 {
			if c := vals.Subject[vals.Match[n]:vals.Match[n+1]]; escapePath != nil {
				dst = escapePath(dst, c)
			} else {
				dst = appendVal(esc, dst, c)
			}
		}
	}
	return dst
}

// appendResponse appends response variable v's text from vals as it
// is: the server writes these texts (digits, the configuration's
// addresses, ", " between attempts), no client chooses their bytes.
func appendResponse(dst []byte, v Var, vals *Values) []byte {
	switch v {
	case Status:
		return append(dst, vals.Status...)
	case UpstreamAddr:
		return append(dst, vals.UpstreamAddr...)
	case UpstreamStatus:
		return append(dst, vals.UpstreamStatus...)
	}
	return dst
}

const hexDigits = "0123456789ABCDEF"

// appendVal appends b as esc says.
func appendVal(esc escape, dst, b []byte) []byte {
	switch esc {
	case escRaw:
		return append(dst, b...)
	case escHeader:
		return appendHeaderSafe(dst, b)
	}
	return appendSafe(dst, b)
}

// appendHeaderSafe appends b, percent-encoding control bytes other than
// tab, and DEL: what a header field's value may not hold.
func appendHeaderSafe(dst, b []byte) []byte {
	for _, c := range b {
		if (c < ' ' && c != '\t') || c == 0x7f {
			dst = append(dst, '%', hexDigits[c>>4], hexDigits[c&15])
			continue
		}
		dst = append(dst, c)
	}
	return dst
}

// appendSafe appends b, percent-encoding control bytes, space and DEL.
func appendSafe(dst, b []byte) []byte {
	for _, c := range b {
		if c <= ' ' || c == 0x7f {
			dst = append(dst, '%', hexDigits[c>>4], hexDigits[c&15])
			continue
		}
		dst = append(dst, c)
	}
	return dst
}
