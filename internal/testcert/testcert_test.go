package testcert_test

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nproxy/nproxy/internal/testcert"
)

func TestNewKinds(t *testing.T) {
	tests := []struct {
		name    string
		opts    testcert.Options
		wantRSA bool
		wantPEM string // the key's PEM block type
	}{
		{name: "ecdsa pkcs8", opts: testcert.Options{}, wantPEM: "PRIVATE KEY"},
		{name: "ecdsa sec1", opts: testcert.Options{KeyEncoding: testcert.Legacy}, wantPEM: "EC PRIVATE KEY"},
		{name: "rsa pkcs8", opts: testcert.Options{KeyType: testcert.RSA}, wantRSA: true, wantPEM: "PRIVATE KEY"},
		{name: "rsa pkcs1", opts: testcert.Options{KeyType: testcert.RSA, KeyEncoding: testcert.Legacy}, wantRSA: true, wantPEM: "RSA PRIVATE KEY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			certPEM, keyPEM, cert, key := testcert.New(t, tt.opts)
			if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
				t.Fatalf("X509KeyPair: %v", err)
			}
			switch key.(type) {
			case *rsa.PrivateKey:
				if !tt.wantRSA {
					t.Errorf("key is RSA, want ECDSA")
				}
			case *ecdsa.PrivateKey:
				if tt.wantRSA {
					t.Errorf("key is ECDSA, want RSA")
				}
			}
			if want := "-----BEGIN " + tt.wantPEM + "-----"; string(keyPEM[:len(want)]) != want {
				t.Errorf("key PEM starts %q, want %q", keyPEM[:len(want)], want)
			}
			if err := cert.VerifyHostname("localhost"); err != nil {
				t.Errorf("default names: %v", err)
			}
			if err := cert.VerifyHostname("127.0.0.1"); err != nil {
				t.Errorf("default names: %v", err)
			}
		})
	}
}

func TestSignedByCA(t *testing.T) {
	_, _, ca, caKey := testcert.New(t, testcert.Options{IsCA: true, KeyType: testcert.RSA})
	_, _, leaf, _ := testcert.New(t, testcert.Options{DNSNames: []string{"a.example"}, Issuer: ca, IssuerKey: caKey})
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: "a.example"}); err != nil {
		t.Fatalf("leaf does not verify against its CA: %v", err)
	}
	_, _, other, _ := testcert.New(t, testcert.Options{IsCA: true})
	roots = x509.NewCertPool()
	roots.AddCert(other)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: "a.example"}); err == nil {
		t.Fatal("leaf verifies against an unrelated CA")
	}
}

func TestExpiry(t *testing.T) {
	now := time.Now()
	_, _, expired, _ := testcert.New(t, testcert.Options{NotAfter: now.Add(-24 * time.Hour)})
	if !expired.NotAfter.Before(now) || !expired.NotBefore.Before(expired.NotAfter) {
		t.Errorf("expired: valid %v..%v", expired.NotBefore, expired.NotAfter)
	}
	_, _, soon, _ := testcert.New(t, testcert.Options{NotAfter: now.Add(10 * 24 * time.Hour)})
	if !soon.NotBefore.Before(now) || soon.NotAfter.Sub(now) > 10*24*time.Hour {
		t.Errorf("soon: valid %v..%v", soon.NotBefore, soon.NotAfter)
	}
	_, _, year, _ := testcert.New(t, testcert.Options{})
	if year.NotAfter.Sub(now) < 364*24*time.Hour {
		t.Errorf("default validity ends %v", year.NotAfter)
	}
}

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	c1, k1 := testcert.Write(t, dir, testcert.Options{DNSNames: []string{"*.example.com"}})
	c2, k2 := testcert.Write(t, dir, testcert.Options{DNSNames: []string{"*.example.com"}})
	if c1 == c2 || k1 == k2 {
		t.Fatalf("two certificates share a file: %s %s", c1, c2)
	}
	if filepath.Dir(c1) != dir {
		t.Errorf("certificate written to %s, want in %s", c1, dir)
	}
	if _, err := tls.LoadX509KeyPair(c1, k1); err != nil {
		t.Fatalf("LoadX509KeyPair: %v", err)
	}
	fi, err := os.Stat(k1)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", fi.Mode().Perm())
	}
}
