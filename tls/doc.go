// Package tls is nproxy's TLS engine: the record layer between a
// connection's socket and its HTTP state machine, driven from the worker's
// loop thread, built on Go's crypto/tls (imported as ctls; no fork, no
// cgo).
//
// # Shape
//
// A Context is the configuration of one listening address: several Sites
// (one per [server] block), chosen by the client's SNI with the same rule
// server_name applies to Host — exact name, then the longest
// "*.example.com" wildcard, then the first site. A ClientContext is the
// configuration for one upstream, with a session cache shared by its
// pooled connections. Both make Conns.
//
// A Conn never touches a socket. The loop feeds it what the socket
// received (Feed), asks it to advance (Handshake, then Read and Write),
// and sends what it produced (Output, Pending). Every method runs on the
// loop thread; the only call from elsewhere is the wake function the
// loop gives it, which must just post the connection back to its loop.
//
// # The handshake runs in a goroutine, bounded
//
// crypto/tls's handshake cannot stop at a would-block and resume later:
// it is written as straight-line code over a blocking net.Conn. So each
// handshake runs in a goroutine over a pipe, an in-memory net.Conn whose
// Read waits on a condition variable until Feed delivers bytes, and whose
// Write appends to the output and calls wake. When the goroutine
// finishes it calls wake once more, and the next Handshake call on the
// loop thread sees the result. The handoff is ordered by the pipe's
// mutex: the goroutine records its result under it, the loop reads the
// result under it, and from then on only the loop thread touches the
// crypto/tls connection.
//
// The goroutines are bounded per process by MaxConcurrentHandshakes (see
// its comment for the figure). A connection over the bound is queued
// without a goroutine; Handshake keeps returning done=false, and wake is
// called when a slot is handed to it. A server connection takes a slot
// only once its first byte has arrived, so an idle or port-scanning
// client costs none; a first byte that is not a TLS handshake record
// (plain HTTP, noise) is refused on the loop thread with ErrPlainHTTP or
// ErrNotTLS without ever starting one. Close unblocks a handshake
// goroutine (its Read returns net.ErrClosed) and it exits on its own;
// after Close returns, wake is never called again.
//
// # After the handshake, records on the loop thread
//
// Once the handshake is done the pipe switches to non-blocking mode and
// Read and Write go through the same crypto/tls connection synchronously:
// when no whole record is buffered, the pipe's Read returns an error that
// is a net.Error with Temporary() true, which crypto/tls passes up
// without poisoning the connection (the comment on errWouldBlock cites
// where), and Conn.Read reports ErrWouldBlock. No goroutine exists for an
// established connection.
//
// # Sending
//
// A Sender sends one Conn's output over its socket (Socket, which the
// reactor's connection satisfies), for the server's client connections
// and the proxy's upstream connections alike: the engine's own flights
// and alerts, and the caller's bytes or file region, encrypted three
// records at a time into a buffer of the loop's pool (Buffers). One batch
// is in flight at a time, so a slow peer holds one buffer of ciphertext,
// not the whole body; a half-close goes out behind the caller's last
// batch and a close_notify.
//
// # Memory of an idle connection
//
// The pipe's input and output buffers come from a pool and go back to it
// as soon as they are drained, so an idle connection holds neither; what
// remains is crypto/tls's own connection state (its two AEAD states, its
// record input and handshake message buffers, which it never shrinks)
// and this package's Conn. BenchmarkIdleConnMemory measures it.
//
// # Allocations
//
// A warm connection allocates once per record received, inside
// crypto/tls (see recordAllocs in the tests); a Read with no whole record
// buffered returns ErrWouldBlock without calling crypto/tls at all, which
// the pipe makes possible by handing crypto/tls only whole records once
// the handshake is over.
//
// # Protocol choices
//
// TLS 1.2 and 1.3; ECDHE on X25519 or P-256; TLS 1.2 suites with AES-GCM
// or ChaCha20-Poly1305 only; ALPN "http/1.1" unless a Site lists other
// protocols (h2 later); full 16 KiB records (no dynamic record sizing),
// as nginx's default ssl_buffer_size. A site with ClientCAs requires and
// verifies a client certificate. Session tickets are encrypted with keys
// the master distributes (Context.SetTicketKeys), each site deriving its
// own from them so that no session resumes on another site.
//
// # Kernel TLS
//
// EnableKTLS (Linux) hands an established server connection's records to
// the kernel's TLS offload, after which sendfile and splice work on the
// socket. crypto/tls exposes the negotiated secrets only through its key
// log, so a Context with SetKTLS(true) gives each connection a key log of
// its own and keeps the handshake's ciphertext. From these the key
// schedule (RFC 8446 §7.1 and §7.3 for TLS 1.3, the RFC 5246 PRF key
// block for TLS 1.2) derives the keys, and the sequence numbers are
// counted, not assumed: the records already protected under each
// application key (TLS 1.3 session tickets, TLS 1.2 Finished messages)
// are found by opening them with the derived keys, which proves the keys
// at the same time. During the handshake the pipe hands crypto/tls at
// most one record at a time, so no application data is ever buffered
// inside crypto/tls where neither the kernel nor this package could reach
// it. Whenever the state cannot be known exactly EnableKTLS refuses and
// the connection stays in userspace: client connections, ChaCha20-
// Poly1305, resumed TLS 1.2 sessions (crypto/tls logs no master secret
// for them), and a client whose first request arrived in the same read
// as its Finished. KTLSAvailable says whether the kernel has the offload
// at all.
package tls
