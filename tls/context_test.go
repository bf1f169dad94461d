package tls

import (
	ctls "crypto/tls"
	"errors"
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

// TestSNI chooses among three sites: exact, wildcard, default.
func TestSNI(t *testing.T) {
	ca := newTestCA(t)
	ctx, err := NewContext([]Site{
		{Names: []string{"default.test"}, Certs: []ctls.Certificate{ca.leaf(t, testcert.ECDSA, "default.test")}},
		{Names: []string{"a.example.com"}, Certs: []ctls.Certificate{ca.leaf(t, testcert.ECDSA, "a.example.com")}},
		{Names: []string{"*.example.com"}, Certs: []ctls.Certificate{ca.leaf(t, testcert.ECDSA, "*.example.com")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		sni      string
		wantSite int
		wantCert string
	}{
		{"a.example.com", 1, "a.example.com"},
		{"b.example.com", 2, "*.example.com"},
		{"x.y.example.com", 2, "*.example.com"},
		{"example.com", 0, "default.test"}, // a wildcard needs a label in front
		{"unknown.test", 0, "default.test"},
		{"", 0, "default.test"}, // no SNI at all
	}
	for _, tt := range tests {
		t.Run("sni="+tt.sni, func(t *testing.T) {
			x := exchangeOnce(t, ctx, &ctls.Config{ServerName: tt.sni, InsecureSkipVerify: true})
			if x.serverErr != nil || x.clientErr != nil {
				t.Fatalf("server %v, client %v", x.serverErr, x.clientErr)
			}
			if x.site != tt.wantSite {
				t.Errorf("Site() = %d, want %d", x.site, tt.wantSite)
			}
			if got := x.client.PeerCertificates[0].DNSNames[0]; got != tt.wantCert {
				t.Errorf("certificate for %q, want %q", got, tt.wantCert)
			}
			if x.server.ServerName != tt.sni {
				t.Errorf("State().ServerName = %q, want %q", x.server.ServerName, tt.sni)
			}
		})
	}
}

// TestPickSite checks the SNI rule without handshakes.
func TestPickSite(t *testing.T) {
	ca := newTestCA(t)
	cert := []ctls.Certificate{ca.leaf(t, testcert.ECDSA, "x.test")}
	ctx, err := NewContext([]Site{
		{Names: nil, Certs: cert},
		{Names: []string{"a.example.com", "b.example.com"}, Certs: cert},
		{Names: []string{"*.example.com"}, Certs: cert},
		{Names: []string{"*.deep.example.com", "a.example.com"}, Certs: cert},
		{Names: []string{"*.example.com"}, Certs: cert},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		want int
	}{
		{"a.example.com", 1},  // exact, first block naming it
		{"B.Example.COM", 1},  // case-insensitive
		{"b.example.com.", 1}, // trailing dot
		{"c.example.com", 2},  // wildcard, first of two equal ones
		{"x.deep.example.com", 3},
		{"deep.example.com", 2}, // the longer wildcard needs a label in front
		{"example.com", 0},
		{"", 0},
		{"nothing.test", 0},
	}
	for _, tt := range tests {
		if got := ctx.pickSite(tt.name); got != tt.want {
			t.Errorf("pickSite(%q) = %d, want %d", tt.name, got, tt.want)
		}
	}
}

// TestNewContextErrors checks the configurations NewContext refuses.
func TestNewContextErrors(t *testing.T) {
	ca := newTestCA(t)
	cert := []ctls.Certificate{ca.leaf(t, testcert.ECDSA, "x.test")}
	tests := []struct {
		name  string
		sites []Site
		want  error
	}{
		{"none", nil, ErrNoSites},
		{"no certificate", []Site{{Names: []string{"a.test"}}}, ErrNoCertificate},
		{"TLS 1.1", []Site{{Certs: cert, MinVersion: ctls.VersionTLS11}}, ErrVersion},
		{"min above max", []Site{{Certs: cert, MinVersion: ctls.VersionTLS13, MaxVersion: ctls.VersionTLS12}}, ErrVersion},
		{"inner wildcard", []Site{{Names: []string{"a.*.test"}, Certs: cert}}, ErrServerName},
		{"bare star", []Site{{Names: []string{"*"}, Certs: cert}}, ErrServerName},
		{"star without dot", []Site{{Names: []string{"*example.com"}, Certs: cert}}, ErrServerName},
	}
	for _, tt := range tests {
		if _, err := NewContext(tt.sites); !errors.Is(err, tt.want) {
			t.Errorf("%s: NewContext error %v, want %v", tt.name, err, tt.want)
		}
	}
}

// TestTicketsPerSite refuses to resume a session on a site other than the
// one that issued it, even with the same ticket keys.
func TestTicketsPerSite(t *testing.T) {
	ca := newTestCA(t)
	ctx, err := NewContext([]Site{
		{Names: []string{"a.test"}, Certs: []ctls.Certificate{ca.leaf(t, testcert.ECDSA, "a.test")}, SessionTickets: true},
		{Names: []string{"b.test"}, Certs: []ctls.Certificate{ca.leaf(t, testcert.ECDSA, "b.test")}, SessionTickets: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	cache := &renamingCache{ClientSessionCache: ctls.NewLRUClientSessionCache(8)}
	for i, sni := range []string{"a.test", "b.test"} {
		x := exchangeOnce(t, ctx, &ctls.Config{ServerName: sni, InsecureSkipVerify: true, ClientSessionCache: cache})
		if x.serverErr != nil || x.clientErr != nil {
			t.Fatalf("%s: server %v, client %v", sni, x.serverErr, x.clientErr)
		}
		if x.server.DidResume {
			t.Errorf("connection %d (%s) resumed a session of another site", i, sni)
		}
	}
	if cache.offered == 0 {
		t.Error("the second connection offered no session: the test proves nothing")
	}
}

// renamingCache serves every server name the one session it holds, so
// that a client offers a.test's session to b.test.
type renamingCache struct {
	ctls.ClientSessionCache
	offered int
}

func (c *renamingCache) Get(string) (*ctls.ClientSessionState, bool) {
	s, ok := c.ClientSessionCache.Get("any")
	if ok {
		c.offered++
	}
	return s, ok
}

func (c *renamingCache) Put(_ string, s *ctls.ClientSessionState) {
	c.ClientSessionCache.Put("any", s)
}
