package config

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	nptls "github.com/nproxy/nproxy/tls"
)

// The TLS keys of a [server]. The files they name are read and checked at
// load, as crypto/tls will load them, so that `nproxy -t`, a start and a
// reload refuse a certificate the server could not use, each problem at
// the line of the key that names the file.

// expiryWarning is how long before its NotAfter a certificate is reported
// as about to expire: 30 days, when certbot and most ACME clients renew,
// so a warning means the renewal has not happened.
const expiryWarning = 30 * day

// timeNow is time.Now, a variable so tests can fix the clock that expiry
// warnings are measured against.
var timeNow = time.Now

// pathAt is a file named by a repeatable key: as written, resolved, and
// where. abs is "" when the path could not be used (already reported).
type pathAt struct {
	raw, abs string
	line     int
}

// tlsKeys are the [server] keys of TLS termination and of TLS to the
// backends; keys.go merges them into serverKeys.
var tlsKeys = map[string]serverKey{
	"tls_cert": func(l *loader, s *Server, v string) error {
		abs, err := l.pemFile(v)
		s.tlsCertAt = append(s.tlsCertAt, pathAt{v, abs, l.line})
		return err
	},
	"tls_key": func(l *loader, s *Server, v string) error {
		abs, err := l.pemFile(v)
		s.tlsKeyAt = append(s.tlsKeyAt, pathAt{v, abs, l.line})
		return err
	},
	"tls_protocols": func(_ *loader, s *Server, v string) (err error) {
		s.TLSMinVersion, s.TLSMaxVersion, err = parseTLSProtocols(v)
		return err
	},
	"tls_client_ca": func(l *loader, s *Server, v string) (err error) {
		s.TLSClientCA, s.TLSClientCAPEM, err = l.caBundle("tls_client_ca", v)
		return err
	},
	"tls_curves": func(_ *loader, s *Server, v string) (err error) {
		s.TLSCurves, err = parseTLSCurves(v)
		return err
	},
	"tls_session_tickets": func(_ *loader, s *Server, v string) (err error) {
		s.TLSSessionTickets, err = parseSwitch(v)
		return err
	},
	"proxy_tls_ca": func(l *loader, s *Server, v string) (err error) {
		s.ProxyTLSCA, s.ProxyTLSCAPEM, err = l.caBundle("proxy_tls_ca", v)
		return err
	},
	"proxy_tls_server_name": func(_ *loader, s *Server, v string) (err error) {
		s.ProxyTLSServerName, err = parseTLSServerName(v)
		return err
	},
	"proxy_tls_verify": func(_ *loader, s *Server, v string) (err error) {
		s.ProxyTLSVerify, err = parseSwitch(v)
		return err
	},
}

// parseTLSCurves parses tls_curves, nginx's ssl_ecdh_curve list
// ("X25519:P-256"; "auto" for the default). Unlike OpenSSL, which skips
// names it does not know when one is usable, an unknown name is an error:
// a list that names a group says its writer expects it to be offered.
func parseTLSCurves(v string) ([]tls.CurveID, error) {
	ids, err := nptls.ParseCurves(v)
	if err != nil {
		return nil, errors.New(strings.TrimPrefix(err.Error(), nptls.ErrCurve.Error()+": "))
	}
	return ids, nil
}

// proxyTLSKeys are the keys that configure TLS to the backends, so need
// https:// backends in proxy_pass.
var proxyTLSKeys = []string{"proxy_tls_ca", "proxy_tls_server_name", "proxy_tls_verify"}

// tlsVersions maps tls_protocols' names, in lower case, to crypto/tls's
// versions; 0 marks a version nginx knows but nproxy refuses.
var tlsVersions = map[string]uint16{
	"sslv2":   0,
	"sslv3":   0,
	"tlsv1":   0,
	"tlsv1.0": 0,
	"tlsv1.1": 0,
	"tlsv1.2": tls.VersionTLS12,
	"tlsv1.3": tls.VersionTLS13,
}

// parseTLSProtocols parses nginx's ssl_protocols list ("TLSv1.2 TLSv1.3",
// any case) into the lowest and highest versions listed. TLS 1.0 and 1.1
// are refused rather than ignored: RFC 8996 deprecates them, crypto/tls
// offers them to no client by default, and a list that names them says
// the writer expects them to work.
func parseTLSProtocols(v string) (lo, hi uint16, err error) {
	var seen []string
	for _, name := range strings.Fields(v) {
		lower := strings.ToLower(name)
		version, known := tlsVersions[lower]
		switch {
		case !known:
			return 0, 0, fmt.Errorf("%q: not a TLS version (use TLSv1.2 and/or TLSv1.3)", name)
		case version == 0:
			return 0, 0, fmt.Errorf("%q: insecure and not supported (SSL and TLS before 1.2 are deprecated by RFC 8996); use TLSv1.2 and/or TLSv1.3", name)
		case contains(seen, lower):
			return 0, 0, fmt.Errorf("%q: listed twice", name)
		}
		seen = append(seen, lower)
		if lo == 0 || version < lo {
			lo = version
		}
		hi = max(hi, version)
	}
	return lo, hi, nil
}

// parseTLSServerName parses proxy_tls_server_name: a DNS name, sent as SNI
// and verified in the backend's certificate. RFC 6066 forbids an IP
// address in SNI.
func parseTLSServerName(v string) (string, error) {
	name := strings.ToLower(strings.TrimSuffix(v, "."))
	if _, isIP := parseIP(name); isIP || validIPv6(name) {
		return "", fmt.Errorf("%q: must be a host name, not an IP address (SNI carries names only)", v)
	}
	if !validHostname(name) {
		return "", fmt.Errorf("%q: not a host name", v)
	}
	return name, nil
}

// validIPv6 reports whether s is an IPv6 address without brackets.
func validIPv6(s string) bool {
	_, ok := parseIP("[" + s + "]")
	return ok
}

// checkServerTLS checks the TLS keys of srv against each other once the
// whole section is read: it pairs tls_cert with tls_key and loads each
// pair, and checks that the proxy_tls_* keys have https backends.
// present maps each key given to its line.
func (l *loader) checkServerTLS(srv *Server, present map[string]int) {
	certs, keys := srv.tlsCertAt, srv.tlsKeyAt
	for i, c := range certs {
		switch {
		case len(keys) == 0:
			if i == 0 {
				l.addf(c.line, ErrMissing, "tls_cert: needs tls_key in the same [server] (a certificate needs its key)")
			}
		case i >= len(keys):
			l.addf(c.line, ErrMissing, "tls_cert: has no tls_key to pair with (the Nth tls_cert goes with the Nth tls_key; %d tls_cert, %d tls_key)", len(certs), len(keys))
		}
	}
	for i, k := range keys {
		switch {
		case len(certs) == 0:
			if i == 0 {
				l.addf(k.line, ErrMissing, "tls_key: needs tls_cert in the same [server] (a key needs its certificate)")
			}
		case i >= len(certs):
			l.addf(k.line, ErrMissing, "tls_key: has no tls_cert to pair with (the Nth tls_key goes with the Nth tls_cert; %d tls_cert, %d tls_key)", len(certs), len(keys))
		}
	}
	for i := range min(len(certs), len(keys)) {
		if certs[i].abs == "" || keys[i].abs == "" {
			continue // unreadable: reported already
		}
		if certPEM, keyPEM, ok := l.checkCertPair(certs[i], keys[i]); ok {
			srv.TLSCerts = append(srv.TLSCerts, CertPair{Cert: certs[i].abs, Key: keys[i].abs, Line: certs[i].line, CertPEM: certPEM, KeyPEM: keyPEM})
		}
	}
	if len(srv.TLSCerts) > 0 {
		srv.TLSCert, srv.TLSKey = srv.TLSCerts[0].Cert, srv.TLSCerts[0].Key
	}
	if len(certs) > 0 {
		srv.tlsLine = certs[0].line
	}
	srv.tlsCertAt, srv.tlsKeyAt = nil, nil

	l.checkProxyTLS(srv, present)
}

// checkProxyTLS checks the keys of TLS to the backends and fills in the
// default server name.
func (l *loader) checkProxyTLS(srv *Server, present map[string]int) {
	passLine, hasPass := present["proxy_pass"]
	for _, key := range proxyTLSKeys {
		line, has := present[key]
		switch {
		case !has || srv.ProxyTLS:
		case !hasPass:
			l.addf(line, ErrMissing, "%s: needs proxy_pass with https:// backends in the same [server]", key)
		case srv.HasProxy():
			l.addf(line, ErrMissing, "%s: needs https:// backends, but proxy_pass on line %d speaks plain HTTP", key, passLine)
		}
	}
	if !srv.ProxyTLS {
		return
	}
	if _, set := present["proxy_tls_server_name"]; !set {
		srv.ProxyTLSServerName = srv.proxyHosts[0]
		for _, h := range srv.proxyHosts[1:] {
			if h != srv.ProxyTLSServerName {
				if srv.ProxyTLSServerName == "" {
					l.warnf(passLine, "proxy_pass: the https backends mix host names and IP addresses; as the first is an address, no SNI is sent and each backend is verified against its own address (set proxy_tls_server_name to choose a name)")
				} else {
					l.warnf(passLine, "proxy_pass: the https backends have different host names; every backend is sent and verified as %q, the first one's (set proxy_tls_server_name to choose)", srv.ProxyTLSServerName)
				}
				break
			}
		}
	}
	if caLine, hasCA := present["proxy_tls_ca"]; hasCA && !srv.ProxyTLSVerify {
		l.warnf(caLine, "proxy_tls_ca: unused, since proxy_tls_verify = off accepts any backend certificate")
	}
}

// checkCertPair loads one tls_cert/tls_key pair as crypto/tls will, reports
// what is wrong with it, warns about certificates near or past their
// expiry, and returns the two files' content if the pair is usable.
func (l *loader) checkCertPair(cert, key pathAt) (certPEM, keyPEM []byte, ok bool) {
	certPEM, err := l.readPEM(cert.abs)
	if err != nil {
		l.addf(cert.line, ErrFile, "tls_cert: %q: %v", cert.raw, err)
		return nil, nil, false
	}
	chain, err := parseCertificates(certPEM)
	if err != nil {
		l.addf(cert.line, ErrCertificate, "tls_cert: %q: %v", cert.raw, err)
		return nil, nil, false
	}
	keyPEM, err = l.readPEM(key.abs)
	if err != nil {
		l.addf(key.line, ErrFile, "tls_key: %q: %v", key.raw, err)
		return nil, nil, false
	}
	priv, err := parsePrivateKey(keyPEM)
	if err != nil {
		l.addf(key.line, ErrCertificate, "tls_key: %q: %v", key.raw, err)
		return nil, nil, false
	}
	if msg := keyMismatch(priv, chain, fmt.Sprintf("%q (line %d)", cert.raw, cert.line)); msg != "" {
		l.addf(key.line, ErrCertificate, "tls_key: %q: %s", key.raw, msg)
		return nil, nil, false
	}
	// The checks above cover what tls.X509KeyPair checks, with clearer
	// messages; it stays the judge, so nothing it refuses gets through.
	if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
		l.addf(key.line, ErrCertificate, "tls_key: %q: cannot be used with %q (line %d): %s", key.raw, cert.raw, cert.line, strings.TrimPrefix(err.Error(), "tls: "))
		return nil, nil, false
	}
	l.warnExpiry(cert.line, "tls_cert", cert.raw, chain)
	return certPEM, keyPEM, true
}

// caBundle resolves p, a PEM bundle of CA certificates, checks that every
// certificate in it parses and warns about expiring ones; it returns the
// path and the content.
func (l *loader) caBundle(key, p string) (string, []byte, error) {
	abs, err := l.pemFile(p)
	if err != nil {
		return "", nil, err
	}
	data, err := l.readPEM(abs)
	if err != nil {
		return "", nil, fileError(fmt.Sprintf("%q: %v", p, err))
	}
	certs, err := parseCertificates(data)
	if err != nil {
		return "", nil, &kindError{ErrCertificate, fmt.Sprintf("%q: %v", p, err)}
	}
	l.warnExpiry(l.line, key, p, certs)
	return abs, data, nil
}

// pemFile resolves p, a file a TLS key names, and checks that it can be
// read: on the disk, or in the snapshot when there is one (ParseFiles).
func (l *loader) pemFile(p string) (string, error) {
	if l.snapshot == nil {
		return l.readableFile(p)
	}
	abs := l.resolve(p)
	if _, ok := l.snapshot[abs]; !ok {
		return "", fileError(fmt.Sprintf("%q: not among the files the configuration was validated with", p))
	}
	return abs, nil
}

// readPEM reads abs, a file a TLS key names, from the snapshot or the
// disk, and records its content for Config.Files.
func (l *loader) readPEM(abs string) ([]byte, error) {
	data, ok := l.snapshot[abs]
	if l.snapshot == nil {
		var err error
		if data, err = readPEMFile(abs); err != nil {
			return nil, err
		}
	} else if !ok {
		return nil, errors.New("not among the files the configuration was validated with")
	}
	if l.files == nil {
		l.files = map[string][]byte{}
	}
	l.files[abs] = data
	return data, nil
}

// maxPEMFile bounds the size of a certificate, key or CA file: the
// largest real one, a system CA bundle, is a few hundred KiB, so a larger
// file is a wrong path (a log, a disk image) that -t should not read.
const maxPEMFile = 4 << 20

// readPEMFile reads a file named by a TLS key, at most maxPEMFile bytes.
// Its error leaves out the path, which the message names already.
func readPEMFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, unwrapPathError(err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxPEMFile+1))
	switch {
	case err != nil:
		return nil, unwrapPathError(err)
	case len(data) > maxPEMFile:
		return nil, fmt.Errorf("larger than %d MiB: not a PEM certificate or key file", maxPEMFile>>20)
	}
	return data, nil
}

// parseCertificates parses every CERTIFICATE block of a PEM file. Other
// blocks are skipped, as crypto/tls skips them, so that one file may hold
// both a certificate and its key (nginx allows that).
func parseCertificates(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d in the file does not parse: %v", len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("no certificate in it (%s)", notPEM(data, `"-----BEGIN CERTIFICATE-----"`, "openssl x509 -inform der"))
	}
	return certs, nil
}

// parsePrivateKey parses the first private key block of a PEM file, in any
// of the forms openssl writes: PKCS #1 (RSA PRIVATE KEY), SEC 1 (EC
// PRIVATE KEY) or PKCS #8 (PRIVATE KEY). Other blocks are skipped.
func parsePrivateKey(data []byte) (crypto.Signer, error) {
	sawCert, sawPublic := false, false
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		switch {
		case block.Type == "CERTIFICATE":
			sawCert = true
			continue
		case block.Type == "PUBLIC KEY" || block.Type == "RSA PUBLIC KEY":
			sawPublic = true
			continue
		case block.Type == "ENCRYPTED PRIVATE KEY" || strings.Contains(block.Headers["Proc-Type"], "ENCRYPTED"):
			return nil, fmt.Errorf("the key is encrypted with a passphrase; nproxy reads unencrypted keys only (decrypt it with openssl pkey)")
		case !strings.HasSuffix(block.Type, "PRIVATE KEY"):
			continue
		}
		key, err := parseKeyBlock(block)
		if err != nil {
			return nil, fmt.Errorf("the %s block does not parse: %v", block.Type, err)
		}
		return key, nil
	}
	switch {
	case sawCert:
		return nil, fmt.Errorf("holds a certificate but no private key (are tls_cert and tls_key swapped?)")
	case sawPublic:
		return nil, fmt.Errorf("holds a public key, not the private key")
	}
	return nil, fmt.Errorf("no private key in it (%s)", notPEM(data, `"-----BEGIN PRIVATE KEY-----" (PKCS #8), "RSA PRIVATE KEY" (PKCS #1) or "EC PRIVATE KEY" (SEC 1)`, "openssl pkey -inform der"))
}

// parseKeyBlock parses one PEM private key block. Like crypto/tls, it
// tries every form whatever the block says, since tools mislabel them.
func parseKeyBlock(block *pem.Block) (crypto.Signer, error) {
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	if k, err := x509.ParseECPrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("not a PKCS #1, SEC 1 or PKCS #8 key")
	}
	switch k := k.(type) {
	case *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey:
		return k.(crypto.Signer), nil
	}
	return nil, fmt.Errorf("a %T key, which TLS cannot use (want RSA, ECDSA or Ed25519)", k)
}

// notPEM says what a file without the expected PEM block looks like:
// want is the block expected, convert the openssl command that turns DER
// into it.
func notPEM(data []byte, want, convert string) string {
	switch {
	case len(bytes.TrimSpace(data)) == 0:
		return "the file is empty"
	case data[0] == 0x30: // an ASN.1 SEQUENCE: DER
		return "it looks like DER, and nproxy reads PEM: convert it with " + convert
	}
	return "expected PEM, " + want
}

// keyMismatch returns "" when key is the private key of chain's first
// certificate, else what is wrong, worded to follow "KEY_FILE: ". file
// names the certificate file in the message.
func keyMismatch(key crypto.Signer, chain []*x509.Certificate, file string) string {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	pub, ok := key.Public().(equaler)
	if !ok {
		return "" // every key parsePrivateKey returns has Equal; X509KeyPair judges the rest
	}
	if pub.Equal(chain[0].PublicKey) {
		return ""
	}
	for i, c := range chain[1:] {
		if pub.Equal(c.PublicKey) {
			return fmt.Sprintf("matches certificate %d in %s, not the first: the server's certificate must come first, then its chain", i+2, file)
		}
	}
	if k, c := keyAlgorithm(key.Public()), keyAlgorithm(chain[0].PublicKey); k != c {
		return fmt.Sprintf("an %s key cannot match the %s certificate in %s", k, c, file)
	}
	return "does not match the certificate in " + file + ": it is the key of another certificate"
}

// keyAlgorithm names a public key's algorithm for messages.
func keyAlgorithm(pub crypto.PublicKey) string {
	switch pub.(type) {
	case *rsa.PublicKey:
		return "RSA"
	case *ecdsa.PublicKey:
		return "ECDSA"
	case ed25519.PublicKey:
		return "Ed25519"
	}
	return fmt.Sprintf("%T", pub)
}

// warnExpiry warns, at line, about each certificate of a file that has
// expired, expires within expiryWarning, or is not valid yet. An expired
// certificate is a warning, not an error: refusing it would keep the
// server down (or a reload from removing it) and help no one, and clients
// say clearly what is wrong.
func (l *loader) warnExpiry(line int, key, file string, certs []*x509.Certificate) {
	now := timeNow()
	for i, c := range certs {
		which := "the certificate"
		if i > 0 || len(certs) > 1 && certs[0].IsCA {
			which = fmt.Sprintf("certificate %d", i+1)
		}
		which += " (" + certName(c) + ")"
		date := c.NotAfter.UTC().Format(time.DateOnly)
		switch left := c.NotAfter.Sub(now); {
		case left <= 0:
			l.warnf(line, "%s: %q: %s expired %s ago, on %s", key, file, which, days(-left), date)
		case left < expiryWarning:
			l.warnf(line, "%s: %q: %s expires in %s, on %s", key, file, which, days(left), date)
		}
		if c.NotBefore.After(now) {
			l.warnf(line, "%s: %q: %s is not valid until %s (is the clock right?)", key, file, which, c.NotBefore.UTC().Format(time.DateTime+" UTC"))
		}
	}
}

// certName names a certificate for messages: its common name, else its
// first DNS name or IP address, else its serial number.
func certName(c *x509.Certificate) string {
	switch {
	case c.Subject.CommonName != "":
		return c.Subject.CommonName
	case len(c.DNSNames) > 0:
		return c.DNSNames[0]
	case len(c.IPAddresses) > 0:
		return c.IPAddresses[0].String()
	}
	return "serial " + c.SerialNumber.String()
}

// days writes d in whole days, rounded down, or "less than a day".
func days(d time.Duration) string {
	switch n := int64(d / day); n {
	case 0:
		return "less than a day"
	case 1:
		return "1 day"
	default:
		return strconv.FormatInt(n, 10) + " days"
	}
}
