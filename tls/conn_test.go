package tls

import (
	"bytes"
	ctls "crypto/tls"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nproxy/nproxy/internal/testcert"
)

var versions = []struct {
	name    string
	version uint16
}{
	{"TLS1.2", ctls.VersionTLS12},
	{"TLS1.3", ctls.VersionTLS13},
}

// TestHandshakeRequest serves one request to a crypto/tls client through
// a socket pair, for each version and key type.
func TestHandshakeRequest(t *testing.T) {
	ca := newTestCA(t)
	certs := map[string]ctls.Certificate{
		"ECDSA": ca.leaf(t, testcert.ECDSA, "example.com"),
		"RSA":   ca.leaf(t, testcert.RSA, "example.com"),
	}
	for _, v := range versions {
		for _, kt := range []string{"ECDSA", "RSA"} {
			t.Run(v.name+"/"+kt, func(t *testing.T) {
				ctx, err := NewContext([]Site{{Names: []string{"example.com"}, Certs: []ctls.Certificate{certs[kt]}}})
				if err != nil {
					t.Fatal(err)
				}
				x := exchangeOnce(t, ctx, &ctls.Config{
					ServerName: "example.com", RootCAs: ca.pool, NextProtos: []string{"http/1.1"},
					MinVersion: v.version, MaxVersion: v.version,
				})
				if x.serverErr != nil || x.clientErr != nil {
					t.Fatalf("server %v, client %v", x.serverErr, x.clientErr)
				}
				if string(x.response) != testResponse {
					t.Errorf("client read %q", x.response)
				}
				if x.server.Version != v.version || x.client.Version != v.version {
					t.Errorf("versions: server %#x, client %#x, want %#x", x.server.Version, x.client.Version, v.version)
				}
				if x.server.NegotiatedProtocol != "http/1.1" || x.server.ServerName != "example.com" {
					t.Errorf("ALPN %q, SNI %q", x.server.NegotiatedProtocol, x.server.ServerName)
				}
				if !x.server.HandshakeComplete {
					t.Error("State: handshake not complete")
				}
			})
		}
	}
}

// TestBothCertificateTypes serves ECDSA to a client that takes it and
// RSA to one that only verifies RSA signatures, from one site.
func TestBothCertificateTypes(t *testing.T) {
	ca := newTestCA(t)
	rsaCert := ca.leaf(t, testcert.RSA, "example.com")
	ecCert := ca.leaf(t, testcert.ECDSA, "example.com")
	ctx, err := NewContext([]Site{{Names: []string{"example.com"}, Certs: []ctls.Certificate{rsaCert, ecCert}}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		suite uint16
		want  string
	}{
		{"ECDSA-first", ctls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, "ECDSA"},
		{"RSA-only", ctls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, "RSA"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := exchangeOnce(t, ctx, &ctls.Config{
				ServerName: "unknown.test", InsecureSkipVerify: true, // unknown SNI: the default site, no name match
				MaxVersion: ctls.VersionTLS12, CipherSuites: []uint16{tt.suite},
			})
			if x.serverErr != nil || x.clientErr != nil {
				t.Fatalf("server %v, client %v", x.serverErr, x.clientErr)
			}
			if got := x.client.PeerCertificates[0].PublicKeyAlgorithm.String(); got != tt.want {
				t.Errorf("served a %s certificate, want %s", got, tt.want)
			}
		})
	}
}

// TestALPN checks the protocol chosen, and the refusal of a client whose
// protocols the site does not speak.
func TestALPN(t *testing.T) {
	ca := newTestCA(t)
	cert := []ctls.Certificate{ca.leaf(t, testcert.ECDSA, "example.com")}
	tests := []struct {
		name        string
		siteProtos  []string
		clientProto []string
		want        string
		wantRefused bool
	}{
		{"no ALPN", nil, nil, "", false},
		{"http/1.1 among others", nil, []string{"h2", "http/1.1"}, "http/1.1", false},
		{"site adds h2", []string{"h2", "http/1.1"}, []string{"h2", "http/1.1"}, "h2", false},
		{"h2 only, refused", nil, []string{"h2"}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, err := NewContext([]Site{{Certs: cert, NextProtos: tt.siteProtos}})
			if err != nil {
				t.Fatal(err)
			}
			x := exchangeOnce(t, ctx, &ctls.Config{ServerName: "example.com", RootCAs: ca.pool, NextProtos: tt.clientProto})
			if tt.wantRefused {
				var alert ctls.AlertError
				if !errors.Is(x.serverErr, ErrHandshake) || x.clientErr == nil {
					t.Fatalf("server %v, client %v: want both refused", x.serverErr, x.clientErr)
				}
				if !errors.As(x.clientErr, &alert) && !strings.Contains(x.clientErr.Error(), "no application protocol") {
					t.Errorf("client error %v, want no_application_protocol", x.clientErr)
				}
				return
			}
			if x.serverErr != nil || x.clientErr != nil {
				t.Fatalf("server %v, client %v", x.serverErr, x.clientErr)
			}
			if x.server.NegotiatedProtocol != tt.want || x.client.NegotiatedProtocol != tt.want {
				t.Errorf("negotiated %q/%q, want %q", x.server.NegotiatedProtocol, x.client.NegotiatedProtocol, tt.want)
			}
		})
	}
}

// TestClientCertificates accepts a client certificate from the site's CA
// and refuses a missing or foreign one.
func TestClientCertificates(t *testing.T) {
	ca := newTestCA(t)
	other := newTestCA(t)
	ctx, err := NewContext([]Site{{
		Certs:     []ctls.Certificate{ca.leaf(t, testcert.ECDSA, "example.com")},
		ClientCAs: ca.pool,
	}})
	if err != nil {
		t.Fatal(err)
	}
	good := ca.leaf(t, testcert.ECDSA, "client.test")
	foreign := other.leaf(t, testcert.ECDSA, "client.test")
	tests := []struct {
		name   string
		certs  []ctls.Certificate
		accept bool
	}{
		{"valid", []ctls.Certificate{good}, true},
		{"none", nil, false},
		{"foreign CA", []ctls.Certificate{foreign}, false},
	}
	for _, v := range versions {
		for _, tt := range tests {
			t.Run(v.name+"/"+tt.name, func(t *testing.T) {
				x := exchangeOnce(t, ctx, &ctls.Config{
					ServerName: "example.com", RootCAs: ca.pool, Certificates: tt.certs,
					MinVersion: v.version, MaxVersion: v.version,
				})
				if tt.accept {
					if x.serverErr != nil || x.clientErr != nil {
						t.Fatalf("server %v, client %v", x.serverErr, x.clientErr)
					}
					if len(x.server.PeerCertificates) != 1 || x.server.PeerCertificates[0].DNSNames[0] != "client.test" {
						t.Errorf("server saw peer certificates %v", x.server.PeerCertificates)
					}
					return
				}
				if !errors.Is(x.serverErr, ErrHandshake) {
					t.Errorf("server error %v, want ErrHandshake", x.serverErr)
				}
				if x.clientErr == nil {
					t.Error("client was not refused")
				}
			})
		}
	}
}

// TestResumptionAcrossContexts resumes on a second Context (a second
// worker) a session made on the first, when both have the same ticket
// keys, also after a rotation; a Context with other keys does not.
func TestResumptionAcrossContexts(t *testing.T) {
	ca := newTestCA(t)
	sites := []Site{{Names: []string{"example.com"}, Certs: []ctls.Certificate{ca.leaf(t, testcert.ECDSA, "example.com")}, SessionTickets: true}}
	newCtx := func(keys ...[32]byte) *Context {
		ctx, err := NewContext(sites)
		if err != nil {
			t.Fatal(err)
		}
		ctx.SetTicketKeys(keys)
		return ctx
	}
	k1, k2, k3 := [32]byte{1}, [32]byte{2}, [32]byte{3}
	for _, v := range versions {
		t.Run(v.name, func(t *testing.T) {
			worker1 := newCtx(k1)
			worker2 := newCtx(k2, k1) // rotated: k2 encrypts, k1 still decrypts
			stranger := newCtx(k3)
			cfg := &ctls.Config{
				ServerName: "example.com", RootCAs: ca.pool,
				MinVersion: v.version, MaxVersion: v.version,
				ClientSessionCache: ctls.NewLRUClientSessionCache(8),
			}
			steps := []struct {
				name   string
				ctx    *Context
				resume bool
			}{
				{"first worker", worker1, false},
				{"second worker", worker2, true},
				{"other keys", stranger, false},
			}
			for _, s := range steps {
				x := exchangeOnce(t, s.ctx, cfg)
				if x.serverErr != nil || x.clientErr != nil {
					t.Fatalf("%s: server %v, client %v", s.name, x.serverErr, x.clientErr)
				}
				if x.server.DidResume != s.resume || x.client.DidResume != s.resume {
					t.Errorf("%s: DidResume server %v client %v, want %v", s.name, x.server.DidResume, x.client.DidResume, s.resume)
				}
			}
		})
	}
}

// TestNotTLS refuses a first byte that is not a handshake record on the
// loop thread, without a goroutine or a slot.
func TestNotTLS(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  error
		plain bool
	}{
		{"GET", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", ErrPlainHTTP, true},
		{"POST, one byte", "P", ErrPlainHTTP, true},
		{"binary", "\x00\x01\x02\x03\x04\x05", ErrNotTLS, false},
		{"SSLv2 hello", "\x80\x2e\x01\x03\x01", ErrNotTLS, false},
		{"lower-case", "get / HTTP/1.1\r\n", ErrNotTLS, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, _ := testContext(t)
			ctx.lim = newHandshakeLimiter(4)
			c := ctx.Server(func() { t.Error("wake called") })
			defer c.Close()
			c.Feed([]byte(tt.input))
			if done, err := c.Handshake(); done || !errors.Is(err, tt.want) {
				t.Fatalf("Handshake = %v, %v; want %v", done, err, tt.want)
			}
			if c.LooksLikePlainHTTP() != tt.plain {
				t.Errorf("LooksLikePlainHTTP = %v", !tt.plain)
			}
			if ctx.lim.inUse() != 0 || c.tc != nil {
				t.Error("a handshake was started")
			}
			if _, err := c.Handshake(); !errors.Is(err, tt.want) {
				t.Errorf("second Handshake error %v", err)
			}
		})
	}
}

// TestLooksLikePlainHTTPOnTLS reports false for a TLS client.
func TestLooksLikePlainHTTPOnTLS(t *testing.T) {
	ctx, _ := testContext(t)
	c := ctx.Server(func() {})
	defer c.Close()
	if c.LooksLikePlainHTTP() {
		t.Error("true before any byte")
	}
	c.Feed(clientHello(t, "example.com"))
	if c.LooksLikePlainHTTP() {
		t.Error("true for a ClientHello")
	}
}

// TestMalformedClientHello fails the handshake cleanly with an alert, and
// the goroutine and its slot are gone afterwards.
func TestMalformedClientHello(t *testing.T) {
	tests := []struct {
		name      string
		input     []byte
		wantAlert byte
	}{
		{"truncated ClientHello", []byte{0x16, 0x03, 0x01, 0x00, 0x06, 0x01, 0x00, 0x00, 0x02, 0x03, 0x03}, 50},                                // decode_error
		{"ServerHello instead", []byte{0x16, 0x03, 0x01, 0x00, 0x06, 0x02, 0x00, 0x00, 0x02, 0x03, 0x03}, 50},                                  // decode_error: parsed as a ServerHello, which it is not either
		{"oversized record", []byte{0x16, 0x03, 0x01, 0xff, 0xff}, 22},                                                                         // record_overflow
		{"garbage ClientHello", append([]byte{0x16, 0x03, 0x01, 0x00, 0x40, 0x01, 0x00, 0x00, 0x3c}, bytes.Repeat([]byte{0xfe}, 0x3c)...), 50}, // decode_error
		{"oversized message", append([]byte{0x16, 0x03, 0x01, 0x00, 0x40}, bytes.Repeat([]byte{0xfe}, 0x40)...), 80},                           // internal_error
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := settledGoroutines(t)
			ctx, _ := testContext(t)
			ctx.lim = newHandshakeLimiter(4)
			w := newWaker()
			c := ctx.Server(w.fn())
			defer c.Close()
			c.Feed(tt.input)
			var err error
			deadline := time.After(testTimeout)
			for err == nil {
				var done bool
				if done, err = c.Handshake(); done {
					t.Fatal("handshake succeeded")
				}
				if err == nil {
					select {
					case <-w:
					case <-deadline:
						t.Fatal("no result")
					}
				}
			}
			if !errors.Is(err, ErrHandshake) {
				t.Errorf("error %v, want ErrHandshake", err)
			}
			out := c.Output(nil)
			if len(out) != 7 || out[0] != recordTypeAlert || out[5] != 2 || out[6] != tt.wantAlert {
				t.Errorf("output % x, want a fatal alert %d", out, tt.wantAlert)
			}
			if ctx.lim.inUse() != 0 {
				t.Error("slot not released")
			}
			c.Close()
			waitGoroutines(t, base)
		})
	}
}

// TestCloseDuringHandshake leaves no goroutine, whether the handshake
// goroutine waits for the rest of the ClientHello or for the client's
// Finished, and no wake follows Close.
func TestCloseDuringHandshake(t *testing.T) {
	hello := clientHello(t, "example.com")
	t.Run("partial ClientHello", func(t *testing.T) {
		base := settledGoroutines(t)
		ctx, _ := testContext(t)
		ctx.lim = newHandshakeLimiter(4)
		var wakes atomic.Int32
		c := ctx.Server(func() { wakes.Add(1) })
		c.Feed(hello[:len(hello)/2])
		if done, err := c.Handshake(); done || err != nil {
			t.Fatalf("Handshake = %v, %v", done, err)
		}
		if ctx.lim.inUse() != 1 {
			t.Fatal("no handshake goroutine started")
		}
		c.Close()
		waitSlotsFree(t, ctx.lim)
		waitGoroutines(t, base)
		if n := wakes.Load(); n != 0 {
			t.Errorf("%d wakes", n)
		}
		if _, err := c.Handshake(); !errors.Is(err, ErrClosed) {
			t.Errorf("Handshake after Close: %v", err)
		}
	})
	t.Run("awaiting Finished", func(t *testing.T) {
		base := settledGoroutines(t)
		ctx, _ := testContext(t)
		ctx.lim = newHandshakeLimiter(4)
		w := newWaker()
		c := ctx.Server(w.fn())
		c.Feed(hello)
		c.Handshake()
		select {
		case <-w: // the server's flight is out; the goroutine now reads
		case <-time.After(testTimeout):
			t.Fatal("no server flight")
		}
		if c.Pending() == 0 {
			t.Fatal("no server flight")
		}
		for len(w) > 0 {
			<-w
		}
		c.Close()
		waitSlotsFree(t, ctx.lim)
		waitGoroutines(t, base)
		if len(w) != 0 {
			t.Error("wake after Close")
		}
	})
}

// TestHandshakeLimit queues connections beyond the bound without a
// goroutine, wakes them as slots free, and passes on the slot of one
// closed while queued or granted.
func TestHandshakeLimit(t *testing.T) {
	ctx, ca := testContext(t)
	ctx.lim = newHandshakeLimiter(1)
	cc := NewClientConfig("example.com", ca.pool, true)
	a, b := newMemPair(t, ctx, cc), newMemPair(t, ctx, cc)
	queuedThenClosed := ctx.Server(func() {})
	grantedThenClosed := ctx.Server(func() {})
	defer queuedThenClosed.Close()
	defer grantedThenClosed.Close()
	hello := clientHello(t, "example.com")

	// a takes the only slot.
	a.client.Handshake()
	<-a.cw
	a.shuttle()
	a.server.Handshake()
	if ctx.lim.inUse() != 1 || a.server.state != stateHandshaking {
		t.Fatalf("a: state %d, %d slots in use", a.server.state, ctx.lim.inUse())
	}
	// b, then two more, queue behind it.
	b.client.Handshake()
	<-b.cw
	b.shuttle()
	for _, c := range []*Conn{b.server, grantedThenClosed, queuedThenClosed} {
		if c != b.server {
			c.Feed(hello)
		}
		if done, err := c.Handshake(); done || err != nil || c.state != stateQueued {
			t.Fatalf("over the bound: Handshake = %v, %v, state %d", done, err, c.state)
		}
	}
	queuedThenClosed.Close()

	// a finishes: b is granted its slot and woken.
	a.mustHandshake()
	select {
	case <-b.sw:
	case <-time.After(testTimeout):
		t.Fatal("queued connection not woken")
	}
	b.mustHandshake()
	a.ping()
	b.ping()

	// b's slot went to grantedThenClosed, which closes before starting:
	// the slot must come back.
	if grantedThenClosed.wait != granted {
		t.Fatalf("third connection not granted (wait state %d)", grantedThenClosed.wait)
	}
	grantedThenClosed.Close()
	if n := ctx.lim.inUse(); n != 0 {
		t.Errorf("%d slots still in use", n)
	}
}

// TestLargeWrite splits a large write into records of at most 16 KiB of
// plaintext, which the client reads back whole.
func TestLargeWrite(t *testing.T) {
	for _, v := range versions {
		t.Run(v.name, func(t *testing.T) {
			ctx, err := NewContext([]Site{{Certs: []ctls.Certificate{sharedLeaf(t)}, MaxVersion: v.version}})
			if err != nil {
				t.Fatal(err)
			}
			p := newMemPair(t, ctx, NewClientConfig("example.com", nil, false))
			p.mustHandshake()
			msg := make([]byte, 100<<10+123)
			for i := range msg {
				msg[i] = byte(i * 7)
			}
			if n, err := p.server.Write(msg); n != len(msg) || err != nil {
				t.Fatalf("Write = %d, %v", n, err)
			}
			out := p.server.Output(nil)
			recs := records(t, out)
			if want := (len(msg) + 16<<10 - 1) / (16 << 10); len(recs) != want {
				t.Errorf("%d records, want %d", len(recs), want)
			}
			for i, r := range recs {
				if r[0] != recordTypeApplicationData || len(r)-recordHeaderLen > 16<<10+256 {
					t.Errorf("record %d: type %d, %d bytes", i, r[0], len(r))
				}
			}
			p.client.Feed(out)
			got := make([]byte, len(msg))
			p.readFull(p.client, got, len(got))
			if !bytes.Equal(got, msg) {
				t.Error("client read different bytes")
			}
		})
	}
}

// TestPartialRecords reads a record fed a few bytes at a time: would-block
// until it is whole, then its data — crypto/tls is not poisoned by the
// pipe's temporary errors.
func TestPartialRecords(t *testing.T) {
	for _, v := range versions {
		t.Run(v.name, func(t *testing.T) {
			ctx, err := NewContext([]Site{{Certs: []ctls.Certificate{sharedLeaf(t)}, MaxVersion: v.version}})
			if err != nil {
				t.Fatal(err)
			}
			p := newMemPair(t, ctx, NewClientConfig("example.com", nil, false))
			p.mustHandshake()
			msg := bytes.Repeat([]byte("0123456789abcdef"), 64)
			buf := make([]byte, 2*len(msg))
			for round := range 3 {
				p.server.Write(msg)
				p.server.Write(msg[:100])
				out := p.server.Output(nil)
				first := len(records(t, out)[0])
				fed := 0
				for _, cut := range []int{3, 5, 6, 100, first - 1} { // inside the header, at its end, in the body
					p.client.Feed(out[fed:cut])
					fed = cut
					if n, err := p.client.Read(buf); n != 0 || !errors.Is(err, ErrWouldBlock) {
						t.Fatalf("round %d: Read with %d of %d bytes = %d, %v", round, fed, first, n, err)
					}
				}
				out = out[fed:]
				first -= fed
				p.client.Feed(out[:first+4]) // the rest of record 1, 4 bytes of record 2
				if n, err := p.client.Read(buf); n != len(msg) || err != nil || !bytes.Equal(buf[:n], msg) {
					t.Fatalf("round %d: Read = %d, %v", round, n, err)
				}
				if n, err := p.client.Read(buf); n != 0 || !errors.Is(err, ErrWouldBlock) {
					t.Fatalf("round %d: Read = %d, %v, want ErrWouldBlock", round, n, err)
				}
				p.client.Feed(out[first+4:])
				if n, err := p.client.Read(buf); n != 100 || err != nil {
					t.Fatalf("round %d: Read = %d, %v", round, n, err)
				}
			}
		})
	}
}

// TestCloseNotify reads io.EOF after the peer's close_notify.
func TestCloseNotify(t *testing.T) {
	ctx, ca := testContext(t)
	p := newMemPair(t, ctx, NewClientConfig("example.com", ca.pool, true))
	p.mustHandshake()
	p.server.Write([]byte("bye"))
	p.server.CloseNotify()
	p.shuttle()
	buf := make([]byte, 16)
	if n, err := p.client.Read(buf); n != 3 || err != nil {
		t.Fatalf("Read = %d, %v", n, err)
	}
	if _, err := p.client.Read(buf); err != io.EOF {
		t.Fatalf("Read error %v, want io.EOF", err)
	}
}

// TestUpstreamResumption resumes a pooled upstream connection's session
// on the next connection of the same ClientContext.
func TestUpstreamResumption(t *testing.T) {
	ctx, ca := testContext(t)
	cc := NewClientConfig("example.com", ca.pool, true)
	for i, want := range []bool{false, true, true} {
		p := newMemPair(t, ctx, cc)
		p.mustHandshake()
		p.ping() // reads the TLS 1.3 ticket
		if got := p.client.State().DidResume; got != want {
			t.Errorf("connection %d: DidResume = %v, want %v", i, got, want)
		}
		if p.client.State().NegotiatedProtocol != "http/1.1" {
			t.Errorf("connection %d: ALPN %q", i, p.client.State().NegotiatedProtocol)
		}
		p.close()
	}
}

// TestClientVerify verifies the upstream's certificate unless told not to.
func TestClientVerify(t *testing.T) {
	ctx, ca := testContext(t)
	other := newTestCA(t)
	tests := []struct {
		name   string
		cc     *ClientContext
		accept bool
	}{
		{"right name and CA", NewClientConfig("example.com", ca.pool, true), true},
		{"wrong name", NewClientConfig("other.test", ca.pool, true), false},
		{"unknown CA", NewClientConfig("example.com", other.pool, true), false},
		{"verify off", NewClientConfig("other.test", other.pool, false), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newMemPair(t, ctx, tt.cc)
			_, cerr := p.handshake()
			if tt.accept != (cerr == nil) {
				t.Fatalf("client error %v", cerr)
			}
			var verr *ctls.CertificateVerificationError
			if !tt.accept && (!errors.Is(cerr, ErrHandshake) || !errors.As(cerr, &verr)) {
				t.Errorf("client error %v, want ErrHandshake wrapping a verification error", cerr)
			}
		})
	}
}

// TestRecordsBeforeHandshake refuses Read and Write before the handshake
// and after Close.
func TestRecordsBeforeHandshake(t *testing.T) {
	ctx, _ := testContext(t)
	c := ctx.Server(func() {})
	buf := make([]byte, 8)
	if _, err := c.Read(buf); !errors.Is(err, ErrHandshakeIncomplete) {
		t.Errorf("Read: %v", err)
	}
	if _, err := c.Write(buf); !errors.Is(err, ErrHandshakeIncomplete) {
		t.Errorf("Write: %v", err)
	}
	if s := c.State(); s.HandshakeComplete {
		t.Error("State before the handshake")
	}
	c.CloseNotify() // nothing to do, must not panic
	c.Close()
	c.Close()
	if _, err := c.Read(buf); !errors.Is(err, ErrClosed) {
		t.Errorf("Read after Close: %v", err)
	}
	c.Feed([]byte("x"))
	if c.Pending() != 0 || len(c.Output(nil)) != 0 {
		t.Error("output after Close")
	}
}

// sharedLeaf is the test binary's ECDSA certificate for example.com.
func sharedLeaf(tb testing.TB) ctls.Certificate {
	testContext(tb)
	return sharedCA.ec
}
