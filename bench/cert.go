//go:build linux

package bench

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Certificate key kinds, as --tls-key spells them.
const (
	keyECDSA = "ecdsa" // ECDSA on P-256
	keyRSA   = "rsa"   // RSA-2048
)

// rsaBits is the RSA key size: the smallest in common use, the size
// nginx's and OpenSSL's handshake figures are usually quoted for.
const rsaBits = 2048

// certValidity is how long a throwaway certificate is valid: longer than
// any run, short enough that a copy left behind is useless soon.
const certValidity = 7 * 24 * time.Hour

// tlsServerName is the name the load generator sends as SNI and the
// certificates are made for (with 127.0.0.1 and ::1).
const tlsServerName = "localhost"

// benchCert is a throwaway certificate on disk, for the servers under
// test, and the pool that trusts it, for the readiness check.
type benchCert struct {
	certPath, keyPath string
	pool              *x509.CertPool
}

// makeCert makes a self-signed certificate for localhost, 127.0.0.1 and
// ::1 with a key of the given kind, at run time, so that no certificate is
// committed to expire, and writes it to dir as NAME.crt and NAME.key.
func makeCert(dir, name, kind string) (*benchCert, error) {
	var key crypto.Signer
	var err error
	switch kind {
	case keyECDSA:
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case keyRSA:
		key, err = rsa.GenerateKey(rand.Reader, rsaBits)
	default:
		return nil, fmt.Errorf("%w: unknown certificate key %q (have %s, %s)", ErrUsage, kind, keyECDSA, keyRSA)
	}
	if err != nil {
		return nil, fmt.Errorf("bench: %s key: %w", kind, err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		return nil, fmt.Errorf("bench: certificate serial: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: tlsServerName},
		DNSNames:              []string{tlsServerName},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(certValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	if kind == keyRSA {
		tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment // TLS 1.2 RSA suites name it; harmless for 1.3
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("bench: create certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("bench: parse certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("bench: encode key: %w", err)
	}
	bc := &benchCert{
		certPath: filepath.Join(dir, name+".crt"),
		keyPath:  filepath.Join(dir, name+".key"),
		pool:     x509.NewCertPool(),
	}
	bc.pool.AddCert(cert)
	if err := os.WriteFile(bc.certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	if err := os.WriteFile(bc.keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	return bc, nil
}
