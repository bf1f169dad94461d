package vars

import (
	"errors"
	"regexp"
	"testing"
)

func TestAppend(t *testing.T) {
	vals := &Values{
		Scheme: []byte("https"), Host: []byte("example.com"), HTTPHost: []byte("Example.com:8443"),
		RequestURI: []byte("/a%20b?x=1"), URI: []byte("/a b\r\nX: y"), Args: []byte("x=1"),
		RemoteAddr: []byte("192.0.2.7"), ServerPort: []byte("8443"), XFF: []byte("198.51.100.1"),
	}
	tests := []struct {
		name, in, want string
	}{
		{name: "literal", in: "max-age=31536000", want: "max-age=31536000"},
		{name: "redirect", in: "https://$host$request_uri", want: "https://example.com/a%20b?x=1"},
		{name: "braces", in: "${scheme}x", want: "httpsx"},
		{name: "control bytes encoded", in: "$uri", want: "/a%20b%0D%0AX:%20y"},
		{name: "is_args", in: "$uri$is_args$args", want: "/a%20b%0D%0AX:%20y?x=1"},
		{name: "xff", in: "$proxy_add_x_forwarded_for", want: "198.51.100.1, 192.0.2.7"},
		{name: "port", in: "$http_host:$server_port", want: "Example.com:8443:8443"},
		{name: "empty", in: "", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl, err := Parse(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := string(tmpl.Append(nil, vals)); got != tt.want {
				t.Errorf("%q: got %q, want %q", tt.in, got, tt.want)
			}
		})
	}
	vals.XFF = nil
	if got := string(MustParse("$proxy_add_x_forwarded_for").Append(nil, vals)); got != "192.0.2.7" {
		t.Errorf("xff without a client header: %q", got)
	}
}

func TestCaptures(t *testing.T) {
	re := regexp.MustCompile(`^/old/([a-z]+)/(.*)$`)
	tmpl, err := ParseCaptures("https://$host/new/$2/${1}$12", re.NumSubexp())
	if err != nil {
		t.Fatal(err)
	}
	subj := []byte("/old/abc/x/y")
	vals := &Values{Host: []byte("h"), Subject: subj, Match: re.FindSubmatchIndex(subj)}
	if got := string(tmpl.Append(nil, vals)); got != "https://h/new/x/y/abcabc2" {
		t.Errorf("got %q", got)
	}
	if _, err := ParseCaptures("/$3", 2); !errors.Is(err, ErrUnknown) {
		t.Errorf("$3 of 2 groups: %v", err)
	}
}

// TestNamedCaptures checks (?P<name>...) groups: $name and ${name} expand
// them, a built-in name stays the variable, and an unknown name is
// ErrUnknown.
func TestNamedCaptures(t *testing.T) {
	re := regexp.MustCompile(`^/u/(?P<user>[a-z]+)/(?P<rest>.*)$`)
	tmpl, err := ParseNamed("/$user/${rest}x/$1/$host", re.NumSubexp(), re.SubexpNames())
	if err != nil {
		t.Fatal(err)
	}
	if !tmpl.UsesCaptures() || MustParse("$host").UsesCaptures() {
		t.Error("UsesCaptures")
	}
	subj := []byte("/u/ann/a b")
	vals := &Values{Host: []byte("h"), Subject: subj, Match: re.FindSubmatchIndex(subj)}
	if got := string(tmpl.Append(nil, vals)); got != "/ann/a%20bx/ann/h" {
		t.Errorf("got %q", got)
	}
	if _, err := ParseNamed("/$users", re.NumSubexp(), re.SubexpNames()); !errors.Is(err, ErrUnknown) {
		t.Errorf("$users: %v", err)
	}
	if !IsBuiltin("host") || IsBuiltin("user") {
		t.Error("IsBuiltin")
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		in   string
		want error
	}{
		{"$nope", ErrUnknown},
		{"a$", ErrUnknown},
		{"${host", ErrUnknown},
		{"$1", ErrUnknown},
		{"a\nb", ErrControl},
		{"a\x7fb", ErrControl},
	}
	for _, tt := range tests {
		if _, err := Parse(tt.in); !errors.Is(err, tt.want) {
			t.Errorf("Parse(%q): %v, want %v", tt.in, err, tt.want)
		}
	}
}

func TestLiteral(t *testing.T) {
	if s, ok := MustParse("no-store").Literal(); !ok || s != "no-store" {
		t.Errorf("literal: %q %v", s, ok)
	}
	if _, ok := MustParse("x$host").Literal(); ok {
		t.Error("a template with a variable is not literal")
	}
	if !MustParse("$host$uri").Uses(URI) || MustParse("$host").Uses(URI) {
		t.Error("Uses")
	}
}

// TestAppendHeader checks a header value's escaping (Scope.Header): the
// request's spaces and tabs stay, which a field value may hold; the
// other control bytes and DEL are percent-encoded, so that no value can
// end the line; a URL's value (the default) still encodes spaces.
func TestAppendHeader(t *testing.T) {
	vals := &Values{
		URI: []byte("/a b\r\nX: y\x7f"), XFF: []byte("198.51.100.1, 203.0.113.9"), RemoteAddr: []byte("192.0.2.7"),
		Headers: testHeaders{"user-agent": "Mozilla/5.0 (X11; Linux x86_64)\tx"},
	}
	tests := []struct {
		in, header, url string
	}{
		{"$http_user_agent", "Mozilla/5.0 (X11; Linux x86_64)\tx", "Mozilla/5.0%20(X11;%20Linux%20x86_64)%09x"},
		{"$proxy_add_x_forwarded_for", "198.51.100.1, 203.0.113.9, 192.0.2.7", "198.51.100.1,%20203.0.113.9, 192.0.2.7"},
		{"[$uri]", "[/a b%0D%0AX: y%7F]", "[/a%20b%0D%0AX:%20y%7F]"},
	}
	for _, tt := range tests {
		h, err := (Scope{Header: true}).Parse(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(h.Append(nil, vals)); got != tt.header {
			t.Errorf("header %q: got %q, want %q", tt.in, got, tt.header)
		}
		var p Prepared
		p.Add(h, vals)
		if got := string(p.Append(nil, 0, vals)); got != tt.header {
			t.Errorf("prepared header %q: got %q, want %q", tt.in, got, tt.header)
		}
		if got := string(MustParse(tt.in).Append(nil, vals)); got != tt.url {
			t.Errorf("url %q: got %q, want %q", tt.in, got, tt.url)
		}
	}
}

// testHeaders is a request's header fields by lower-case name.
type testHeaders map[string]string

func (h testHeaders) Header(name string) ([]byte, bool) {
	v, ok := h[name]
	return []byte(v), ok
}
