//go:build linux

package server_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLogURIOfBadPath: a request whose path does not normalize (400) is
// logged with an empty $uri, on both backends. Its $uri was the previous
// exchange's path (another client's), under the bytes the failed
// normalization wrote over it: "/aictim/SECRET" after "/victim/SECRET".
func TestLogURIOfBadPath(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		dir := t.TempDir()
		www := filepath.Join(dir, "www")
		os.Mkdir(www, 0o755)
		logPath := filepath.Join(dir, "uri.log")
		ts := startServerGlobals(t, backend, "log_format = uri '$status $uri'\n",
			"listen = {{addr}}\nstatic_root = "+www+"\naccess_log = "+logPath+" uri\n")
		ts.roundTrip(t, "GET /victim/SECRET-0123456789 HTTP/1.1\r\nHost: x\r\n\r\n")
		if res := ts.roundTrip(t, "GET /a%00 HTTP/1.1\r\nHost: x\r\n\r\n"); res.status != 400 {
			t.Fatalf("GET /a%%00: %d, want 400", res.status)
		}
		ts.roundTrip(t, "GET /victim/SECRET-0123456789 HTTP/1.1\r\nHost: x\r\n\r\n")
		if res := ts.roundTrip(t, "GET /../x HTTP/1.1\r\nHost: x\r\n\r\n"); res.status != 400 {
			t.Fatalf("GET /../x: %d, want 400", res.status)
		}
		lines := readLines(t, logPath, 4)
		for i, want := range []string{"404 /victim/SECRET-0123456789", "400 -", "404 /victim/SECRET-0123456789", "400 -"} {
			if i >= len(lines) || lines[i] != want {
				t.Errorf("line %d: %q, want %q", i, lines[i], want)
			}
		}
		if b, _ := os.ReadFile(logPath); strings.Count(string(b), "SECRET") != 2 {
			t.Errorf("another request's path in the log:\n%s", b)
		}
	})
}

// TestLogRequestOfBadHeader: a head refused in its header fields (a
// control byte in a value: 400) is logged with the request line it
// came with, as nginx logs it; $uri stays empty (never normalized, and
// not the previous exchange's). One refused in its request line has
// none. On both backends.
func TestLogRequestOfBadHeader(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		dir := t.TempDir()
		www := filepath.Join(dir, "www")
		os.Mkdir(www, 0o755)
		logPath := filepath.Join(dir, "req.log")
		ts := startServerGlobals(t, backend, "log_format = req '$status $request_method $request_uri $uri \"$request\"'\n",
			"listen = {{addr}}\nstatic_root = "+www+"\naccess_log = "+logPath+" req\n")
		ts.roundTrip(t, "GET /before HTTP/1.1\r\nHost: x\r\n\r\n")
		if res := ts.roundTrip(t, "GET /p?q=1 HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n"); res.status != 400 {
			t.Fatalf("a \\x01 in a header value: %d, want 400", res.status)
		}
		if res := ts.roundTrip(t, "GET /p\x01 HTTP/1.1\r\nHost: x\r\n\r\n"); res.status != 400 {
			t.Fatalf("a \\x01 in the target: %d, want 400", res.status)
		}
		lines := readLines(t, logPath, 3)
		for i, want := range []string{`404 GET /before /before "GET /before HTTP/1.1"`, `400 GET /p?q=1 - "GET /p?q=1 HTTP/1.1"`, `400 - - - "-"`} {
			if i >= len(lines) || lines[i] != want {
				t.Errorf("line %d: %q, want %q", i, lines[i], want)
			}
		}
	})
}
