package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRoutesGolden loads every testdata/routes/*.ini and compares what
// `nproxy -t` would print (the problems, or the warnings and
// "configuration ok") with testdata/routes/NAME.golden. Run
// `go test ./config -run RoutesGolden -update` to accept new output.
func TestRoutesGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/routes/*.ini")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/routes/*.ini: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".ini")
		t.Run(name, func(t *testing.T) {
			got := checkOutput(Load(file))
			golden := strings.TrimSuffix(file, ".ini") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("%s:\ngot:\n%s\nwant:\n%s", file, got, want)
			}
		})
	}
}

// TestLocationSettings checks what each location of testdata/routes/ok.ini
// matches and what it inherits from its [server].
func TestLocationSettings(t *testing.T) {
	cfg, err := Load("testdata/routes/ok.ini")
	if err != nil {
		t.Fatal(err)
	}
	srv := cfg.Servers[0]
	www, _ := filepath.Abs("testdata/www")
	if len(srv.Locations) != 6 {
		t.Fatalf("%d locations, want 6", len(srv.Locations))
	}
	tests := []struct {
		name     string
		loc      *Location
		kind     MatchKind
		path     string
		static   string
		backends int
		balance  string
		strip    bool
		owns     []Group
	}{
		{name: "prefix proxy", loc: srv.Locations[0], kind: MatchPrefix, path: "/api/", backends: 2, balance: "least_conn", strip: true, owns: []Group{GroupProxy}},
		{name: "final prefix", loc: srv.Locations[1], kind: MatchPrefixFinal, path: "/auth/", backends: 1, balance: "round_robin", owns: []Group{GroupProxy}},
		{name: "exact inherits static", loc: srv.Locations[2], kind: MatchExact, path: "/favicon.ico", static: www, balance: "round_robin", owns: []Group{GroupProxy}},
		{name: "regex rate", loc: srv.Locations[3], kind: MatchRegex, static: www, balance: "round_robin", owns: []Group{GroupLimit}},
		{name: "alias", loc: srv.Locations[4], kind: MatchPrefix, path: "/img/", static: www, balance: "round_robin", strip: true, owns: []Group{GroupStatic}},
		{name: "regex static", loc: srv.Locations[5], kind: MatchRegex, static: www, balance: "round_robin", owns: []Group{GroupStatic}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			loc, s := tt.loc, tt.loc.Server
			if loc.Kind != tt.kind || loc.Path != tt.path {
				t.Errorf("match %q: kind %d path %q, want %d %q", loc.Match, loc.Kind, loc.Path, tt.kind, tt.path)
			}
			if s.StaticRoot != tt.static || len(s.ProxyPass) != tt.backends || s.Balance != tt.balance || s.StripPrefix != tt.strip {
				t.Errorf("settings: static %q, %d backends, balance %s, strip %v", s.StaticRoot, len(s.ProxyPass), s.Balance, s.StripPrefix)
			}
			if s.ProxyTimeout.Seconds() != 30 || s.Locations != nil || s.Listen[0] != "127.0.0.1:8080" {
				t.Errorf("not inherited from the server: proxy_timeout %v, listen %v", s.ProxyTimeout, s.Listen)
			}
			for _, g := range []Group{GroupProxy, GroupStatic, GroupLimit} {
				want := false
				for _, o := range tt.owns {
					want = want || o == g
				}
				if loc.Owns(g) != want {
					t.Errorf("Owns(%d) = %v, want %v", g, loc.Owns(g), want)
				}
			}
		})
	}
	if srv.StaticRoot != www || srv.HasProxy() || srv.StripPrefix {
		t.Errorf("the server's own settings changed: %+v", srv)
	}
	if re := srv.Locations[3].Regexp; !re.MatchString("/a/B.JPG") || re.MatchString("/a.gif") {
		t.Errorf("~* is case-insensitive: %v", re)
	}
}
