package accesslog

import (
	"errors"
	"net/netip"
	"regexp"
	"testing"

	"github.com/nproxy/nproxy/vars"
)

// logMaps builds, the way the configuration does:
//
//	map $status $loggable { ~^[23] 0; default 1; }
//	map $http_x_tenant $tenant { acme "A:$host"; ~^(?<t>[a-z]+)-test$ "test:$t"; }
//	map $loggable $level { 1 warn; default info; }   (a map of a map)
//	map $uri $section { ~^/(?<s>[a-z]+)/ $s; }        (a map usable outside the log too)
func logMaps(t testing.TB) func(string) *vars.Map {
	maps := map[string]*vars.Map{}
	lookup := func(n string) *vars.Map { return maps[n] }
	sc := vars.Scope{Maps: lookup}
	parse := func(sc vars.Scope, s string) vars.Template {
		tm, err := sc.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	loggable := vars.NewMap("loggable", 0)
	loggable.SourceName, loggable.LogOnly = "status", true
	loggable.AddRegex(regexp.MustCompile(`^[23]`), parse(sc, "0"))
	loggable.SetDefault(parse(sc, "1"))
	maps["loggable"] = loggable

	tenant := vars.NewMap("tenant", 1)
	tenant.SourceName, tenant.LogOnly = "http_x_tenant", true
	if err := tenant.AddExact("acme", parse(sc, "A:$host")); err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`^(?P<t>[a-z]+)-test$`)
	tenant.AddRegex(re, parse(vars.Scope{Groups: 1, Names: re.SubexpNames(), Maps: lookup}, "test:$t"))
	maps["tenant"] = tenant

	level := vars.NewMap("level", 2)
	level.SourceName, level.LogOnly = "loggable", true
	if err := level.AddExact("1", parse(sc, "warn")); err != nil {
		t.Fatal(err)
	}
	level.SetDefault(parse(sc, "info"))
	maps["level"] = level

	section := vars.NewMap("section", 3)
	section.SourceName, section.Source = "uri", parse(sc, "$uri")
	re2 := regexp.MustCompile(`^/(?P<s>[a-z]+)/`)
	section.AddRegex(re2, parse(vars.Scope{Groups: 1, Names: re2.SubexpNames(), Maps: lookup}, "$s"))
	maps["section"] = section
	return lookup
}

func TestMapFormat(t *testing.T) {
	maps := logMaps(t)
	f, err := CompileMaps("m", "$status $loggable $level [$tenant] $section", EscapeDefault, maps)
	if err != nil {
		t.Fatal(err)
	}
	if !f.Uses(VarStatus) || !f.Uses(VarHost) || !f.Uses(VarURI) || len(f.Headers) != 1 {
		t.Errorf("uses: status %v host %v uri %v headers %v: a map's source and values need them",
			f.Uses(VarStatus), f.Uses(VarHost), f.Uses(VarURI), f.Headers)
	}
	tests := []struct {
		name   string
		status int
		tenant string
		uri    string
		want   string
	}{
		{name: "2xx", status: 200, tenant: "acme", uri: "/api/x", want: "200 0 info [A:a.example] api\n"},
		{name: "404", status: 404, tenant: "bob-test", uri: "/", want: "404 1 warn [test:bob] -\n"},
		{name: "no tenant", status: 304, uri: "/img/a", want: "304 0 info [-] img\n"},
		{name: "no match, no default", status: 500, tenant: "Acme", uri: "/x", want: "500 1 warn [-] -\n"},
	}
	l := &Log{timeSec: -1}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &Entry{Status: tt.status, Host: []byte("a.example"), URI: []byte(tt.uri)}
			if tt.tenant != "" {
				e.Headers[0] = []byte(tt.tenant)
			}
			l.format = f
			l.maps.Reset()
			if got := string(l.append(nil, f, e)); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestMapCondition: access_log if=$loggable with a map of $status logs
// what is neither 2xx nor 3xx.
func TestMapCondition(t *testing.T) {
	l, err := Open(t.TempDir() + "/access.log")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	f, err := Combined.WithConditionMaps("$loggable", logMaps(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		status int
		wrote  bool
	}{{200, false}, {301, false}, {404, true}, {502, true}, {204, false}} {
		e := entryAll()
		e.Status = tt.status
		before := len(l.buf)
		l.Write(f, e)
		if wrote := len(l.buf) > before; wrote != tt.wrote {
			t.Errorf("status %d: wrote %v, want %v", tt.status, wrote, tt.wrote)
		}
	}
	if _, err := Combined.WithConditionMaps("$nomap", logMaps(t)); !errors.Is(err, ErrUnknownVar) {
		t.Errorf("unknown map: %v", err)
	}
}

// TestMapSourceNotLogged: a map of a variable the log does not have is a
// compile error.
func TestMapSourceNotLogged(t *testing.T) {
	m := vars.NewMap("a", 0)
	m.SourceName, m.Source = "is_args", vars.MustParse("$is_args")
	_, err := CompileMaps("x", "$a", EscapeDefault, func(n string) *vars.Map {
		if n == "a" {
			return m
		}
		return nil
	})
	if !errors.Is(err, ErrUnknownVar) {
		t.Errorf("got %v, want ErrUnknownVar", err)
	}
}

// entryWithTenant is an entry for a format whose only header field is
// X-Tenant.
func entryWithTenant(tenant string) *Entry {
	e := entryAll()
	e.Addr = netip.MustParseAddr("192.0.2.1")
	e.Headers[0] = []byte(tenant)
	return e
}

// TestMapHeaderValue: a map's value naming $http_NAME makes the format
// collect that field, and the line shows it.
func TestMapHeaderValue(t *testing.T) {
	m := vars.NewMap("who", 0)
	m.SourceName, m.Source = "http_x_api_key", vars.MustParse("$http_x_api_key")
	if err := m.AddExact("k1", vars.MustParse("gold:$http_x_user")); err != nil {
		t.Fatal(err)
	}
	f, err := CompileMaps("h", "$status $who", EscapeDefault, func(n string) *vars.Map {
		if n == "who" {
			return m
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Headers) != 2 || f.Headers[0] != "x-api-key" || f.Headers[1] != "x-user" {
		t.Fatalf("headers %v, want the source's and the value's", f.Headers)
	}
	l := &Log{timeSec: -1}
	e := &Entry{Status: 200}
	e.Headers[0], e.Headers[1] = []byte("k1"), []byte("ann")
	l.format = f
	l.maps.Reset()
	if got := string(l.append(nil, f, e)); got != "200 gold:ann\n" {
		t.Errorf("got %q", got)
	}
}
