//go:build linux

package server_test

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"
)

// TestAccessControl covers allow/deny per location (protecting /metrics
// with a location), basic authentication, and healthz = off, on both
// backends: the fourth complaint of issue 14.
func TestAccessControl(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		www := siteDir(t, map[string]string{"index.html": "home\n", "private/x": "secret page\n", "blocked/x": "x\n"})
		users := filepath.Join(t.TempDir(), "htpasswd")
		// alice / secret, made with `openssl passwd -apr1 -salt abcdefgh secret`.
		if err := os.WriteFile(users, []byte("alice:$apr1$abcdefgh$h9FWgUz3n9YxylKLlR5SQ/\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		ts := startServer(t, backend, "static_root = "+www+"\nmetrics = on\n"+
			"[location = /metrics]\nallow = 10.0.0.0/8\ndeny = all\n"+
			"[location /private/]\nallow = 127.0.0.1\ndeny = all\nauth_basic = Private\nauth_basic_user_file = "+users+"\n"+
			"[location /blocked/]\ndeny = 127.0.0.0/8\n")
		basic := func(cred string) string {
			return "GET /private/x HTTP/1.1\r\nHost: t\r\nAuthorization: Basic " + base64.StdEncoding.EncodeToString([]byte(cred)) + "\r\n\r\n"
		}
		tests := []struct {
			name      string
			req       string
			status    int
			challenge string
		}{
			{name: "metrics protected", req: get("/metrics"), status: 403},
			{name: "no credentials", req: get("/private/x"), status: 401, challenge: `Basic realm="Private", charset="UTF-8"`},
			{name: "wrong password", req: basic("alice:Secret"), status: 401, challenge: `Basic realm="Private", charset="UTF-8"`},
			{name: "unknown user", req: basic("bob:secret"), status: 401, challenge: `Basic realm="Private", charset="UTF-8"`},
			{name: "right password", req: basic("alice:secret"), status: 200},
			{name: "again, from the cache", req: basic("alice:secret"), status: 200},
			{name: "not basic", req: "GET /private/x HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer x\r\n\r\n", status: 401, challenge: `Basic realm="Private", charset="UTF-8"`},
			{name: "denied", req: get("/blocked/x"), status: 403},
			{name: "healthz", req: get("/healthz"), status: 200},
			{name: "elsewhere", req: get("/"), status: 200},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res := ts.roundTrip(t, tt.req)
				if res.status != tt.status {
					t.Fatalf("status %d, want %d", res.status, tt.status)
				}
				if res.header["www-authenticate"] != tt.challenge {
					t.Errorf("WWW-Authenticate %q, want %q", res.header["www-authenticate"], tt.challenge)
				}
			})
		}
		off := startServer(t, backend, "healthz = off\n")
		if res := off.roundTrip(t, get("/healthz")); res.status != 404 {
			t.Errorf("healthz = off: /healthz answered %d, want 404", res.status)
		}
	})
}

// TestSatisfy checks satisfy (nginx's) on routes with both allow/deny and
// auth_basic: all (the default) needs both; any lets an allowed address
// in without credentials and asks a refused one for them (401, then 200
// with the right password); /healthz under any answers only an allowed
// address. Both backends; the client is 127.0.0.1.
func TestSatisfy(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		www := siteDir(t, map[string]string{"all/x": "all\n", "anyok/x": "anyok\n", "anyno/x": "anyno\n", "index.html": "home\n"})
		users := filepath.Join(t.TempDir(), "htpasswd")
		// alice / secret, made with `openssl passwd -apr1 -salt abcdefgh secret`.
		if err := os.WriteFile(users, []byte("alice:$apr1$abcdefgh$h9FWgUz3n9YxylKLlR5SQ/\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		auth := "auth_basic = Private\nauth_basic_user_file = " + users + "\n"
		ts := startServer(t, backend, "static_root = "+www+"\n"+
			"[location /all/]\nallow = 127.0.0.1\ndeny = all\n"+auth+
			"[location /anyok/]\nsatisfy = any\nallow = 127.0.0.1\ndeny = all\n"+auth+
			"[location /anyno/]\nsatisfy = any\ndeny = 127.0.0.0/8\n"+auth+
			"[location = /healthz]\nsatisfy = any\ndeny = all\n"+auth)
		req := func(path, cred string) string {
			if cred == "" {
				return get(path)
			}
			return "GET " + path + " HTTP/1.1\r\nHost: t\r\nAuthorization: Basic " + base64.StdEncoding.EncodeToString([]byte(cred)) + "\r\n\r\n"
		}
		for _, tt := range []struct {
			name, path, cred string
			status           int
		}{
			{"all: allowed, no password", "/all/x", "", 401},
			{"all: allowed, password", "/all/x", "alice:secret", 200},
			{"any: allowed, no password", "/anyok/x", "", 200},
			{"any: refused, no password", "/anyno/x", "", 401},
			{"any: refused, wrong password", "/anyno/x", "alice:nope", 401},
			{"any: refused, password", "/anyno/x", "alice:secret", 200},
			{"any: healthz refused", "/healthz", "", 401},
		} {
			t.Run(tt.name, func(t *testing.T) {
				if res := ts.roundTrip(t, req(tt.path, tt.cred)); res.status != tt.status {
					t.Fatalf("%s: status %d, want %d", tt.path, res.status, tt.status)
				}
			})
		}
	})
}
