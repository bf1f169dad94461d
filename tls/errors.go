package tls

import "errors"

// Errors returned by Context, Conn and the kernel TLS hand-over.
var (
	// ErrWouldBlock is returned by Conn.Read when no whole record is
	// buffered: Feed more ciphertext and call Read again.
	ErrWouldBlock = errors.New("tls: would block")

	// ErrPlainHTTP is returned by Conn.Handshake when the first byte a
	// server connection received starts an HTTP request line instead of a
	// TLS record: the caller answers nginx's "400 The plain HTTP request
	// was sent to HTTPS port" (LooksLikePlainHTTP reports the same).
	ErrPlainHTTP = errors.New("tls: plain HTTP request sent to a TLS port")

	// ErrNotTLS is returned by Conn.Handshake when the first byte a
	// server connection received is neither a TLS handshake record nor
	// the start of an HTTP request: there is nothing to answer.
	ErrNotTLS = errors.New("tls: first record is not a TLS handshake")

	// ErrHandshake wraps every failure of the handshake itself (a
	// malformed or refused ClientHello, no common version or cipher suite,
	// a bad certificate, an alert from the peer). crypto/tls's own error
	// is wrapped too, so errors.As still reaches ctls.AlertError,
	// ctls.RecordHeaderError or *ctls.CertificateVerificationError.
	ErrHandshake = errors.New("tls: handshake failed")

	// ErrHandshakeIncomplete is returned by Read and Write before
	// Handshake has reported done.
	ErrHandshakeIncomplete = errors.New("tls: handshake not complete")

	// ErrClosed is returned by every method after Close.
	ErrClosed = errors.New("tls: use of closed connection")

	// ErrKernelRecords is returned by Read and Write once EnableKTLS has
	// handed the records to the kernel: read and write the socket itself.
	ErrKernelRecords = errors.New("tls: records are handled by the kernel")

	// ErrNoSites is returned by NewContext for an empty list of sites.
	ErrNoSites = errors.New("tls: no sites")

	// ErrNoCertificate is returned by NewContext for a site without a
	// certificate.
	ErrNoCertificate = errors.New("tls: site has no certificate")

	// ErrVersion is returned by NewContext for a site whose versions are
	// not a range within TLS 1.2 and TLS 1.3.
	ErrVersion = errors.New("tls: unsupported protocol versions")

	// ErrServerName is returned by NewContext for a server name that is
	// neither exact nor a leading "*." wildcard.
	ErrServerName = errors.New("tls: bad server name")

	// ErrCurve is returned by ParseCurves for a list with a key exchange
	// group it does not know, an empty name or a name given twice.
	ErrCurve = errors.New("tls: bad key exchange group list")

	// ErrKTLSUnavailable is returned by EnableKTLS when the kernel has no
	// TLS offload, or refused it before anything changed on the socket:
	// the connection goes on with userspace records.
	ErrKTLSUnavailable = errors.New("tls: kernel TLS unavailable")

	// ErrKTLSUnsafe is returned by EnableKTLS when the record state cannot
	// be handed to the kernel exactly (the wrapped text says why): the
	// connection goes on with userspace records, which is always correct.
	ErrKTLSUnsafe = errors.New("tls: kernel TLS refused")

	// ErrKTLSHalf is returned by EnableKTLS when the kernel took the
	// transmit keys but refused the receive keys: the socket now encrypts
	// what is written to it, so the connection can only be closed.
	ErrKTLSHalf = errors.New("tls: kernel TLS half configured")
)
