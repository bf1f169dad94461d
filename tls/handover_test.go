package tls

import (
	"bytes"
	"crypto/cipher"
	ctls "crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/nproxy/nproxy/internal/testcert"
)

// kernelSim does to records what the kernel's TLS offload does with the
// keys EnableKTLS would give it: the stand-in for the tls ULP, which this
// machine's kernel lacks. If the keys, nonces or sequence numbers were
// wrong, crypto/tls on the other side would refuse its records, and its
// records would not open here.
type kernelSim struct {
	tb   testing.TB
	k    kernelKeys
	aead cipher.AEAD
}

func newKernelSim(tb testing.TB, k kernelKeys) *kernelSim {
	tb.Helper()
	aead, err := newGCM(k.key)
	if err != nil {
		tb.Fatal(err)
	}
	return &kernelSim{tb: tb, k: k, aead: aead}
}

func (s *kernelSim) tls13() bool { return s.k.version == ctls.VersionTLS13 }

// ivForOpen is openRecord's iv argument: TLS 1.3's 12-byte IV, TLS 1.2's salt.
func (s *kernelSim) ivForOpen() []byte {
	if s.tls13() {
		return append(s.k.salt[:], s.k.iv[:]...)
	}
	return s.k.salt[:]
}

// seal makes the next record as the kernel sends it.
func (s *kernelSim) seal(typ byte, plain []byte) []byte {
	var nonce [12]byte
	copy(nonce[:4], s.k.salt[:])
	copy(nonce[4:], s.k.iv[:])
	var seq [8]byte
	binary.BigEndian.PutUint64(seq[:], s.k.seq)
	s.k.seq++
	if s.tls13() {
		for i := range seq {
			nonce[4+i] ^= seq[i]
		}
		inner := append(bytes.Clone(plain), typ)
		hdr := []byte{recordTypeApplicationData, 3, 3, 0, 0}
		binary.BigEndian.PutUint16(hdr[3:], uint16(len(inner)+aeadTagLen))
		return s.aead.Seal(hdr, nonce[:], inner, hdr)
	}
	// TLS 1.2: the explicit nonce is iv, which the kernel then increments.
	explicit := s.k.iv
	binary.BigEndian.PutUint64(s.k.iv[:], binary.BigEndian.Uint64(s.k.iv[:])+1)
	ad := append(seq[:], typ, 3, 3, 0, 0)
	binary.BigEndian.PutUint16(ad[11:], uint16(len(plain)))
	rec := []byte{typ, 3, 3, 0, 0}
	binary.BigEndian.PutUint16(rec[3:], uint16(tls12ExplicitNonceLen+len(plain)+aeadTagLen))
	rec = append(rec, explicit[:]...)
	return s.aead.Seal(rec, nonce[:], plain, ad)
}

// open takes the next record as the kernel receives it.
func (s *kernelSim) open(rec []byte) (byte, []byte) {
	s.tb.Helper()
	typ, plain, err := openRecord(s.tls13(), s.aead, s.ivForOpen(), s.k.seq, rec)
	if err != nil {
		s.tb.Fatalf("record %d does not open with the hand-over keys", s.k.seq)
	}
	s.k.seq++
	return typ, plain
}

// nextRawRecord reads the next whole record off the loop's socket,
// bypassing the Conn, as the kernel would see it.
func (l *sockLoop) nextRawRecord(pending *[]byte) []byte {
	l.tb.Helper()
	for {
		if rec, rest, ok := nextRecord(*pending); ok {
			*pending = rest
			return rec
		}
		select {
		case b, ok := <-l.in:
			if !ok {
				l.tb.Fatal("peer closed")
			}
			*pending = append(*pending, b...)
		case <-time.After(testTimeout):
			l.tb.Fatal("no record")
		}
	}
}

// TestHandOverKeys works out the kernel's keys after real handshakes with
// a crypto/tls client, then plays the kernel: the client's request must
// open with the receive keys, and the response sealed with the transmit
// keys must be accepted by the client — so keys, nonces and sequence
// numbers (TLS 1.3 session tickets, TLS 1.2 Finished) are all right.
func TestHandOverKeys(t *testing.T) {
	ca := newTestCA(t)
	cert := ca.leaf(t, testcert.ECDSA, "example.com")
	clientCert := ca.leaf(t, testcert.ECDSA, "client.test")
	tests := []struct {
		name    string
		version uint16
		suite   uint16 // TLS 1.2 only; TLS 1.3's suite is crypto/tls's choice (AES-128-GCM here)
		tickets bool   // the site issues tickets and the client has a cache (asks for them)
		mtls    bool
		resumed bool
		keyLen  int
		tx, rx  uint64
		refused string // why the hand-over must be refused, if it must
	}{
		{name: "TLS1.3", version: ctls.VersionTLS13, tickets: true, keyLen: 16, tx: 1, rx: 0},
		{name: "TLS1.3 no tickets", version: ctls.VersionTLS13, keyLen: 16, tx: 0, rx: 0},
		{name: "TLS1.3 mTLS", version: ctls.VersionTLS13, tickets: true, mtls: true, keyLen: 16, tx: 1, rx: 0},
		{name: "TLS1.3 resumed", version: ctls.VersionTLS13, tickets: true, resumed: true, keyLen: 16, tx: 1, rx: 0},
		{name: "TLS1.2 AES-128", version: ctls.VersionTLS12, suite: ctls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tickets: true, keyLen: 16, tx: 1, rx: 1},
		{name: "TLS1.2 AES-256", version: ctls.VersionTLS12, suite: ctls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, keyLen: 32, tx: 1, rx: 1},
		{name: "TLS1.2 mTLS", version: ctls.VersionTLS12, suite: ctls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, mtls: true, keyLen: 16, tx: 1, rx: 1},
		{name: "TLS1.2 resumed", version: ctls.VersionTLS12, suite: ctls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tickets: true, resumed: true,
			refused: "resumed TLS 1.2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			site := Site{Certs: []ctls.Certificate{cert}, SessionTickets: tt.tickets, MaxVersion: tt.version}
			cfg := &ctls.Config{ServerName: "example.com", RootCAs: ca.pool, MaxVersion: tt.version}
			if tt.suite != 0 {
				cfg.CipherSuites = []uint16{tt.suite}
			}
			if tt.tickets {
				cfg.ClientSessionCache = ctls.NewLRUClientSessionCache(4)
			}
			if tt.mtls {
				site.ClientCAs = ca.pool
				cfg.Certificates = []ctls.Certificate{clientCert}
			}
			ctx, err := NewContext([]Site{site})
			if err != nil {
				t.Fatal(err)
			}
			if tt.resumed {
				if x := exchangeOnce(t, ctx, cfg); x.serverErr != nil || x.clientErr != nil {
					t.Fatalf("first connection: server %v, client %v", x.serverErr, x.clientErr)
				}
			}
			ctx.SetKTLS(true)

			l, clientEnd := newSockLoop(t, ctx)
			proceed := make(chan struct{})
			request := []byte(testRequest)
			response := bytes.Repeat([]byte("response "), 300)
			clientDone := make(chan error, 1)
			var clientState ctls.ConnectionState
			go func() {
				clientEnd.SetDeadline(time.Now().Add(testTimeout))
				c := ctls.Client(clientEnd, cfg)
				err := c.Handshake()
				<-proceed
				if err == nil {
					_, err = c.Write(request)
				}
				if err == nil {
					got := make([]byte, len(response))
					if _, err = io.ReadFull(c, got); err == nil && !bytes.Equal(got, response) {
						err = errors.New("response differs")
					}
				}
				clientState = c.ConnectionState()
				clientDone <- err
			}()
			hsErr := l.handshake()
			var tx, rx kernelKeys
			if hsErr == nil {
				tx, rx, hsErr = l.conn.kernelKeys()
			}
			if tt.refused != "" {
				if !errors.Is(hsErr, ErrKTLSUnsafe) || !strings.Contains(hsErr.Error(), tt.refused) {
					t.Errorf("kernelKeys error %v, want ErrKTLSUnsafe: %s", hsErr, tt.refused)
				}
				// The connection goes on in userspace.
				close(proceed)
				if req, err := l.readUntil([]byte("\r\n\r\n")); err != nil || string(req) != testRequest {
					t.Fatalf("userspace read %q, %v", req, err)
				}
				l.write(response)
				if err := <-clientDone; err != nil {
					t.Fatalf("client: %v", err)
				}
				return
			}
			close(proceed)
			if hsErr != nil {
				t.Fatal(hsErr)
			}
			if st := l.conn.State(); st.DidResume != tt.resumed {
				t.Errorf("DidResume = %v", st.DidResume)
			}
			if tx.seq != tt.tx || rx.seq != tt.rx || len(tx.key) != tt.keyLen || len(rx.key) != tt.keyLen {
				t.Errorf("tx seq %d, rx seq %d, keys %d/%d bytes; want %d, %d, %d", tx.seq, rx.seq, len(tx.key), len(rx.key), tt.tx, tt.rx, tt.keyLen)
			}

			// The kernel's side: the request in, the response out in two
			// records (the second checks the per-record nonce advance).
			var pending []byte
			rxSim, txSim := newKernelSim(t, rx), newKernelSim(t, tx)
			typ, plain := rxSim.open(l.nextRawRecord(&pending))
			if typ != recordTypeApplicationData || !bytes.Equal(plain, request) {
				t.Errorf("request record: type %d, %q", typ, plain)
			}
			half := len(response) / 2
			out := txSim.seal(recordTypeApplicationData, response[:half])
			out = append(out, txSim.seal(recordTypeApplicationData, response[half:])...)
			if _, err := l.sock.Write(out); err != nil {
				t.Fatal(err)
			}
			if err := <-clientDone; err != nil {
				t.Fatalf("client: %v", err)
			}
			if clientState.DidResume != tt.resumed {
				t.Errorf("client DidResume = %v", clientState.DidResume)
			}
		})
	}
}

// TestHandOverRefusals refuses whenever the record state cannot be known
// exactly, and leaves the connection working in userspace.
func TestHandOverRefusals(t *testing.T) {
	_, ca := testContext(t)
	newCtx := func(version uint16, capture bool) *Context {
		ctx, err := NewContext([]Site{{Certs: []ctls.Certificate{sharedLeaf(t)}, MaxVersion: version, SessionTickets: true}})
		if err != nil {
			t.Fatal(err)
		}
		ctx.SetKTLS(capture)
		return ctx
	}
	cc := NewClientConfig("example.com", ca.pool, true)
	refused := func(t *testing.T, c *Conn, why string) {
		t.Helper()
		if _, _, err := c.kernelKeys(); !errors.Is(err, ErrKTLSUnsafe) || !strings.Contains(err.Error(), why) {
			t.Errorf("kernelKeys error %v, want ErrKTLSUnsafe: %s", err, why)
		}
	}

	t.Run("not captured", func(t *testing.T) {
		p := newMemPair(t, newCtx(ctls.VersionTLS13, false), cc)
		p.mustHandshake()
		refused(t, p.server, "not captured")
		p.ping()
	})
	t.Run("client side", func(t *testing.T) {
		p := newMemPair(t, newCtx(ctls.VersionTLS13, true), cc)
		p.mustHandshake()
		refused(t, p.client, "client")
	})
	t.Run("after a read", func(t *testing.T) {
		p := newMemPair(t, newCtx(ctls.VersionTLS13, true), cc)
		p.mustHandshake()
		p.ping()
		refused(t, p.server, "after the handshake")
		p.ping()
	})
	t.Run("before the handshake", func(t *testing.T) {
		c := newCtx(ctls.VersionTLS13, true).Server(func() {})
		defer c.Close()
		if _, _, err := c.kernelKeys(); !errors.Is(err, ErrHandshakeIncomplete) {
			t.Errorf("kernelKeys error %v", err)
		}
	})
	t.Run("output not sent", func(t *testing.T) {
		// TLS 1.2: the server's Finished is its last flight, pending when
		// the handshake completes.
		// Full handshake: ClientHello, then the client's key exchange and
		// Finished; after that second flight the server's output stays.
		p := newMemPair(t, newCtx(ctls.VersionTLS12, true), NewClientConfig("example.com", ca.pool, true))
		deadline := time.After(testTimeout)
		clientFlights := 0
		for {
			if p.buf = p.client.Output(p.buf[:0]); len(p.buf) > 0 {
				p.server.Feed(p.buf)
				clientFlights++
			}
			if done, err := p.server.Handshake(); err != nil {
				t.Fatal(err)
			} else if done {
				break
			}
			if clientFlights < 2 {
				if p.buf = p.server.Output(p.buf[:0]); len(p.buf) > 0 {
					p.client.Feed(p.buf)
				}
			}
			p.client.Handshake()
			select {
			case <-p.sw:
			case <-p.cw:
			case <-deadline:
				t.Fatal("stalled")
			}
		}
		if p.server.Pending() == 0 {
			t.Fatal("no pending Finished")
		}
		refused(t, p.server, "not yet sent")
		p.mustHandshake()
		if _, _, err := p.server.kernelKeys(); err != nil {
			t.Errorf("once sent: %v", err)
		}
	})
	t.Run("request with the Finished", func(t *testing.T) {
		// TLS 1.3: the client's request rides in the same read as its
		// Finished; those bytes are off the socket, out of the kernel's reach.
		p := newMemPair(t, newCtx(ctls.VersionTLS13, true), cc)
		deadline := time.After(testTimeout)
		for {
			if p.buf = p.server.Output(p.buf[:0]); len(p.buf) > 0 {
				p.client.Feed(p.buf)
			}
			if done, err := p.client.Handshake(); err != nil {
				t.Fatal(err)
			} else if done {
				break
			}
			if p.buf = p.client.Output(p.buf[:0]); len(p.buf) > 0 {
				p.server.Feed(p.buf)
			}
			p.server.Handshake()
			select {
			case <-p.sw:
			case <-p.cw:
			case <-deadline:
				t.Fatal("stalled")
			}
		}
		p.client.Write([]byte(testRequest)) // after the Finished, before it is sent
		p.mustHandshake()
		refused(t, p.server, "already received")
		buf := make([]byte, 256)
		p.readFull(p.server, buf, len(testRequest)) // and userspace still serves it
	})
	t.Run("ChaCha20", func(t *testing.T) {
		ctx := newCtx(ctls.VersionTLS12, true)
		l, clientEnd := newSockLoop(t, ctx)
		go func() {
			clientEnd.SetDeadline(time.Now().Add(testTimeout))
			c := ctls.Client(clientEnd, &ctls.Config{ServerName: "example.com", RootCAs: ca.pool,
				CipherSuites: []uint16{ctls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256}})
			c.Handshake()
		}()
		if err := l.handshake(); err != nil {
			t.Fatal(err)
		}
		refused(t, l.conn, "not offloaded")
	})
}

// TestCloseWhileCapturing closes connections whose handshake goroutine is
// choosing the site and cloning the config for the key log at that very
// moment; the race detector watches the capture's handoff.
func TestCloseWhileCapturing(t *testing.T) {
	base := settledGoroutines(t)
	ctx, _ := testContext(t)
	ctx.lim = newHandshakeLimiter(64)
	ctx.SetKTLS(true)
	hello := clientHello(t, "example.com")
	for range 50 {
		c := ctx.Server(func() {})
		c.Feed(hello)
		c.Handshake()
		c.Close()
	}
	waitSlotsFree(t, ctx.lim)
	waitGoroutines(t, base)
}
