//go:build linux

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/nproxy/nproxy/internal/testcert"
)

// TestTLSCheck checks `nproxy -t` on TLS configurations: a certificate
// near its expiry is a warning on stderr with exit 0 and "configuration
// ok"; a key that does not match its certificate is an error, exit 1.
func TestTLSCheck(t *testing.T) {
	dir := t.TempDir()
	soonCert, soonKey := testcert.Write(t, dir, testcert.Options{NotAfter: time.Now().Add(10*24*time.Hour + time.Hour)})
	goodCert, goodKey := testcert.Write(t, dir, testcert.Options{KeyType: testcert.RSA})
	_, otherKey := testcert.Write(t, dir, testcert.Options{})
	conf := func(name, cert, key string) string {
		path := filepath.Join(dir, name)
		text := "[server]\nlisten = 127.0.0.1:8443\ntls_cert = " + cert + "\ntls_key = " + key + "\n"
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	tests := []struct {
		name   string
		conf   string
		code   int
		stdout string // regexp
		stderr string // regexp
	}{
		{name: "valid", conf: conf("good.ini", goodCert, goodKey), code: 0,
			stdout: `^configuration ok\n$`, stderr: `^$`},
		{name: "expires soon", conf: conf("soon.ini", soonCert, soonKey), code: 0,
			stdout: `^configuration ok\n$`,
			stderr: `^\S*soon\.ini:3: warning: tls_cert: ".*": the certificate \(localhost\) expires in 10 days, on \d{4}-\d\d-\d\d\n$`},
		{name: "mismatched key", conf: conf("bad.ini", goodCert, otherKey), code: 1,
			stderr: `(?m)^\S*bad\.ini:4: tls_key: ".*": an ECDSA key cannot match the RSA certificate in ".*" \(line 3\)$`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run([]string{"-t", "-c", tt.conf}, &out, &errb)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, out.String(), errb.String())
			}
			if tt.stdout != "" && !regexp.MustCompile(tt.stdout).MatchString(out.String()) {
				t.Errorf("stdout %q does not match %q", out.String(), tt.stdout)
			}
			if !regexp.MustCompile(tt.stderr).MatchString(errb.String()) {
				t.Errorf("stderr %q does not match %q", errb.String(), tt.stderr)
			}
		})
	}
}
