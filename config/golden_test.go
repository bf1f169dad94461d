package config

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// TestGolden loads every testdata/*.ini and compares what `nproxy -t` would
// print, the error text or "configuration ok", with testdata/NAME.golden.
// Run `go test ./config -run Golden -update` to accept new output.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.ini")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/*.ini: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".ini")
		t.Run(name, func(t *testing.T) {
			_, err := Load(file)
			got := "configuration ok\n"
			if err != nil {
				got = err.Error() + "\n"
			}
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

func TestLoadFull(t *testing.T) {
	cfg, err := Load("testdata/full.ini")
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := filepath.Abs("testdata")
	if cfg.File != "testdata/full.ini" || cfg.WorkerProcesses != 2 || cfg.Backend != "epoll" ||
		cfg.WorkerConnections != 4096 || cfg.LogLevel != "debug" ||
		cfg.PIDFile != filepath.Join(dir, "logs/nproxy.pid") || cfg.ErrorLog != filepath.Join(dir, "logs/error.log") ||
		cfg.WorkerShutdownTimeout != 10*time.Second || cfg.DrainIdleGrace != 500*time.Millisecond {
		t.Errorf("globals: %+v", cfg)
	}
	if len(cfg.Servers) != 2 {
		t.Fatalf("%d servers, want 2", len(cfg.Servers))
	}
	s := cfg.Servers[0]
	if s.Line != 11 || !reflect.DeepEqual(s.Listen, []string{"127.0.0.1:8080", "[::1]:8080"}) ||
		!reflect.DeepEqual(s.ServerNames, []string{"example.com", "*.example.com"}) ||
		s.StaticRoot != filepath.Join(dir, "www") || s.AccessLog != filepath.Join(dir, "logs/access.log") ||
		!s.Metrics || s.RateLimit != 10 || s.RateBurst != 10 || s.RateLimitIPv6Prefix != 48 || !s.UnderscoresInHeaders ||
		len(s.Rewrites) != 2 || s.HasProxy() {
		t.Errorf("server 1: %+v", s)
	}
	if got := s.Rewrites[0].Regexp.ReplaceAllString("/old/x/y", s.Rewrites[0].Replacement); got != "/new/x/y" {
		t.Errorf("rewrite applied: %q, want /new/x/y", got)
	}
	s = cfg.Servers[1]
	want := []Upstream{{Addr: "127.0.0.1:9001", Weight: 3}, {Addr: "127.0.0.1:9002", Weight: 1}}
	if s.Line != 26 || !s.HasProxy() || !reflect.DeepEqual(s.ProxyPass, want) || s.ProxyPrefix != "/api/" ||
		s.Balance != "least_conn" || s.HealthCheck != "/healthz" || s.HealthEvery != 2*time.Second ||
		s.KeepaliveTimeout != 0 || s.HeaderTimeout != 10*time.Second || s.BodyTimeout != 500*time.Millisecond ||
		s.SendTimeout != time.Minute || s.ProxyConnectTimeout != 5*time.Second || s.ProxyTimeout != time.Hour ||
		s.MaxBodySize != 0 || s.StaticRoot != "" || s.RateLimitIPv6Prefix != 64 || s.UnderscoresInHeaders {
		t.Errorf("server 2: %+v", s)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load("testdata/no-such.ini")
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("err = %v, want os.ErrNotExist", err)
	}
}

func TestErrorKinds(t *testing.T) {
	_, err := Load("testdata/many.ini")
	var errs Errors
	if !errors.As(err, &errs) || len(errs) < 10 {
		t.Fatalf("err = %v, want Errors with many problems", err)
	}
	for _, kind := range []error{ErrInvalid, ErrValue, ErrFile, ErrMissing} {
		if !errors.Is(err, kind) {
			t.Errorf("errors.Is(err, %v) = false", kind)
		}
	}
	if errors.Is(err, ErrNotImplemented) {
		t.Error("errors.Is(err, ErrNotImplemented) = true, want false")
	}
	for i := 1; i < len(errs); i++ {
		if errs[i].Line < errs[i-1].Line {
			t.Errorf("problems out of line order: %d after %d", errs[i].Line, errs[i-1].Line)
		}
	}
	defer func(saved map[string]string) { NotImplemented = saved }(NotImplemented)
	NotImplemented = map[string]string{"metrics": "metrics"}
	_, err = Parse("x.ini", []byte("[server]\nlisten = 127.0.0.1:1\nmetrics = on\n"))
	if !errors.Is(err, ErrNotImplemented) {
		t.Errorf("errors.Is(err, ErrNotImplemented) = false: %v", err)
	}
}

func TestNotImplementedMap(t *testing.T) {
	defer func(saved map[string]string) { NotImplemented = saved }(NotImplemented)
	NotImplemented = map[string]string{"metrics": "metrics"}
	_, err := Parse("x.ini", []byte("[server]\nlisten = 127.0.0.1:1\nmetrics = on\n"))
	checkErr(t, err, "x.ini:3: metrics: metrics is not available in this build")

	// A repeatable key is refused once, at its first line.
	NotImplemented = map[string]string{"rewrite": "rewriting"}
	_, err = Parse("x.ini", []byte("[server]\nlisten = 127.0.0.1:1\nrewrite = ^/a /b\nrewrite = ^/c /d\n"))
	checkErr(t, err, "x.ini:3: rewrite: rewriting is not available in this build")
	if strings.Contains(err.Error(), "x.ini:4") {
		t.Errorf("refused twice:\n%v", err)
	}
}

func TestLoadDefault(t *testing.T) {
	cfg, err := LoadDefault()
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	if cfg.File != DefaultName || len(cfg.Servers) != 1 || cfg.Backend != "auto" {
		t.Fatalf("default config: %+v", cfg)
	}
	s := cfg.Servers[0]
	if !reflect.DeepEqual(s.Listen, []string{"127.0.0.1:8080"}) || s.StaticRoot != wd || s.HasProxy() {
		t.Errorf("default server: %+v", s)
	}
	// Every key is documented in the default file, commented out or set.
	for key := range keyNames(globalKeys) {
		if !strings.Contains(string(Default), key+" = ") {
			t.Errorf("default.ini does not show %s", key)
		}
	}
	for key := range keyNames(serverKeys) {
		if !strings.Contains(string(Default), key+" = ") {
			t.Errorf("default.ini does not show %s", key)
		}
	}
}

func TestServerNameConflictLine(t *testing.T) {
	_, err := Parse("c.ini", []byte("[server]\nlisten = 80\nserver_name = a\n[server]\nlisten = 0.0.0.0:80\n\nserver_name = b A\n"))
	checkErr(t, err, `c.ini:7: server_name: "a" on 0.0.0.0:80 is already used by the [server] on line 1`)
}
