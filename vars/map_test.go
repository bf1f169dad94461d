package vars

import (
	"errors"
	"fmt"
	"regexp"
	"testing"
)

// testMaps builds maps the nginx way for the tests: $uri -> $route with
// exact keys, regexes with captures and a default naming a variable;
// $route -> $tier (a map of a map); $args -> $nodefault.
func testMaps(t *testing.T) map[string]*Map {
	t.Helper()
	maps := map[string]*Map{}
	sc := Scope{Maps: func(n string) *Map { return maps[n] }}
	route := NewMap("route", 0)
	route.SourceName, route.Source = "uri", MustParse("$uri")
	maps["route"] = route
	must := func(tm Template, err error) Template {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	if err := route.AddExact("/old", must(sc.Parse("/new"))); err != nil {
		t.Fatal(err)
	}
	if err := route.AddExact("/Old", must(sc.Parse("/case"))); err != nil {
		t.Fatal(err)
	}
	if err := route.AddExact("/old", must(sc.Parse("/x"))); !errors.Is(err, ErrMapKey) {
		t.Errorf("duplicate key: %v, want ErrMapKey", err)
	}
	re := regexp.MustCompile(`^/u/(?P<id>\d+)$`)
	route.AddRegex(re, must(Scope{Groups: 1, Names: re.SubexpNames(), Maps: sc.Maps}.Parse("/user/$id")))
	re2 := regexp.MustCompile(`(?i)^/IMG/(.+)$`)
	route.AddRegex(re2, must(Scope{Groups: 1, Maps: sc.Maps}.Parse("img:$1")))
	route.AddRegex(regexp.MustCompile(`^/static/`), must(sc.Parse("static")))
	route.SetDefault(must(sc.Parse("other:$host")))

	tier := NewMap("tier", 1)
	tier.SourceName, tier.Source = "route", must(sc.Parse("$route"))
	maps["tier"] = tier
	tier.AddRegex(regexp.MustCompile(`^/user/`), must(sc.Parse("users($route)")))
	tier.SetDefault(must(sc.Parse("-")))

	nd := NewMap("nodefault", 2)
	nd.SourceName, nd.Source = "args", MustParse("$args")
	maps["nodefault"] = nd
	if err := nd.AddExact("a=1", must(sc.Parse("one"))); err != nil {
		t.Fatal(err)
	}
	// A value naming a map whose regex has captures too, while its own
	// are in use.
	wrap := NewMap("wrap", 3)
	wrap.SourceName, wrap.Source = "uri", MustParse("$uri")
	maps["wrap"] = wrap
	re3 := regexp.MustCompile(`^/u/(\d+)$`)
	wrap.AddRegex(re3, must(Scope{Groups: 1, Maps: sc.Maps}.Parse("[$1|$route|$1]")))
	return maps
}

func TestMap(t *testing.T) {
	maps := testMaps(t)
	sc := Scope{Maps: func(n string) *Map { return maps[n] }}
	tests := []struct {
		name, uri, args, in, want string
	}{
		{name: "exact", uri: "/old", in: "$route", want: "/new"},
		{name: "exact is case-sensitive", uri: "/Old", in: "$route", want: "/case"},
		{name: "named capture", uri: "/u/42", in: "[$route]", want: "[/user/42]"},
		{name: "case-insensitive regex", uri: "/img/a b", in: "$route", want: "img:a%20b"},
		{name: "regex without captures", uri: "/static/x.css", in: "$route", want: "static"},
		{name: "exact before regex", uri: "/old", in: "$tier", want: "-"},
		{name: "default with a variable", uri: "/nothing", in: "$route", want: "other:example.com"},
		{name: "map of a map", uri: "/u/7", in: "$tier", want: "users(/user/7)"},
		{name: "no default is empty", uri: "/", args: "b=2", in: "<$nodefault>", want: "<>"},
		{name: "args", uri: "/", args: "a=1", in: "$nodefault$route", want: "oneother:example.com"},
		{name: "nested captures", uri: "/u/42", in: "$wrap", want: "[42|/user/42|42]"},
		{name: "used twice", uri: "/u/1", in: "$route $route $tier", want: "/user/1 /user/1 users(/user/1)"},
	}
	var cache MapCache
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl, err := sc.Parse(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []*MapCache{nil, &cache} {
				if c != nil {
					c.Reset()
				}
				vals := &Values{URI: []byte(tt.uri), Args: []byte(tt.args), Host: []byte("example.com"), Maps: c}
				if got := string(tmpl.Append([]byte("prefix:"), vals)); got != "prefix:"+tt.want {
					t.Errorf("%q (cache %v): got %q, want %q", tt.in, c != nil, got, "prefix:"+tt.want)
				}
			}
		})
	}
}

// TestMapCache checks that a result is kept for the request and
// forgotten at Reset.
func TestMapCache(t *testing.T) {
	maps := testMaps(t)
	tmpl, _ := Scope{Maps: func(n string) *Map { return maps[n] }}.Parse("$route")
	var c MapCache
	c.Reset()
	vals := &Values{URI: []byte("/old"), Maps: &c}
	if got := string(tmpl.Append(nil, vals)); got != "/new" {
		t.Fatalf("got %q", got)
	}
	vals.URI = []byte("/u/5") // same request: the cached result
	if got := string(tmpl.Append(nil, vals)); got != "/new" {
		t.Errorf("cached: got %q, want /new", got)
	}
	c.Reset()
	if got := string(tmpl.Append(nil, vals)); got != "/user/5" {
		t.Errorf("after Reset: got %q, want /user/5", got)
	}
}

func TestMapParseErrors(t *testing.T) {
	logOnly := NewMap("loggable", 0)
	logOnly.SourceName, logOnly.LogOnly = "status", true
	sc := Scope{Maps: func(n string) *Map {
		if n == "loggable" {
			return logOnly
		}
		return nil
	}}
	if _, err := sc.Parse("x $loggable"); !errors.Is(err, ErrLogOnly) {
		t.Errorf("log-only map: %v, want ErrLogOnly", err)
	}
	if _, err := sc.Parse("$nomap"); !errors.Is(err, ErrUnknown) {
		t.Errorf("unknown: %v, want ErrUnknown", err)
	}
}

// TestMapResultBound: maps that name maps several times each are cut at
// MaxMapResult at every level, so the result and the work stay bounded.
func TestMapResultBound(t *testing.T) {
	maps := map[string]*Map{}
	sc := Scope{Maps: func(n string) *Map { return maps[n] }}
	const depth = 12
	for i := depth; i >= 0; i-- {
		m := NewMap(fmt.Sprintf("a%d", i), i)
		m.SourceName, m.Source = "uri", MustParse("$uri")
		val := "0123456789abcdef"
		if i < depth {
			n := fmt.Sprintf("$a%d", i+1)
			val = n + n + n + n
		}
		tm, err := sc.Parse(val)
		if err != nil {
			t.Fatal(err)
		}
		m.SetDefault(tm)
		maps[m.Name] = m
	}
	var c MapCache
	c.Reset()
	got := mustParseScope(t, sc, "$a0").Append(nil, &Values{URI: []byte("/"), Maps: &c})
	if len(got) != MaxMapResult {
		t.Errorf("result of %d bytes, want %d", len(got), MaxMapResult)
	}
}

// mustParseScope is sc.Parse(s), failing t on an error.
func mustParseScope(t *testing.T, sc Scope, s string) Template {
	t.Helper()
	tm, err := sc.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// headers is a request's header fields for $http_NAME, names in lower
// case.
type headers map[string]string

func (h headers) Header(name string) ([]byte, bool) {
	v, ok := h[name]
	return []byte(v), ok
}

// TestHeaderVar: $http_NAME in a value and as a map's source.
func TestHeaderVar(t *testing.T) {
	m := NewMap("plan", 0)
	m.SourceName, m.Source = "http_x_api_key", MustParse("$http_x_api_key")
	if err := m.AddExact("k1 k2", MustParse("gold")); err != nil {
		t.Fatal(err)
	}
	m.SetDefault(MustParse("free:$http_user_agent"))
	sc := Scope{Maps: func(n string) *Map { return map[string]*Map{"plan": m}[n] }}
	tmpl := mustParseScope(t, sc, "$plan|${http_X_Api_Key}|$http_none|")
	for _, tt := range []struct {
		h    headers
		want string
	}{
		{headers{"x-api-key": "k1 k2"}, "gold|k1%20k2||"},
		{headers{"user-agent": "curl/8\r\n"}, "free:curl/8%0D%0A|||"},
		{nil, "free:|||"},
	} {
		var c MapCache
		c.Reset()
		vals := &Values{Maps: &c}
		if tt.h != nil {
			vals.Headers = tt.h
		}
		if got := string(tmpl.Append(nil, vals)); got != tt.want {
			t.Errorf("%v: %q, want %q", tt.h, got, tt.want)
		}
	}
}
