package config

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"reflect"
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
//	big.pem                 one byte more than maxPEMFile (sparse)
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
	write("big.pem")
	if err := os.Truncate(filepath.Join(dir, "big.pem"), maxPEMFile+1); err != nil {
		t.Fatal(err)
	}
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

// TestTLSKeys checks the Server fields each TLS key sets, with their
// defaults, against one [server] holding the keys.
func TestTLSKeys(t *testing.T) {
	fixClock(t)
	dir := tlsFixture(t)
	abs := func(name string) string { return filepath.Join(dir, name) }
	const ecPair = "tls_cert = ec.crt\ntls_key = ec.key\n"
	tests := []struct {
		name    string
		keys    string // after "[server]\nlisten = 127.0.0.1:8443\n" (line 3 on)
		want    func(*Server) any
		wantVal any
	}{
		{name: "plain defaults", want: func(s *Server) any {
			return []any{s.HasTLS(), pairPaths(s.TLSCerts), s.TLSCert, s.TLSKey, s.TLSMinVersion, s.TLSMaxVersion,
				s.TLSClientCA, s.TLSSessionTickets, s.ProxyTLS, s.ProxyTLSCA, s.ProxyTLSServerName, s.ProxyTLSVerify}
		}, wantVal: []any{false, []CertPair(nil), "", "", uint16(tls.VersionTLS12), uint16(tls.VersionTLS13),
			"", true, false, "", "", true}},
		{name: "one pair", keys: ecPair, want: func(s *Server) any {
			return []any{s.HasTLS(), pairPaths(s.TLSCerts), s.TLSCert, s.TLSKey}
		}, wantVal: []any{true, []CertPair{{Cert: abs("ec.crt"), Key: abs("ec.key"), Line: 3}}, abs("ec.crt"), abs("ec.key")}},
		{name: "two pairs in order", keys: "tls_cert = rsa.crt\ntls_cert = ec.crt\ntls_key = rsa.key\ntls_key = ec-sec1.key\n",
			want: func(s *Server) any { return []any{pairPaths(s.TLSCerts), s.TLSCert, s.TLSKey} },
			wantVal: []any{[]CertPair{{Cert: abs("rsa.crt"), Key: abs("rsa.key"), Line: 3}, {Cert: abs("ec.crt"), Key: abs("ec-sec1.key"), Line: 4}},
				abs("rsa.crt"), abs("rsa.key")}},
		{name: "absolute paths", keys: "tls_cert = " + abs("chain.crt") + "\ntls_key = " + abs("chain.key") + "\n",
			want: func(s *Server) any { return pairPaths(s.TLSCerts) }, wantVal: []CertPair{{Cert: abs("chain.crt"), Key: abs("chain.key"), Line: 3}}},
		{name: "pkcs8 rsa key", keys: "tls_cert = rsa.crt\ntls_key = rsa8.key\n",
			want: func(s *Server) any { return s.TLSKey }, wantVal: abs("rsa8.key")},
		{name: "certificate and key in one file", keys: "tls_cert = combined.pem\ntls_key = combined.pem\n",
			want: func(s *Server) any { return pairPaths(s.TLSCerts) }, wantVal: []CertPair{{Cert: abs("combined.pem"), Key: abs("combined.pem"), Line: 3}}},
		{name: "protocols 1.3 only", keys: ecPair + "tls_protocols = TLSv1.3",
			want: versions, wantVal: []uint16{tls.VersionTLS13, tls.VersionTLS13}},
		{name: "protocols 1.2 only", keys: ecPair + "tls_protocols = TLSv1.2",
			want: versions, wantVal: []uint16{tls.VersionTLS12, tls.VersionTLS12}},
		{name: "protocols any order and case", keys: ecPair + "tls_protocols = tlsv1.3 TLSV1.2",
			want: versions, wantVal: []uint16{tls.VersionTLS12, tls.VersionTLS13}},
		{name: "client ca", keys: ecPair + "tls_client_ca = cas.pem",
			want: func(s *Server) any { return s.TLSClientCA }, wantVal: abs("cas.pem")},
		{name: "tickets off", keys: ecPair + "tls_session_tickets = off",
			want: func(s *Server) any { return s.TLSSessionTickets }, wantVal: false},
		{name: "https backend name", keys: "proxy_pass = https://API.internal:8443 weight=2, https://10.0.0.2",
			want: proxyTLS, wantVal: []any{true, []Upstream{{Addr: "api.internal:8443", Weight: 2}, {Addr: "10.0.0.2:443", Weight: 1}}, "api.internal", true, ""}},
		{name: "https backend address", keys: "proxy_pass = https://10.0.0.1, https://api.internal",
			want: proxyTLS, wantVal: []any{true, []Upstream{{Addr: "10.0.0.1:443", Weight: 1}, {Addr: "api.internal:443", Weight: 1}}, "", true, ""}},
		{name: "https localhost keeps its name", keys: "proxy_pass = https://localhost:8443",
			want: proxyTLS, wantVal: []any{true, []Upstream{{Addr: "127.0.0.1:8443", Weight: 1}}, "localhost", true, ""}},
		{name: "https ipv6", keys: "proxy_pass = https://[::1]",
			want: proxyTLS, wantVal: []any{true, []Upstream{{Addr: "[::1]:443", Weight: 1}}, "", true, ""}},
		{name: "http prefix stripped", keys: "proxy_pass = http://10.0.0.1, 10.0.0.2:81",
			want: proxyTLS, wantVal: []any{false, []Upstream{{Addr: "10.0.0.1:80", Weight: 1}, {Addr: "10.0.0.2:81", Weight: 1}}, "", true, ""}},
		{name: "proxy tls keys", keys: "proxy_tls_server_name = Backend.Example.\nproxy_pass = https://10.0.0.1\nproxy_tls_ca = ca.pem\nproxy_tls_verify = off",
			want: proxyTLS, wantVal: []any{true, []Upstream{{Addr: "10.0.0.1:443", Weight: 1}}, "backend.example", false, abs("ca.pem")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parseIn(dir, "[server]\nlisten = 127.0.0.1:8443\n"+tt.keys+"\n")
			if !checkErr(t, err, "") {
				return
			}
			if got := tt.want(cfg.Servers[0]); !reflect.DeepEqual(got, tt.wantVal) {
				t.Errorf("got %#v\nwant %#v", got, tt.wantVal)
			}
		})
	}
}

// Field getters for TestTLSKeys.
func versions(s *Server) any { return []uint16{s.TLSMinVersion, s.TLSMaxVersion} }
func proxyTLS(s *Server) any {
	return []any{s.ProxyTLS, s.ProxyPass, s.ProxyTLSServerName, s.ProxyTLSVerify, s.ProxyTLSCA}
}

// TestTLSPairsLoad checks that what the configuration accepted, crypto/tls
// loads: the data path can rely on a validated Config.
func TestTLSPairsLoad(t *testing.T) {
	fixClock(t)
	dir := tlsFixture(t)
	data, err := os.ReadFile("testdata/tls/ok.ini")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := parse("ok.ini", dir, data)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, s := range cfg.Servers {
		for _, p := range s.TLSCerts {
			if _, err := tls.LoadX509KeyPair(p.Cert, p.Key); err != nil {
				t.Errorf("line %d: %v", p.Line, err)
			}
			n++
		}
	}
	if n != 6 {
		t.Errorf("%d certificate pairs, want 6", n)
	}
	if len(cfg.Warnings) != 0 {
		t.Errorf("warnings: %q", cfg.Warnings)
	}
}

// TestTLSErrorKinds checks the kinds the TLS problems wrap, so callers can
// tell a bad certificate from a missing file.
func TestTLSErrorKinds(t *testing.T) {
	fixClock(t)
	dir := tlsFixture(t)
	tests := []struct {
		name string
		keys string
		kind error
		msg  string
	}{
		{"unreadable", "tls_cert = nope.crt\ntls_key = ec.key", ErrFile, `t.ini:3: tls_cert: "nope.crt": no such file or directory`},
		{"too large", "tls_cert = big.pem\ntls_key = ec.key", ErrFile, `t.ini:3: tls_cert: "big.pem": larger than 4 MiB: not a PEM certificate or key file`},
		{"too large ca", "tls_cert = ec.crt\ntls_key = ec.key\ntls_client_ca = big.pem", ErrFile, `t.ini:5: tls_client_ca: "big.pem": larger than 4 MiB`},
		{"not a certificate", "tls_cert = garbage.pem\ntls_key = ec.key", ErrCertificate, `t.ini:3: tls_cert: "garbage.pem": no certificate in it`},
		{"mismatch", "tls_cert = ec.crt\ntls_key = other.key", ErrCertificate, `t.ini:4: tls_key: "other.key": does not match the certificate in "ec.crt" (line 3)`},
		{"unpaired", "tls_cert = ec.crt", ErrMissing, `t.ini:3: tls_cert: needs tls_key in the same [server]`},
		{"old protocol", "tls_cert = ec.crt\ntls_key = ec.key\ntls_protocols = TLSv1.1 TLSv1.2", ErrValue, `t.ini:5: tls_protocols: "TLSv1.1": insecure and not supported`},
		{"bad client ca", "tls_cert = ec.crt\ntls_key = ec.key\ntls_client_ca = ec.key", ErrCertificate, `t.ini:5: tls_client_ca: "ec.key": no certificate in it`},
		{"proxy tls without https", "proxy_pass = 10.0.0.1\nproxy_tls_verify = off", ErrMissing, `t.ini:4: proxy_tls_verify: needs https:// backends, but proxy_pass on line 3 speaks plain HTTP`},
		{"mixed backends", "proxy_pass = https://10.0.0.1 10.0.0.2", ErrValue, `t.ini:3: proxy_pass: "10.0.0.2": https:// and plain backends in one proxy_pass`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseIn(dir, "[server]\nlisten = 127.0.0.1:8443\n"+tt.keys+"\n")
			if !errors.Is(err, tt.kind) || !errors.Is(err, ErrInvalid) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.kind)
			}
			checkErr(t, err, tt.msg)
		})
	}
	_, err := parseIn(dir, "[server]\nlisten = 127.0.0.1:443\n[server]\nlisten = 127.0.0.1:443\nserver_name = b\ntls_cert = ec.crt\ntls_key = ec.key\n")
	if !errors.Is(err, ErrConflict) {
		t.Errorf("TLS and plain on one address: %v, want ErrConflict", err)
	}
	checkErr(t, err, "t.ini:4: listen 127.0.0.1:443: TLS on one [server] of this address and not on another")
}

// TestTLSSNIServers checks that servers on one TLS address with different
// names load, in file order, the first being the address's default.
func TestTLSSNIServers(t *testing.T) {
	dir := tlsFixture(t)
	cfg, err := parseIn(dir, `[server]
listen = 0.0.0.0:443
tls_cert = ec.crt
tls_key = ec.key
[server]
listen = 0.0.0.0:443
server_name = chain.example.com
tls_cert = chain.crt
tls_key = chain.key
[server]
listen = 0.0.0.0:443
server_name = *.example.org
tls_cert = rsa.crt
tls_key = rsa.key
`)
	if !checkErr(t, err, "") {
		return
	}
	var got []string
	for _, s := range cfg.Servers {
		got = append(got, strings.Join(s.ServerNames, " ")+"="+filepath.Base(s.TLSCert))
	}
	if want := []string{"=ec.crt", "chain.example.com=chain.crt", "*.example.org=rsa.crt"}; !reflect.DeepEqual(got, want) {
		t.Errorf("servers %q, want %q", got, want)
	}
}

// TestTLSWarnings checks the expiry thresholds: 30 days and less warns,
// more does not, and a warning leaves the configuration usable.
func TestTLSWarnings(t *testing.T) {
	fixClock(t)
	dir := t.TempDir()
	tests := []struct {
		name     string
		notAfter time.Time
		want     string // "" for no warning
	}{
		{"a year", tlsNow.Add(365 * day), ""},
		{"31 days", tlsNow.Add(31 * day), ""},
		{"30 days", tlsNow.Add(30 * day), ""},
		{"29 days", tlsNow.Add(29*day + time.Hour), `expires in 29 days, on 2040-06-30`},
		{"one day", tlsNow.Add(day + time.Minute), `expires in 1 day, on 2040-06-02`},
		{"an hour", tlsNow.Add(time.Hour), `expires in less than a day, on 2040-06-01`},
		{"just expired", tlsNow.Add(-time.Hour), `expired less than a day ago, on 2040-06-01`},
		{"long expired", tlsNow.Add(-400 * day), `expired 400 days ago, on 2039-04-28`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			certPath, keyPath := testcert.Write(t, dir, testcert.Options{NotAfter: tt.notAfter})
			cfg, err := parseIn(dir, "[server]\nlisten = 127.0.0.1:8443\ntls_cert = "+certPath+"\ntls_key = "+keyPath+"\n")
			if !checkErr(t, err, "") {
				return
			}
			switch {
			case tt.want == "" && len(cfg.Warnings) > 0:
				t.Errorf("unexpected warnings: %q", cfg.Warnings)
			case tt.want != "" && len(cfg.Warnings) != 1:
				t.Errorf("warnings %q, want one", cfg.Warnings)
			case tt.want != "":
				prefix := filepath.Join(dir, "t.ini") + `:3: warning: tls_cert: "` + certPath + `": the certificate (localhost) `
				if w := cfg.Warnings[0]; !strings.HasPrefix(w, prefix) || !strings.HasSuffix(w, tt.want) {
					t.Errorf("warning %q\nwant %q...%q", w, prefix, tt.want)
				}
			}
		})
	}
}

// TestTLSWarningsNeedNoTLS checks that a configuration without TLS has no
// warnings (nil, so callers may range over it without a check).
func TestTLSWarningsNeedNoTLS(t *testing.T) {
	cfg, err := Parse("t.ini", []byte("[server]\nlisten = 127.0.0.1:8080\n"))
	if err != nil || cfg.Warnings != nil {
		t.Errorf("Warnings = %q, err = %v", cfg.Warnings, err)
	}
}

// pairPaths is pairs without their files' content, for comparing paths
// and lines.
func pairPaths(pairs []CertPair) []CertPair {
	if pairs == nil {
		return nil
	}
	out := make([]CertPair, len(pairs))
	for i, p := range pairs {
		out[i] = CertPair{Cert: p.Cert, Key: p.Key, Line: p.Line}
	}
	return out
}

// TestTLSParseFiles: a Parse records every certificate, key and CA file
// it validated in Config.Files; ParseFiles of the same text reads those
// bytes and never the disk, so a file rewritten since (a key of another
// certificate) or removed does not change it, and a file the snapshot
// lacks is an error.
func TestTLSParseFiles(t *testing.T) {
	fixClock(t)
	dir := tlsFixture(t)
	name := filepath.Join(dir, "t.ini")
	data := []byte("[server]\nlisten = 127.0.0.1:8443\ntls_cert = ec.crt\ntls_key = ec.key\ntls_client_ca = ca.pem\n" +
		"proxy_pass = https://127.0.0.1:9443\nproxy_tls_ca = cas.pem\n")
	cfg, err := Parse(name, data)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"ec.crt": "", "ec.key": "", "ca.pem": "", "cas.pem": ""}
	for f := range want {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		want[f] = string(b)
		if got, ok := cfg.Files[filepath.Join(dir, f)]; !ok || string(got) != want[f] {
			t.Errorf("Files[%s]: recorded %v, same content %v", f, ok, string(got) == want[f])
		}
	}
	if len(cfg.Files) != len(want) {
		t.Errorf("Files has %d entries, want %d", len(cfg.Files), len(want))
	}

	// The disk changes: the key becomes another certificate's, the CA goes.
	other, err := os.ReadFile(filepath.Join(dir, "other.key"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "ec.key"), other, 0o600)
	os.Remove(filepath.Join(dir, "ca.pem"))
	if _, err := Parse(name, data); err == nil {
		t.Fatal("Parse accepted the changed files")
	}
	again, err := ParseFiles(name, data, cfg.Files)
	if err != nil {
		t.Fatalf("ParseFiles with the first load's files: %v", err)
	}
	s := again.Servers[0]
	if string(s.TLSCerts[0].KeyPEM) != want["ec.key"] || string(s.TLSCerts[0].CertPEM) != want["ec.crt"] ||
		string(s.TLSClientCAPEM) != want["ca.pem"] || string(s.ProxyTLSCAPEM) != want["cas.pem"] {
		t.Error("ParseFiles did not serve the snapshot's bytes")
	}
	if _, err := tls.X509KeyPair(s.TLSCerts[0].CertPEM, s.TLSCerts[0].KeyPEM); err != nil {
		t.Errorf("the pair ParseFiles kept does not load: %v", err)
	}

	delete(cfg.Files, filepath.Join(dir, "ec.crt"))
	_, err = ParseFiles(name, data, cfg.Files)
	if err == nil || !strings.Contains(err.Error(), `t.ini:3: tls_cert: "ec.crt": not among the files the configuration was validated with`) {
		t.Errorf("ParseFiles without the certificate: %v", err)
	}
}
