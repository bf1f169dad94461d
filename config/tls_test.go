package config

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nproxy/nproxy/internal/testcert"
)

// tlsNow is the clock of the TLS tests: certificates are made valid (or
// not) relative to it, so the expiry warnings, dates included, are the
// same on every run. It is in the future so that no certificate made
// relative to it is accidentally valid, or expired, in real time.
var tlsNow = time.Date(2040, 6, 1, 12, 0, 0, 0, time.UTC)

// fixClock sets timeNow to tlsNow for the duration of t.
func fixClock(t *testing.T) {
	t.Helper()
	timeNow = func() time.Time { return tlsNow }
	t.Cleanup(func() { timeNow = time.Now })
}

// tlsFixture writes the certificates and keys the TLS tests name, made
// now with internal/testcert (no certificate file is committed, so none
// expires), into a new directory it returns. Expiry is relative to tlsNow.
//
//	ec.crt, ec.key          ECDSA P-256 for example.com, valid a year, PKCS #8 key
//	ec-sec1.key             the same key as SEC 1 "EC PRIVATE KEY"
//	rsa.crt, rsa.key        RSA-2048 for example.com, PKCS #1 key
//	rsa8.key                the same key as PKCS #8
//	other.key               an ECDSA key of no certificate here
//	soon.crt, soon.key      expires 10 days after tlsNow
//	expired.crt, .key       expired 5 days before tlsNow
//	future.crt, .key        valid from 2 days after tlsNow
//	ca.pem, ca.key          a CA valid a year; soon-ca.pem a CA expiring in 20 days
//	chain.crt, chain.key    leaf signed by ca.pem, then ca.pem
//	reversed.crt            ca.pem then the chain.crt leaf (wrong order)
//	combined.pem            ec.crt and ec.key in one file
//	cas.pem                 ca.pem and soon-ca.pem
//	empty.pem, garbage.pem, der.crt, badblock.crt, encrypted.key, public.key
func tlsFixture(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	write := func(name string, data ...[]byte) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), joinBytes(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	year := tlsNow.Add(365 * day)
	names := []string{"example.com", "www.example.com"}

	ecCert, ecKey, _, ecSigner := testcert.New(t, testcert.Options{DNSNames: names, NotAfter: year})
	write("ec.crt", ecCert)
	write("ec.key", ecKey)
	write("ec-sec1.key", legacyKey(t, ecSigner))
	write("combined.pem", ecCert, ecKey)

	rsaCert, rsaKey, _, rsaSigner := testcert.New(t, testcert.Options{DNSNames: names, NotAfter: year,
		KeyType: testcert.RSA, KeyEncoding: testcert.Legacy})
	write("rsa.crt", rsaCert)
	write("rsa.key", rsaKey)
	der, err := x509.MarshalPKCS8PrivateKey(rsaSigner)
	if err != nil {
		t.Fatal(err)
	}
	write("rsa8.key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))

	_, otherKey, _, _ := testcert.New(t, testcert.Options{NotAfter: year})
	write("other.key", otherKey)

	for _, c := range []struct {
		name      string
		notBefore time.Time
		notAfter  time.Time
	}{
		{"soon", time.Time{}, tlsNow.Add(10*day + time.Hour)},
		{"expired", time.Time{}, tlsNow.Add(-5*day - time.Hour)},
		{"future", tlsNow.Add(2 * day), tlsNow.Add(400 * day)},
	} {
		cert, key, _, _ := testcert.New(t, testcert.Options{DNSNames: []string{c.name + ".example.com"},
			NotBefore: c.notBefore, NotAfter: c.notAfter})
		write(c.name+".crt", cert)
		write(c.name+".key", key)
	}

	caPEM, caKeyPEM, ca, caKey := testcert.New(t, testcert.Options{IsCA: true, CommonName: "Test Root CA", NotAfter: year})
	write("ca.pem", caPEM)
	write("ca.key", caKeyPEM)
	soonCA, _, _, _ := testcert.New(t, testcert.Options{IsCA: true, CommonName: "Old Root CA", NotAfter: tlsNow.Add(20 * day)})
	write("soon-ca.pem", soonCA)
	write("cas.pem", caPEM, soonCA)
	leaf, leafKey, _, _ := testcert.New(t, testcert.Options{DNSNames: []string{"chain.example.com"}, NotAfter: year,
		Issuer: ca, IssuerKey: caKey})
	write("chain.crt", leaf, caPEM)
	write("chain.key", leafKey)
	write("reversed.crt", caPEM, leaf)

	write("empty.pem")
	write("garbage.pem", []byte("this is not PEM\n"))
	block, _ := pem.Decode(ecCert)
	write("der.crt", block.Bytes)
	write("badblock.crt", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("not DER")}))
	write("encrypted.key", pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{0x30, 0}}))
	pub, err := x509.MarshalPKIXPublicKey(ecSigner.Public())
	if err != nil {
		t.Fatal(err)
	}
	write("public.key", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}))
	if err := os.Mkdir(filepath.Join(dir, "www"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// legacyKey writes an ECDSA key as SEC 1, openssl ecparam's form.
func legacyKey(t *testing.T, key crypto.Signer) []byte {
	t.Helper()
	der, err := x509.MarshalECPrivateKey(key.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
}

func joinBytes(parts [][]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// TestTLSGolden loads every testdata/tls/*.ini against the certificates
// of tlsFixture and compares what `nproxy -t` would print (the problems,
// or the warnings and "configuration ok") with testdata/tls/NAME.golden.
// Run `go test ./config -run TLSGolden -update` to accept new output.
func TestTLSGolden(t *testing.T) {
	fixClock(t)
	dir := tlsFixture(t)
	files, err := filepath.Glob("testdata/tls/*.ini")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/tls/*.ini: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".ini")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			got := checkOutput(parse(file, dir, data))
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

// checkOutput is what `nproxy -t` prints for a parse result, stderr then
// stdout: the problems, or the warnings and "configuration ok".
func checkOutput(cfg *Config, err error) string {
	if err != nil {
		return err.Error() + "\n"
	}
	var b strings.Builder
	for _, w := range cfg.Warnings {
		b.WriteString(w + "\n")
	}
	b.WriteString("configuration ok\n")
	return b.String()
}
