package tls

import (
	ctls "crypto/tls"
	"crypto/x509"
)

// clientSessionCacheSize is how many sessions a ClientContext keeps.
// crypto/tls caches one session per server name, and a ClientContext
// serves one upstream name, so a handful of entries is plenty; the bound
// only matters if serverName is empty and the cache is keyed by address.
const clientSessionCacheSize = 64

// ClientContext is the TLS configuration for connections to one upstream:
// its server name, the roots that verify it, and a session cache shared
// by all its pooled connections, so that a new connection resumes the
// session of an earlier one. It is safe for concurrent use.
type ClientContext struct {
	config *ctls.Config
	lim    *handshakeLimiter
}

// NewClientConfig makes the client configuration for an upstream.
// serverName is sent as SNI (unless it is an IP address) and verified
// against the certificate; roots nil means the system roots; verify false
// accepts any certificate (proxy_tls_verify = off, an explicit opt-out).
// ALPN offers "http/1.1".
func NewClientConfig(serverName string, roots *x509.CertPool, verify bool) *ClientContext {
	return &ClientContext{
		config: &ctls.Config{
			ServerName:                  serverName,
			RootCAs:                     roots,
			InsecureSkipVerify:          !verify,
			ClientSessionCache:          ctls.NewLRUClientSessionCache(clientSessionCacheSize),
			NextProtos:                  defaultNextProtos,
			MinVersion:                  ctls.VersionTLS12,
			CipherSuites:                tls12CipherSuites,
			CurvePreferences:            curvePreferences,
			DynamicRecordSizingDisabled: true,
		},
		lim: processLimiter,
	}
}

// Client starts a client-side TLS connection; the first Handshake call
// starts the handshake, whose ClientHello then appears in Output. wake
// follows the rules of Context.Server.
func (c *ClientContext) Client(wake func()) *Conn {
	return newConn(false, c.config, c.lim, wake, nil)
}
