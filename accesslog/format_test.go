package accesslog

import (
	"encoding/json"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/nproxy/nproxy/http"
)

// hdrs returns Entry.Headers for the combined format: Referer, then
// User-Agent ("" for an absent one).
func hdrs(referer, ua string) (h [MaxHeaders][]byte) {
	if referer != "" {
		h[0] = []byte(referer)
	}
	if ua != "" {
		h[1] = []byte(ua)
	}
	return h
}

// entryAll is an entry with every field set, for a proxied request that
// was tried on two backends.
func entryAll() *Entry {
	up := &http.StreamLog{}
	up.Start("10.0.0.1:80")
	up.Tries[0].Status, up.Tries[0].ResponseNs = 502, 1e6
	up.Start("[::1]:8080")
	up.Tries[1].Status, up.Tries[1].ConnectNs, up.Tries[1].ResponseNs = 200, 2e6, 15e6
	return &Entry{
		Addr: netip.MustParseAddr("192.0.2.7"), Time: time.Unix(1_700_000_000, 123e6).UTC(), Status: 200,
		BodyBytes: 612, BytesSent: 800, DurationNs: 1234567890,
		Request: []byte("GET /a%20b?x=1 HTTP/1.1"), Method: []byte("GET"), RequestURI: []byte("/a%20b?x=1"),
		URI: []byte("/a b"), Args: []byte("x=1"), Host: []byte("a.example"), Protocol: "HTTP/1.1",
		Scheme: "https", ServerName: "a.example", ServerPort: "443",
		RequestID: []byte("0123456789abcdef0123456789abcdef"), Upstream: up,
	}
}

func TestFormatVariables(t *testing.T) {
	at := time.Unix(1_700_000_000, 123e6)
	tests := []struct {
		tmpl string
		esc  Escape
		e    func(e *Entry)
		want string
	}{
		{tmpl: "$remote_addr $remote_user $status $body_bytes_sent $bytes_sent", want: "192.0.2.7 - 200 612 800"},
		{tmpl: "$request|$request_method|$request_uri|$uri|$args|$scheme|$server_protocol", want: "GET /a%20b?x=1 HTTP/1.1|GET|/a%20b?x=1|/a b|x=1|https|HTTP/1.1"},
		{tmpl: "$host $server_name $server_port ${request_id}", want: "a.example a.example 443 0123456789abcdef0123456789abcdef"},
		{tmpl: "$request_time $msec", want: "1.234 1700000000.123"},
		{tmpl: "$time_iso8601|$time_local", want: at.Local().Format("2006-01-02T15:04:05-07:00") + "|" + at.Local().Format("02/Jan/2006:15:04:05 -0700")},
		{tmpl: "$upstream_addr|$upstream_status|$upstream_connect_time|$upstream_response_time", want: "10.0.0.1:80, [::1]:8080|502, 200|-, 0.002|0.001, 0.015"},
		{tmpl: "$upstream_addr $upstream_status", e: func(e *Entry) { e.Upstream = nil }, want: "- -"},
		{tmpl: "$http_x_trace|$http_X_Trace|$http_user_agent", e: func(e *Entry) { e.Headers[0] = []byte("t1") }, want: "t1|t1|-"},
		{tmpl: `"$uri"`, e: func(e *Entry) { e.URI = []byte("/a\"b\\c\x01\xff") }, want: `"/a\x22b\x5Cc\x01\xFF"`},
		{tmpl: `{"u":"$uri","a":"$args"}`, esc: EscapeJSON, e: func(e *Entry) { e.URI, e.Args = []byte("/a\"b\\c\n\x01é\xff"), nil }, want: `{"u":"/a\"b\\c\n\u0001é\u00FF","a":""}`},
		{tmpl: `$uri`, esc: EscapeNone, e: func(e *Entry) { e.URI = []byte("/a\"b") }, want: `/a"b`},
		{tmpl: "$$status", want: ""}, // an error: see TestCompileErrors
	}
	for _, tt := range tests {
		f, err := Compile("t", tt.tmpl, tt.esc)
		if tt.want == "" {
			if err == nil {
				t.Errorf("Compile(%q) succeeded", tt.tmpl)
			}
			continue
		}
		if err != nil {
			t.Fatalf("Compile(%q): %v", tt.tmpl, err)
		}
		e := entryAll()
		if tt.e != nil {
			tt.e(e)
		}
		l := &Log{timeSec: -1}
		if got := string(l.append(nil, f, e)); got != tt.want+"\n" {
			t.Errorf("%q:\n got %q\nwant %q", tt.tmpl, got, tt.want+"\n")
		}
	}
}

// TestJSONFormat: the built-in json format writes one valid JSON object
// per line, whatever bytes the request holds.
func TestJSONFormat(t *testing.T) {
	f := Builtin("json")
	for _, mod := range []func(e *Entry){
		func(e *Entry) {},
		func(e *Entry) {
			e.Request = []byte("GET /\"\\\x00\x1f\x7f\xc3\x28\xff HTTP/1.1")
			e.Headers[1] = []byte("ua \"q\"\t")
		},
		func(e *Entry) { *e = Entry{Time: e.Time, Status: 400} }, // an unparsed request: empty values
	} {
		e := entryAll()
		mod(e)
		l := &Log{timeSec: -1}
		line := l.append(nil, f, e)
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, line)
		}
		if m["status"] != float64(e.Status) {
			t.Errorf("status %v, want %d: %s", m["status"], e.Status, line)
		}
		if e.Request != nil && m["request"] != strings.ToValidUTF8(string(e.Request), "") && !strings.Contains(string(line), `\u00FF`) {
			t.Errorf("request %q: %s", m["request"], line)
		}
	}
	e := entryAll()
	l := &Log{timeSec: -1}
	var m map[string]any
	json.Unmarshal(l.append(nil, f, e), &m)
	for k, want := range map[string]any{"remote_addr": "192.0.2.7", "request_id": "0123456789abcdef0123456789abcdef",
		"upstream_addr": "10.0.0.1:80, [::1]:8080", "upstream_status": "502, 200", "request_time": 1.234, "bytes_sent": 800.0} {
		if m[k] != want {
			t.Errorf("%s = %v, want %v", k, m[k], want)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	for _, tt := range []struct {
		tmpl string
		kind error
		msg  string
	}{
		{"$nope", ErrUnknownVar, "$nope"},
		{"a $ b", ErrUnknownVar, "without a variable name"},
		{"${status", ErrFormat, "missing '}'"},
		{"x\ty", ErrFormat, "control character"},
		{"$http_a $http_b $http_c $http_d $http_e $http_f $http_g $http_h $http_i", ErrFormat, "more than 8"},
	} {
		_, err := Compile("t", tt.tmpl, EscapeDefault)
		if !errors.Is(err, tt.kind) || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("Compile(%q) = %v, want %v with %q", tt.tmpl, err, tt.kind, tt.msg)
		}
	}
}

// TestCopyBytes: an entry copied out of the request buffer survives the
// buffer's reuse, and the copy reuses its own buffer.
func TestCopyBytes(t *testing.T) {
	req := []byte("GET /x HTTP/1.1")
	e := Entry{Request: req, Method: req[:3], Headers: hdrs("r", "")}
	buf := e.CopyBytes(nil)
	copy(req, "XXXXXXXXXXXXXXX")
	if string(e.Request) != "GET /x HTTP/1.1" || string(e.Method) != "GET" || string(e.Headers[0]) != "r" || e.Headers[1] != nil {
		t.Errorf("copy lost: %q %q %q %v", e.Request, e.Method, e.Headers[0], e.Headers[1])
	}
	e2 := Entry{Request: []byte("GET /y HTTP/1.1")}
	if n := testing.AllocsPerRun(100, func() { buf = e2.CopyBytes(buf) }); n != 0 {
		t.Errorf("CopyBytes into a buffer with room: %v allocs", n)
	}
}

// TestCondition: a format with if=$VAR writes a line only when the
// variable is neither empty nor "0".
func TestCondition(t *testing.T) {
	l, err := Open(t.TempDir() + "/access.log")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	f, err := Combined.WithCondition("$http_x_log")
	if err != nil {
		t.Fatal(err)
	}
	if len(Combined.Headers) != 2 || len(f.Headers) != 3 {
		t.Fatalf("headers: combined %v, conditioned %v", Combined.Headers, f.Headers)
	}
	for _, tt := range []struct {
		val   string
		wrote bool
	}{{"1", true}, {"0", false}, {"", false}, {"yes", true}} {
		e := entryAll()
		if tt.val != "" {
			e.Headers[2] = []byte(tt.val)
		}
		before := len(l.buf)
		l.Write(f, e)
		if wrote := len(l.buf) > before; wrote != tt.wrote {
			t.Errorf("X-Log %q: wrote %v, want %v", tt.val, wrote, tt.wrote)
		}
	}
	up, _ := Combined.WithCondition("${upstream_addr}")
	e := entryAll()
	e.Upstream = nil
	before := len(l.buf)
	l.Write(up, e)
	if len(l.buf) != before {
		t.Error("if=$upstream_addr wrote a line for a request that was not proxied")
	}
	for _, bad := range []string{"nope", "$", "$nope", "${status", "$a-b"} {
		if _, err := Combined.WithCondition(bad); err == nil {
			t.Errorf("WithCondition(%q) succeeded", bad)
		}
	}
}
