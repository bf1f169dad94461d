package accesslog

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/nproxy/nproxy/vars"
)

// Var is one variable a log format may hold, with nginx's name and
// meaning.
type Var uint8

const (
	literal                 Var = iota // not a variable: the op's text
	VarRemoteAddr                      // $remote_addr: the client's address (after real_ip)
	VarRemoteUser                      // $remote_user: the user of basic authentication ("-": not logged)
	VarTimeLocal                       // $time_local: 02/Jan/2006:15:04:05 -0700
	VarTimeISO8601                     // $time_iso8601: 2006-01-02T15:04:05-07:00
	VarMsec                            // $msec: Unix time in seconds with milliseconds
	VarRequest                         // $request: the request line as received (HTTP/2: METHOD URI HTTP/2.0)
	VarRequestMethod                   // $request_method
	VarRequestURI                      // $request_uri: the request-target as sent
	VarURI                             // $uri: the decoded, normalized path (after rewrites)
	VarArgs                            // $args: the query string without '?'
	VarScheme                          // $scheme: http or https
	VarServerProtocol                  // $server_protocol: HTTP/1.0, HTTP/1.1, HTTP/2.0
	VarHost                            // $host: the Host's name, lower case, without port; else server_name
	VarServerName                      // $server_name: the [server] block's first server_name
	VarServerPort                      // $server_port: the port the connection came in on
	VarStatus                          // $status
	VarBodyBytesSent                   // $body_bytes_sent: the response body's bytes
	VarBytesSent                       // $bytes_sent: head and body bytes sent to the client
	VarRequestTime                     // $request_time: seconds, from the request's first byte to the log line
	VarRequestID                       // $request_id: 32 hex digits, random, one per request
	VarUpstreamAddr                    // $upstream_addr: every backend tried, ", " between them
	VarUpstreamStatus                  // $upstream_status: each try's status
	VarUpstreamConnectTime             // $upstream_connect_time: each try's connect time, seconds
	VarUpstreamResponseTime            // $upstream_response_time: each try's time to the end of its response
	VarHTTP                            // $http_NAME: a request header field (the op names it)
	VarMap                             // a map's result (the op names the map; maps.go)
	numVars
)

// varNames maps each variable's name (without '$') to it.
var varNames = map[string]Var{
	"remote_addr":            VarRemoteAddr,
	"remote_user":            VarRemoteUser,
	"time_local":             VarTimeLocal,
	"time_iso8601":           VarTimeISO8601,
	"msec":                   VarMsec,
	"request":                VarRequest,
	"request_method":         VarRequestMethod,
	"request_uri":            VarRequestURI,
	"uri":                    VarURI,
	"document_uri":           VarURI,
	"args":                   VarArgs,
	"query_string":           VarArgs,
	"scheme":                 VarScheme,
	"server_protocol":        VarServerProtocol,
	"host":                   VarHost,
	"server_name":            VarServerName,
	"server_port":            VarServerPort,
	"status":                 VarStatus,
	"body_bytes_sent":        VarBodyBytesSent,
	"bytes_sent":             VarBytesSent,
	"request_time":           VarRequestTime,
	"request_id":             VarRequestID,
	"upstream_addr":          VarUpstreamAddr,
	"upstream_status":        VarUpstreamStatus,
	"upstream_connect_time":  VarUpstreamConnectTime,
	"upstream_response_time": VarUpstreamResponseTime,
}

// VarNames returns every variable name a format accepts, with '$', for
// messages and documentation; $http_NAME stands for the header fields.
func VarNames() string {
	out := make([]string, 0, len(varNames)+1)
	for n := range varNames {
		out = append(out, "$"+n)
	}
	sort.Strings(out)
	return strings.Join(append(out, "$http_NAME"), " ")
}

// Escape is how a format writes the variables' values (nginx's
// log_format escape=).
type Escape uint8

const (
	// EscapeDefault writes '"', '\', control bytes and bytes from 0x7f
	// as \xHH, and an empty value as "-" (nginx's default).
	EscapeDefault Escape = iota
	// EscapeJSON writes values as the inside of a JSON string: '"' and
	// '\' escaped, control bytes and bytes that are not UTF-8 as \u00HH;
	// an empty value is empty.
	EscapeJSON
	// EscapeNone writes values as they are; an empty value is empty.
	EscapeNone
)

// MaxHeaders bounds the distinct $http_NAME variables of one format.
const MaxHeaders = 8

// op is one part of a compiled format: literal text or a variable.
type op struct {
	v   Var
	lit string    // literal text
	hdr int       // VarHTTP: index into Format.Headers
	m   *vars.Map // VarMap: the map
	src *op       // VarMap: the map's source
}

// Format is a compiled log_format: the list of operations a line is
// made of. It is read-only once compiled and may be shared.
type Format struct {
	Name    string
	ops     []op
	escape  Escape
	uses    uint64   // bit v set when the format holds variable v
	Headers []string // the $http_NAME fields, as header names (user-agent), in Entry.Headers order
	fixed   int      // bytes of literal text
	// cond, when set, is access_log's if=$VAR: a line is written only
	// when the variable is neither empty nor "0".
	cond *op
	// maps names the maps' results the format may hold (CompileMaps).
	maps func(name string) *vars.Map
	// hostHdr and xffHdr index Headers for the Host and X-Forwarded-For
	// fields a map's value needs ($http_host, $proxy_add_x_forwarded_for),
	// -1 when none does.
	hostHdr, xffHdr int
}

// WithCondition returns a copy of f that writes a line only when
// variable v ("$name" or "${name}", any variable a format may hold) is
// neither empty nor "0": nginx's access_log if=.
func (f *Format) WithCondition(v string) (*Format, error) { return f.WithConditionMaps(v, f.maps) }

// WithConditionMaps is WithCondition for a variable that may also be one
// of maps' results.
func (f *Format) WithConditionMaps(v string, maps func(name string) *vars.Map) (*Format, error) {
	name, ok := strings.CutPrefix(v, "$")
	if braced, ok2 := strings.CutPrefix(name, "{"); ok2 {
		name, ok = strings.CutSuffix(braced, "}")
	}
	if !ok || name == "" || strings.IndexFunc(name, func(r rune) bool { return r > 0x7f || !isNameByte(byte(r)) }) >= 0 {
		return nil, fmt.Errorf("%w: if=%s: want if=$VARIABLE", ErrFormat, v)
	}
	g := *f
	g.Headers = append([]string(nil), f.Headers...)
	g.maps = maps
	o, err := g.variable(name)
	if err != nil {
		return nil, err
	}
	g.cond = &o
	g.uses |= 1 << o.v
	return &g, nil
}

// Uses reports whether the format holds variable v.
func (f *Format) Uses(v Var) bool { return f.uses&(1<<v) != 0 }

// ErrUnknownVar is matched (errors.Is) by Compile's error for a '$' that
// does not start a known variable.
var ErrUnknownVar = errors.New("accesslog: unknown variable")

// ErrFormat is matched by Compile's other errors.
var ErrFormat = errors.New("accesslog: bad log format")

// Compile parses template into a Format named name: "$name" and
// "${name}" are variables (the name runs as far as letters, digits and
// '_' go); any other text is written as it is.
func Compile(name, template string, esc Escape) (*Format, error) {
	return CompileMaps(name, template, esc, nil)
}

// CompileMaps is Compile for a template that may also name the results
// of maps: maps returns the map called name (without '$'), or nil.
func CompileMaps(name, template string, esc Escape, maps func(name string) *vars.Map) (*Format, error) {
	f := &Format{Name: name, escape: esc, maps: maps, hostHdr: -1, xffHdr: -1}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			f.ops = append(f.ops, op{lit: lit.String()})
			f.fixed += lit.Len()
			lit.Reset()
		}
	}
	for i := 0; i < len(template); i++ {
		c := template[i]
		if c < 0x20 || c == 0x7f {
			return nil, fmt.Errorf("%w: control character in the template", ErrFormat)
		}
		if c != '$' {
			lit.WriteByte(c)
			continue
		}
		j := i + 1
		braced := j < len(template) && template[j] == '{'
		if braced {
			j++
		}
		k := j
		for k < len(template) && isNameByte(template[k]) {
			k++
		}
		vn := template[j:k]
		if braced {
			if k >= len(template) || template[k] != '}' {
				return nil, fmt.Errorf("%w: %q: missing '}'", ErrFormat, template[i:])
			}
			k++
		}
		if vn == "" {
			return nil, fmt.Errorf("%w: '$' without a variable name", ErrUnknownVar)
		}
		flush()
		o, err := f.variable(vn)
		if err != nil {
			return nil, err
		}
		f.ops = append(f.ops, o)
		f.uses |= 1 << o.v
		i = k - 1
	}
	flush()
	return f, nil
}

// variable returns the op of variable vn (a name without '$').
func (f *Format) variable(vn string) (op, error) {
	if h, ok := strings.CutPrefix(vn, "http_"); ok && h != "" {
		i, err := f.header(vars.HeaderName(h))
		if err != nil {
			return op{}, err
		}
		return op{v: VarHTTP, hdr: i}, nil
	}
	v, ok := varNames[vn]
	if !ok {
		if m := f.lookupMap(vn); m != nil {
			return f.mapOp(m, 0)
		}
		return op{}, fmt.Errorf("%w $%s (known: %s)", ErrUnknownVar, vn, VarNames())
	}
	return op{v: v}, nil
}

// header returns the index in f.Headers of the field name (as
// vars.HeaderName gives it), adding it if it is not there.
func (f *Format) header(name string) (int, error) {
	for i, x := range f.Headers {
		if x == name {
			return i, nil
		}
	}
	if len(f.Headers) == MaxHeaders {
		return 0, fmt.Errorf("%w: more than %d $http_ variables", ErrFormat, MaxHeaders)
	}
	f.Headers = append(f.Headers, name)
	return len(f.Headers) - 1, nil
}

func isNameByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_'
}

// The built-in formats.
const (
	// CombinedTemplate is nginx's "combined" format.
	CombinedTemplate = `$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"`
	// JSONTemplate is the "json" format: one JSON object per line.
	JSONTemplate = `{"time":"$time_iso8601","remote_addr":"$remote_addr","request_id":"$request_id",` +
		`"host":"$host","server_name":"$server_name","request":"$request","request_method":"$request_method",` +
		`"request_uri":"$request_uri","status":$status,"body_bytes_sent":$body_bytes_sent,"bytes_sent":$bytes_sent,` +
		`"request_time":$request_time,"http_referer":"$http_referer","http_user_agent":"$http_user_agent",` +
		`"upstream_addr":"$upstream_addr","upstream_status":"$upstream_status",` +
		`"upstream_connect_time":"$upstream_connect_time","upstream_response_time":"$upstream_response_time"}`
)

// Builtin returns a fresh compiled built-in format by name ("combined",
// "json"), or nil.
func Builtin(name string) *Format {
	var f *Format
	switch name {
	case "combined":
		f, _ = Compile(name, CombinedTemplate, EscapeDefault)
	case "json":
		f, _ = Compile(name, JSONTemplate, EscapeJSON)
	}
	return f
}

// Combined is the compiled combined format.
var Combined = Builtin("combined")
