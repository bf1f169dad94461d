package tls

import (
	"cmp"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	ctls "crypto/tls"
	"crypto/x509"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
)

// Site is one [server] block's TLS settings on an address.
type Site struct {
	// Names are the block's server_name patterns, lower case: exact
	// ("a.example.com") or a leading wildcard ("*.example.com", which
	// matches any name ending in ".example.com", as server_name does).
	// They choose the site by SNI; they may be empty.
	Names []string
	// Certs are the loaded certificates, ECDSA and/or RSA: the first one
	// the client's signature algorithms accept is served, ECDSA first.
	Certs []ctls.Certificate
	// MinVersion and MaxVersion bound the protocol versions; zero means
	// TLS 1.2 and TLS 1.3.
	MinVersion, MaxVersion uint16
	// ClientCAs, when set, makes a client certificate required and
	// verified against it (nginx's ssl_verify_client on).
	ClientCAs *x509.CertPool
	// SessionTickets enables resumption by session ticket, with the keys
	// given to Context.SetTicketKeys.
	SessionTickets bool
	// NextProtos are the ALPN protocols offered, most preferred first;
	// nil means "http/1.1" only. A client offering ALPN with none of them
	// is refused with no_application_protocol.
	NextProtos []string
	// Curves are the key exchange groups accepted (tls_curves), a set:
	// crypto/tls chooses among them (see ParseCurves); nil means
	// DefaultCurves.
	Curves []ctls.CurveID
}

// Protocol choices shared by servers and clients: ECDHE key exchange on
// X25519MLKEM768, X25519 or P-256, AEAD ciphers only. TLS 1.3's suites are not
// configurable in crypto/tls and are all AEAD already.
var (
	tls12CipherSuites = []uint16{
		ctls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
		ctls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		ctls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
		ctls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
		ctls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
		ctls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	}
	// X25519MLKEM768 first, as crypto/tls's default: the hybrid
	// post-quantum exchange browsers offer; X25519 and P-256 for the rest.
	curvePreferences  = []ctls.CurveID{ctls.X25519MLKEM768, ctls.X25519, ctls.CurveP256}
	defaultNextProtos = []string{"http/1.1"}
)

// Context is the TLS configuration of one listening address: several
// sites chosen by SNI (exact name, then the longest *.wildcard, then the
// first site as the default). One Context serves every connection of a
// worker on that address; it is safe for concurrent use.
type Context struct {
	sites     []contextSite
	exact     map[string]int
	wildcards []wildcardName // longest suffix first
	base      *ctls.Config   // only chooses the site's config
	lim       *handshakeLimiter
	capture   atomic.Bool // capture secrets for EnableKTLS
}

type contextSite struct {
	config  *ctls.Config
	tickets bool
	label   string // what makes the site's ticket keys its own
}

type wildcardName struct {
	suffix string // ".example.com" for "*.example.com"
	site   int
}

// NewContext builds the configuration of one address from its sites; the
// first site is the default for a client whose SNI matches no name (or
// that sends none). Until SetTicketKeys is called, sessions resume with a
// random key made here (so only on this worker), and it never rotates:
// the master is expected to distribute and rotate keys.
func NewContext(sites []Site) (*Context, error) {
	if len(sites) == 0 {
		return nil, ErrNoSites
	}
	c := &Context{
		sites: make([]contextSite, len(sites)),
		exact: make(map[string]int),
		lim:   processLimiter,
	}
	for i := range sites {
		cfg, err := siteConfig(&sites[i])
		if err != nil {
			return nil, fmt.Errorf("site %d (%s): %w", i, strings.Join(sites[i].Names, " "), err)
		}
		c.sites[i] = contextSite{
			config:  cfg,
			tickets: sites[i].SessionTickets,
			label:   strconv.Itoa(i) + "\x00" + strings.Join(sites[i].Names, "\x00"),
		}
		for _, name := range sites[i].Names {
			name = strings.ToLower(name)
			if suffix, ok := strings.CutPrefix(name, "*"); ok {
				if !strings.HasPrefix(suffix, ".") || len(suffix) < 2 || strings.Contains(suffix, "*") {
					return nil, fmt.Errorf("site %d: %w: %q", i, ErrServerName, name)
				}
				c.wildcards = append(c.wildcards, wildcardName{suffix: suffix, site: i})
				continue
			}
			if name == "" || strings.Contains(name, "*") {
				return nil, fmt.Errorf("site %d: %w: %q", i, ErrServerName, name)
			}
			if _, dup := c.exact[name]; !dup {
				c.exact[name] = i // the first block naming it wins, as for Host
			}
		}
	}
	slices.SortStableFunc(c.wildcards, func(a, b wildcardName) int {
		return cmp.Compare(len(b.suffix), len(a.suffix))
	})
	c.base = &ctls.Config{
		GetConfigForClient:          c.configForClient,
		MinVersion:                  ctls.VersionTLS12,
		CipherSuites:                tls12CipherSuites,
		CurvePreferences:            curvePreferences,
		DynamicRecordSizingDisabled: true,
	}
	var key [32]byte
	rand.Read(key[:])
	c.SetTicketKeys([][32]byte{key})
	return c, nil
}

// siteConfig makes the crypto/tls configuration of one site.
func siteConfig(s *Site) (*ctls.Config, error) {
	if len(s.Certs) == 0 {
		return nil, ErrNoCertificate
	}
	minV, maxV := s.MinVersion, s.MaxVersion
	if minV == 0 {
		minV = ctls.VersionTLS12
	}
	if maxV == 0 {
		maxV = ctls.VersionTLS13
	}
	if minV < ctls.VersionTLS12 || maxV > ctls.VersionTLS13 || minV > maxV {
		return nil, fmt.Errorf("%w: %#x to %#x (only TLS 1.2 and 1.3 are served)", ErrVersion, minV, maxV)
	}
	cfg := &ctls.Config{
		MinVersion:                  minV,
		MaxVersion:                  maxV,
		CipherSuites:                tls12CipherSuites,
		CurvePreferences:            curvePreferences,
		NextProtos:                  defaultNextProtos,
		SessionTicketsDisabled:      !s.SessionTickets,
		DynamicRecordSizingDisabled: true, // full 16 KiB records, as nginx's ssl_buffer_size default
	}
	if len(s.NextProtos) > 0 {
		cfg.NextProtos = slices.Clone(s.NextProtos)
	}
	if len(s.Curves) > 0 {
		cfg.CurvePreferences = slices.Clone(s.Curves)
	}
	if s.ClientCAs != nil {
		cfg.ClientCAs = s.ClientCAs
		cfg.ClientAuth = ctls.RequireAndVerifyClientCert
	}
	certs := slices.Clone(s.Certs)
	slices.SortStableFunc(certs, func(a, b ctls.Certificate) int {
		return cmp.Compare(signingCost(a), signingCost(b))
	})
	if len(certs) == 1 {
		cfg.Certificates = certs
	} else {
		cfg.GetCertificate = pickCertificate(certs)
	}
	return cfg, nil
}

// signingCost orders certificates by how cheap their signatures are, so
// that a client accepting several gets the cheapest: ECDSA and Ed25519
// sign in tens of microseconds, RSA-2048 in about a millisecond.
func signingCost(c ctls.Certificate) int {
	switch c.PrivateKey.(type) {
	case *ecdsa.PrivateKey, ed25519.PrivateKey:
		return 0
	}
	return 1
}

// pickCertificate chooses among several certificates of one site by the
// client's signature algorithms only. crypto/tls's own choice also
// matches the SNI against each certificate's names and falls back to the
// first certificate when none matches, which would give an RSA-only
// client the ECDSA certificate when its SNI chose the default site; here
// the site is already chosen, so the names do not matter.
func pickCertificate(certs []ctls.Certificate) func(*ctls.ClientHelloInfo) (*ctls.Certificate, error) {
	return func(hello *ctls.ClientHelloInfo) (*ctls.Certificate, error) {
		nameless := *hello
		nameless.ServerName = ""
		for i := range certs {
			if nameless.SupportsCertificate(&certs[i]) == nil {
				return &certs[i], nil
			}
		}
		return &certs[0], nil
	}
}

// configForClient is the base configuration's GetConfigForClient: it
// chooses the site by SNI and records the choice on the connection.
// Handshake goroutine.
func (c *Context) configForClient(hello *ctls.ClientHelloInfo) (*ctls.Config, error) {
	i := c.pickSite(hello.ServerName)
	cfg := c.sites[i].config
	if p, ok := hello.Conn.(*pipe); ok {
		if c := p.setSite(i); c != nil {
			// The key log is per Config, so a connection whose secrets
			// are captured gets its own shallow copy.
			cfg = cfg.Clone()
			cfg.KeyLogWriter = c
		}
	}
	return cfg, nil
}

// pickSite chooses the site for a server name: exact name, then the
// longest wildcard suffix, else the first site — the order server_name
// uses for Host, so that SNI and Host agree on the same names.
func (c *Context) pickSite(serverName string) int {
	name := strings.ToLower(strings.TrimSuffix(serverName, "."))
	if name == "" || len(c.sites) == 1 {
		return 0
	}
	if i, ok := c.exact[name]; ok {
		return i
	}
	for _, w := range c.wildcards {
		if len(name) > len(w.suffix) && strings.HasSuffix(name, w.suffix) {
			return w.site
		}
	}
	return 0
}

// SetTicketKeys sets the session ticket keys of every site with
// SessionTickets: the first key encrypts new tickets, all of them decrypt.
// Workers given the same keys resume each other's sessions. Each site
// derives its own keys from these (HMAC-SHA256 over its index and names),
// so a ticket issued for one site never resumes on another: no session
// crosses from a site without client certificates to one requiring them,
// or between certificates. Safe from any goroutine; handshakes in flight
// keep the keys they started with.
func (c *Context) SetTicketKeys(keys [][32]byte) {
	if len(keys) == 0 {
		return
	}
	for i := range c.sites {
		s := &c.sites[i]
		if !s.tickets {
			continue
		}
		derived := make([][32]byte, len(keys))
		for j := range keys {
			m := hmac.New(sha256.New, keys[j][:])
			m.Write([]byte("nproxy tls ticket key\x00"))
			m.Write([]byte(s.label))
			m.Sum(derived[j][:0])
		}
		s.config.SetSessionTicketKeys(derived)
	}
}

// SetKTLS chooses whether new connections capture the secrets and
// handshake records EnableKTLS needs; it is off by default. Capturing
// costs a copy of the site's Config and of the handshake's records per
// handshake. Safe from any goroutine; connections already made keep their
// choice.
func (c *Context) SetKTLS(on bool) {
	c.capture.Store(on)
}

// Server starts a server-side TLS connection. wake is called from any
// goroutine when Handshake should be called again (a handshake flight is
// ready, the handshake finished, or a handshake slot was granted); it
// must only post the connection to its loop, never call its methods or
// block. It is never called after Close returns.
func (c *Context) Server(wake func()) *Conn {
	var cp *capture
	if c.capture.Load() {
		cp = new(capture)
	}
	return newConn(true, c.base, c.lim, wake, cp)
}

// SiteFromPEM builds a Site for names from PEM data: certs[i] holds a
// certificate chain (leaf first) and keys[i] its private key.
func SiteFromPEM(certs, keys [][]byte, names []string) (Site, error) {
	if len(certs) != len(keys) {
		return Site{}, fmt.Errorf("tls: %d certificates for %d keys", len(certs), len(keys))
	}
	s := Site{Names: slices.Clone(names)}
	for i := range certs {
		cert, err := ctls.X509KeyPair(certs[i], keys[i])
		if err != nil {
			return Site{}, fmt.Errorf("tls: certificate %d: %w", i+1, err)
		}
		s.Certs = append(s.Certs, cert)
	}
	if len(s.Certs) == 0 {
		return Site{}, ErrNoCertificate
	}
	return s, nil
}

// LoadSite builds a Site for names from PEM files: certFiles[i] holds a
// certificate chain (leaf first) and keyFiles[i] its private key. The
// versions, client CAs, tickets and ALPN are the caller's to set.
func LoadSite(certFiles, keyFiles []string, names []string) (Site, error) {
	if len(certFiles) != len(keyFiles) {
		return Site{}, fmt.Errorf("tls: %d certificate files for %d key files", len(certFiles), len(keyFiles))
	}
	s := Site{Names: slices.Clone(names)}
	for i := range certFiles {
		cert, err := ctls.LoadX509KeyPair(certFiles[i], keyFiles[i])
		if err != nil {
			return Site{}, fmt.Errorf("tls: %s, %s: %w", certFiles[i], keyFiles[i], err)
		}
		s.Certs = append(s.Certs, cert)
	}
	if len(s.Certs) == 0 {
		return Site{}, ErrNoCertificate
	}
	return s, nil
}
