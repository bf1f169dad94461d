package tls

import (
	"strings"
	"testing"

	"github.com/nproxy/nproxy/internal/testcert"
)

// TestLoadSite loads an ECDSA and an RSA pair for one site, and names the
// files of a pair whose key does not match its certificate.
func TestLoadSite(t *testing.T) {
	dir := t.TempDir()
	ecCert, ecKey := testcert.Write(t, dir, testcert.Options{DNSNames: []string{"ec.example.com"}})
	rsaCert, rsaKey := testcert.Write(t, dir, testcert.Options{DNSNames: []string{"rsa.example.com"}, KeyType: testcert.RSA})

	s, err := LoadSite([]string{rsaCert, ecCert}, []string{rsaKey, ecKey}, []string{"example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Certs) != 2 || s.Names[0] != "example.com" {
		t.Fatalf("site %+v", s)
	}
	ctx, err := NewContext([]Site{s})
	if err != nil {
		t.Fatal(err)
	}
	if cfg := ctx.sites[0].config; cfg.GetCertificate == nil || cfg.Certificates != nil {
		t.Error("two certificates are not chosen by the client's algorithms")
	}

	if _, err := LoadSite([]string{ecCert}, []string{rsaKey}, nil); err == nil || !strings.Contains(err.Error(), ecCert) {
		t.Errorf("mismatched pair: error %v, want one naming %s", err, ecCert)
	}
	if _, err := LoadSite([]string{ecCert}, nil, nil); err == nil {
		t.Error("a certificate without a key was accepted")
	}
	if _, err := LoadSite(nil, nil, nil); err == nil {
		t.Error("a site without certificates was accepted")
	}
}
