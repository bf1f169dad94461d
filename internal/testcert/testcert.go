package testcert

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// KeyType is the kind of key a certificate is made for.
type KeyType int

const (
	// ECDSA is an ECDSA key on P-256, the default.
	ECDSA KeyType = iota
	// RSA is an RSA key of Options.RSABits (default 2048) bits.
	RSA
)

// KeyEncoding is the PEM form a private key is written in.
type KeyEncoding int

const (
	// PKCS8 is a "PRIVATE KEY" block (openssl genpkey's form), the default.
	PKCS8 KeyEncoding = iota
	// Legacy is the key type's own block: "RSA PRIVATE KEY" (PKCS #1)
	// for RSA, "EC PRIVATE KEY" (SEC 1) for ECDSA, openssl genrsa's and
	// ecparam's forms.
	Legacy
)

// DefaultValidity is how long a certificate is valid when Options.NotAfter
// is zero.
const DefaultValidity = 365 * 24 * time.Hour

// defaultRSABits is the RSA key size when Options.RSABits is zero: the
// smallest size still in common use, and the one nginx benchmarks with.
const defaultRSABits = 2048

// Options describes a certificate to make. The zero value is a self-signed
// ECDSA P-256 leaf for "localhost", 127.0.0.1 and ::1, valid from an hour
// ago for DefaultValidity, usable for both server and client
// authentication.
type Options struct {
	// CommonName is the subject's CN; default the first DNS name, or
	// "testcert CA" for a CA.
	CommonName string

	// DNSNames and IPAddresses are the subject alternative names. When
	// both are empty (and IsCA is false) the certificate is for
	// "localhost", 127.0.0.1 and ::1.
	DNSNames    []string
	IPAddresses []net.IP

	// KeyType is the key's algorithm; RSABits the RSA key size (default
	// 2048; crypto/rsa refuses less than 1024).
	KeyType KeyType
	RSABits int

	// KeyEncoding is the PEM form of the key New returns and Write stores.
	KeyEncoding KeyEncoding

	// NotBefore defaults to an hour ago, or to an hour before NotAfter when
	// NotAfter is earlier than that (an expired certificate).
	NotBefore time.Time
	// NotAfter defaults to NotBefore plus DefaultValidity. A past NotAfter
	// makes an expired certificate.
	NotAfter time.Time

	// IsCA makes a CA certificate (basic constraints CA:TRUE, key usage
	// certificate signing) that can sign others through Issuer.
	IsCA bool

	// Issuer and IssuerKey sign the certificate; when Issuer is nil it is
	// self-signed. Both come from an earlier New with IsCA set.
	Issuer    *x509.Certificate
	IssuerKey crypto.Signer
}

// serial makes serial numbers unique within one test binary even when the
// random source repeats (it does not, but a CA signing two certificates
// with one serial would confuse a verifier in a hard-to-read way).
var serial atomic.Int64

// New makes the certificate opts describes and returns it as PEM
// ("CERTIFICATE" block; then the key in opts.KeyEncoding) and parsed. It
// fails tb on any error, so callers need not check one.
func New(tb testing.TB, opts Options) (certPEM, keyPEM []byte, cert *x509.Certificate, key crypto.Signer) {
	tb.Helper()
	key = newKey(tb, opts)
	tmpl := template(tb, opts)

	parent, signer := tmpl, key
	if opts.Issuer != nil {
		if opts.IssuerKey == nil {
			tb.Fatal("testcert: Options.Issuer without IssuerKey")
		}
		parent, signer = opts.Issuer, opts.IssuerKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), signer)
	if err != nil {
		tb.Fatalf("testcert: create certificate: %v", err)
	}
	cert, err = x509.ParseCertificate(der)
	if err != nil {
		tb.Fatalf("testcert: parse certificate: %v", err)
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return certPEM, encodeKey(tb, key, opts.KeyEncoding), cert, key
}

// Write makes the certificate opts describes with New and stores it in dir
// as NAME.crt and NAME.key, where NAME is the common name made safe for a
// file name and unique in dir. It returns the two absolute paths (absolute
// when dir is). The key file has mode 0600, as a real one would.
func Write(tb testing.TB, dir string, opts Options) (certPath, keyPath string) {
	tb.Helper()
	certPEM, keyPEM, cert, _ := New(tb, opts)
	base := filepath.Join(dir, fileName(cert.Subject.CommonName)+"-"+cert.SerialNumber.String())
	certPath, keyPath = base+".crt", base+".key"
	if err := os.WriteFile(certPath, certPEM, 0o644); err != nil {
		tb.Fatalf("testcert: %v", err)
	}
	if err := os.WriteFile(keyPath, keyPEM, 0o600); err != nil {
		tb.Fatalf("testcert: %v", err)
	}
	return certPath, keyPath
}

// newKey generates the private key opts asks for.
func newKey(tb testing.TB, opts Options) crypto.Signer {
	tb.Helper()
	var (
		key crypto.Signer
		err error
	)
	switch opts.KeyType {
	case ECDSA:
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case RSA:
		bits := opts.RSABits
		if bits == 0 {
			bits = defaultRSABits
		}
		key, err = rsa.GenerateKey(rand.Reader, bits)
	default:
		tb.Fatalf("testcert: unknown KeyType %d", opts.KeyType)
	}
	if err != nil {
		tb.Fatalf("testcert: generate key: %v", err)
	}
	return key
}

// template fills in the certificate template from opts and its defaults.
func template(tb testing.TB, opts Options) *x509.Certificate {
	tb.Helper()
	now := time.Now()
	notBefore, notAfter := opts.NotBefore, opts.NotAfter
	if notBefore.IsZero() {
		notBefore = now.Add(-time.Hour)
		if !notAfter.IsZero() && !notAfter.After(notBefore) {
			notBefore = notAfter.Add(-time.Hour)
		}
	}
	if notAfter.IsZero() {
		notAfter = notBefore.Add(DefaultValidity)
	}
	if !notAfter.After(notBefore) {
		tb.Fatalf("testcert: NotAfter %v is not after NotBefore %v", notAfter, notBefore)
	}

	dns, ips := opts.DNSNames, opts.IPAddresses
	if len(dns) == 0 && len(ips) == 0 && !opts.IsCA {
		dns = []string{"localhost"}
		ips = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	}
	cn := opts.CommonName
	switch {
	case cn != "":
	case opts.IsCA:
		cn = "testcert CA"
	case len(dns) > 0:
		cn = dns[0]
	default:
		cn = ips[0].String()
	}

	sn, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		tb.Fatalf("testcert: serial number: %v", err)
	}
	sn.Lsh(sn, 16).Add(sn, big.NewInt(serial.Add(1)))

	tmpl := &x509.Certificate{
		SerialNumber:          sn,
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"nproxy tests"}},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		DNSNames:              dns,
		IPAddresses:           ips,
		BasicConstraintsValid: true,
		IsCA:                  opts.IsCA,
	}
	if opts.IsCA {
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	} else {
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		if opts.KeyType == RSA {
			// TLS 1.2's RSA key exchange encrypts to the key.
			tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
		}
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	}
	return tmpl
}

// encodeKey returns key as a PEM block in the given encoding.
func encodeKey(tb testing.TB, key crypto.Signer, enc KeyEncoding) []byte {
	tb.Helper()
	var (
		block pem.Block
		err   error
	)
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if enc == Legacy {
			block = pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}
			break
		}
		block.Type = "PRIVATE KEY"
		block.Bytes, err = x509.MarshalPKCS8PrivateKey(k)
	case *ecdsa.PrivateKey:
		if enc == Legacy {
			block.Type = "EC PRIVATE KEY"
			block.Bytes, err = x509.MarshalECPrivateKey(k)
			break
		}
		block.Type = "PRIVATE KEY"
		block.Bytes, err = x509.MarshalPKCS8PrivateKey(k)
	default:
		tb.Fatalf("testcert: unexpected key type %T", key)
	}
	if err != nil {
		tb.Fatalf("testcert: marshal key: %v", err)
	}
	return pem.EncodeToMemory(&block)
}

// fileName keeps the letters, digits, '.' and '-' of name ('*' becomes
// "wildcard"), so a common name can be part of a file name.
func fileName(name string) string {
	b := make([]byte, 0, len(name))
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case c == '*':
			b = append(b, "wildcard"...)
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '-':
			b = append(b, c)
		default:
			b = append(b, '_')
		}
	}
	if len(b) == 0 {
		return "cert"
	}
	return string(b)
}
