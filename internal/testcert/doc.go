// Package testcert makes throwaway X.509 certificates and keys for tests.
//
// Tests that need TLS must not commit certificate files: a committed
// certificate expires and turns a green build red years later, for no
// change of code. This package makes them at test time instead, with
// crypto/x509 and no network: a self-signed leaf, a CA, or a leaf signed
// by a CA, with an ECDSA P-256 (the default) or RSA-2048 key, valid for a
// year unless Options.NotAfter says otherwise (an expired certificate, or
// one about to expire, is one NotAfter away).
//
// New returns the PEM blocks and the parsed values; Write also stores the
// two PEM files in a directory, typically t.TempDir(), for code that reads
// paths (the configuration's tls_cert and tls_key).
//
//	ca, caKey := ... // from testcert.New(t, testcert.Options{IsCA: true})
//	certPath, keyPath := testcert.Write(t, t.TempDir(), testcert.Options{
//		DNSNames: []string{"example.com"},
//		Issuer:   ca, IssuerKey: caKey,
//	})
//
// Only test code imports this package; it is internal so that its API can
// follow what the tests need.
package testcert
