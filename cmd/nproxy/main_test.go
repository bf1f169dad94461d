//go:build linux

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/nproxy/nproxy/config"
)

// TestCommandLine checks the CLI's answers that need no running server:
// exit codes and messages of CONTRACT.md.
func TestCommandLine(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.ini")
	bad := filepath.Join(dir, "bad.ini")
	os.WriteFile(good, []byte("[server]\nlisten = 127.0.0.1:8080\nstatic_root = .\n"), 0o644)
	os.WriteFile(bad, []byte("worker_processes = 0\n[server]\nlisten = 127.0.0.1:99999\n"), 0o644)
	badHost := filepath.Join(dir, "host.ini")
	os.WriteFile(badHost, []byte("[server]\nlisten = 127.0.0.1:8080\nproxy_pass = x.nproxy-test.invalid:80\n"), 0o644)
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string // regexp
		stderr string // regexp
	}{
		{name: "test good", args: []string{"-t", "-c", good}, code: 0, stdout: `^configuration ok\n$`},
		{name: "test good, double dash", args: []string{"--t", "--c", good}, code: 0, stdout: `^configuration ok\n$`},
		{name: "test embedded default", args: []string{"-t"}, code: 0, stdout: `^configuration ok\n$`},
		{name: "test bad", args: []string{"-t", "-c", bad}, code: 1,
			stderr: `(?m)^.*bad\.ini:1: worker_processes: .*\n.*bad\.ini:3: listen: .*port out of range`},
		{name: "unresolvable upstream", args: []string{"-t", "-c", badHost}, code: 1,
			stderr: `host\.ini:3: proxy_pass: cannot resolve "x\.nproxy-test\.invalid"`},
		{name: "missing file", args: []string{"-t", "-c", filepath.Join(dir, "nope.ini")}, code: 1, stderr: `nope\.ini`},
		{name: "bad backend", args: []string{"--backend", "kqueue"}, code: 2, stderr: `--backend "kqueue"`},
		{name: "bad workers", args: []string{"--workers", "100"}, code: 2, stderr: `--workers 100`},
		{name: "unknown flag", args: []string{"--frobnicate"}, code: 2, stderr: `frobnicate`},
		{name: "stray argument", args: []string{"-c", good, "extra"}, code: 2, stderr: `PATH "extra": only without -c`},
		{name: "signal without pid file", args: []string{"-s", "reload", "-c", good}, code: 1, stderr: `pid_file`},
		{name: "bad signal", args: []string{"-s", "hup", "-c", good}, code: 1, stderr: `stop, quit, reload or reopen`},
		{name: "version", args: []string{"-V"}, code: 0, stdout: `(?s)^nproxy .*go1\.\d+.*backends: epoll: yes`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(tt.args, &out, &errb)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, out.String(), errb.String())
			}
			if tt.stdout != "" && !regexp.MustCompile(tt.stdout).MatchString(out.String()) {
				t.Errorf("stdout %q does not match %q", out.String(), tt.stdout)
			}
			if tt.stderr != "" && !regexp.MustCompile(tt.stderr).MatchString(errb.String()) {
				t.Errorf("stderr %q does not match %q", errb.String(), tt.stderr)
			}
			if tt.code != 0 && strings.Contains(out.String(), "configuration ok") {
				t.Errorf("failure printed configuration ok")
			}
		})
	}
}

// TestEffectiveConfig checks -T: the effective configuration on stdout,
// a file that parses back, with the command line's overrides and every
// default written out; the embedded default included.
func TestEffectiveConfig(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.ini")
	os.WriteFile(good, []byte("worker_processes = 2\n[server]\nlisten = 127.0.0.1:8080\nstatic_root = .\n"), 0o644)
	tests := []struct {
		name string
		args []string
		want []string // lines the output must have
	}{
		{name: "file", args: []string{"-T", "-c", good},
			want: []string{"worker_processes = 2", "static_root = " + dir, "keepalive_timeout = 75s", "worker_connections = 10240"}},
		{name: "overrides", args: []string{"-T", "-c", good, "--backend", "epoll", "--workers", "3"},
			want: []string{"worker_processes = 3", "backend = epoll"}},
		{name: "embedded", args: []string{"-T", "--port", "9000"},
			want: []string{"listen = 127.0.0.1:9000", "autoindex = on", "hidden_files = deny"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run(tt.args, &out, &errb); code != 0 {
				t.Fatalf("exit %d: %s", code, errb.String())
			}
			if _, err := config.Parse(filepath.Join(t.TempDir(), "x.ini"), out.Bytes()); err != nil {
				t.Fatalf("-T output does not parse: %v\n%s", err, out.String())
			}
			for _, w := range tt.want {
				if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(w) + `$`).Match(out.Bytes()) {
					t.Errorf("no line %q in:\n%s", w, out.String())
				}
			}
		})
	}
	var out, errb bytes.Buffer
	bad := filepath.Join(dir, "bad.ini")
	os.WriteFile(bad, []byte("[server]\nlisten = 127.0.0.1:8080\nbogus = 1\n"), 0o644)
	if code := run([]string{"-T", "-c", bad}, &out, &errb); code != 1 || out.Len() != 0 || !strings.Contains(errb.String(), "bad.ini:3: bogus") {
		t.Errorf("-T on a bad file: exit %d, stdout %q, stderr %q", code, out.String(), errb.String())
	}
}
