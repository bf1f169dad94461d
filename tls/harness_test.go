package tls

import (
	"bytes"
	"crypto"
	ctls "crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nproxy/nproxy/internal/testcert"
)

// testTimeout bounds every wait in these tests.
const testTimeout = 20 * time.Second

// testCA signs the sites' and clients' certificates.
type testCA struct {
	cert *x509.Certificate
	key  crypto.Signer
	pool *x509.CertPool
}

func newTestCA(tb testing.TB) *testCA {
	tb.Helper()
	_, _, cert, key := testcert.New(tb, testcert.Options{IsCA: true})
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

// leaf makes a certificate for names signed by the CA.
func (ca *testCA) leaf(tb testing.TB, kt testcert.KeyType, names ...string) ctls.Certificate {
	tb.Helper()
	certPEM, keyPEM, _, _ := testcert.New(tb, testcert.Options{
		DNSNames: names, KeyType: kt, Issuer: ca.cert, IssuerKey: ca.key,
	})
	c, err := ctls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// waker is a wake function's target: a token channel of capacity one.
type waker chan struct{}

func newWaker() waker { return make(waker, 1) }
func (w waker) wake() {
	select {
	case w <- struct{}{}:
	default:
	}
}
func (w waker) fn() func() { return w.wake }

// memPair is a server Conn and a client Conn joined in memory: the test
// goroutine is both loops, moving each side's Output into the other's
// Feed.
type memPair struct {
	tb             testing.TB
	server, client *Conn
	sw, cw         waker
	buf            []byte // shuttle's scratch, so that moving bytes allocates nothing
}

func newMemPair(tb testing.TB, ctx *Context, cc *ClientContext) *memPair {
	p := newMemPairNoCleanup(tb, ctx, cc)
	tb.Cleanup(p.close)
	return p
}

// newMemPairNoCleanup is newMemPair for callers that close the pair
// themselves and must not have it kept reachable until the test ends.
func newMemPairNoCleanup(tb testing.TB, ctx *Context, cc *ClientContext) *memPair {
	p := &memPair{tb: tb, sw: newWaker(), cw: newWaker()}
	p.server = ctx.Server(p.sw.fn())
	p.client = cc.Client(p.cw.fn())
	return p
}

func (p *memPair) close() {
	p.server.Close()
	p.client.Close()
}

// shuttle moves pending output both ways and reports whether any moved.
func (p *memPair) shuttle() bool {
	moved := false
	if p.buf = p.client.Output(p.buf[:0]); len(p.buf) > 0 {
		p.server.Feed(p.buf)
		moved = true
	}
	if p.buf = p.server.Output(p.buf[:0]); len(p.buf) > 0 {
		p.client.Feed(p.buf)
		moved = true
	}
	return moved
}

// handshake drives both handshakes to the end. When one side fails, the
// other is given its alert and a moment to fail too (a side whose peer
// failed silently would wait for ever, as it would on a socket until the
// peer's close).
func (p *memPair) handshake() (serverErr, clientErr error) {
	p.tb.Helper()
	deadline := time.After(testTimeout)
	var grace <-chan time.Time
	for {
		moved := p.shuttle()
		sd, serr := p.server.Handshake()
		cd, cerr := p.client.Handshake()
		if (serr != nil || sd) && (cerr != nil || cd) && p.server.Pending() == 0 && p.client.Pending() == 0 {
			return serr, cerr
		}
		if (serr != nil || cerr != nil) && grace == nil {
			grace = time.After(time.Second)
		}
		if moved {
			continue
		}
		select {
		case <-p.sw:
		case <-p.cw:
		case <-grace:
			return serr, cerr
		case <-deadline:
			p.tb.Fatal("handshake stalled")
		}
	}
}

// mustHandshake fails the test unless both handshakes succeed.
func (p *memPair) mustHandshake() {
	p.tb.Helper()
	if serr, cerr := p.handshake(); serr != nil || cerr != nil {
		p.tb.Fatalf("handshake: server %v, client %v", serr, cerr)
	}
}

// ping makes one small exchange.
func (p *memPair) ping() {
	p.tb.Helper()
	p.roundTrip([]byte("ping"), []byte("pong"), make([]byte, 64), make([]byte, 64))
}

// readFull reads n bytes from dst into buf, which may be longer (as a
// loop's read buffer is), shuttling the peer's output into dst whenever
// it would block.
func (p *memPair) readFull(dst *Conn, buf []byte, n int) {
	p.tb.Helper()
	for got := 0; got < n; {
		m, err := dst.Read(buf[got:])
		got += m
		if errors.Is(err, ErrWouldBlock) {
			if !p.shuttle() {
				p.tb.Fatalf("read %d of %d bytes, and nothing more to deliver", got, n)
			}
			continue
		}
		if err != nil {
			p.tb.Fatalf("read: %v after %d of %d bytes", err, got, n)
		}
	}
}

// roundTrip sends req from the client and resp back from the server;
// the buffers must be longer than the messages.
func (p *memPair) roundTrip(req, resp, reqBuf, respBuf []byte) {
	p.tb.Helper()
	if _, err := p.client.Write(req); err != nil {
		p.tb.Fatal(err)
	}
	p.readFull(p.server, reqBuf, len(req))
	if _, err := p.server.Write(resp); err != nil {
		p.tb.Fatal(err)
	}
	p.readFull(p.client, respBuf, len(resp))
}

// sockLoop drives a server Conn over one end of a socket pair, as a
// worker's loop would: a reader goroutine stands in for the readiness
// events, and the test goroutine is the loop thread. The other end is
// for a crypto/tls client.
type sockLoop struct {
	tb   testing.TB
	conn *Conn
	sock net.Conn
	in   chan []byte
	wake waker
	out  []byte
	done chan struct{}
}

// socketPair returns two connected stream sockets.
func socketPair(tb testing.TB) (a, b net.Conn) {
	tb.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		tb.Fatal(err)
	}
	conns := make([]net.Conn, 2)
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "socketpair")
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			tb.Fatal(err)
		}
		conns[i] = c
	}
	return conns[0], conns[1]
}

// newSockLoop starts a server connection of ctx over a socket pair; the
// returned net.Conn is the client's end.
func newSockLoop(tb testing.TB, ctx *Context) (*sockLoop, net.Conn) {
	tb.Helper()
	serverEnd, clientEnd := socketPair(tb)
	return newSockLoopOn(tb, ctx, serverEnd, clientEnd), clientEnd
}

// newSockLoopOn starts a server connection of ctx on serverEnd; both ends
// are closed when the test ends.
func newSockLoopOn(tb testing.TB, ctx *Context, serverEnd, clientEnd net.Conn) *sockLoop {
	tb.Helper()
	l := &sockLoop{tb: tb, sock: serverEnd, in: make(chan []byte, 64), wake: newWaker(), done: make(chan struct{})}
	l.conn = ctx.Server(l.wake.fn())
	go func() {
		defer close(l.done)
		defer close(l.in)
		for {
			buf := make([]byte, 32<<10)
			n, err := serverEnd.Read(buf)
			if n > 0 {
				l.in <- buf[:n]
			}
			if err != nil {
				return
			}
		}
	}()
	tb.Cleanup(func() {
		l.conn.Close()
		serverEnd.Close()
		clientEnd.Close()
		for range l.in {
		}
		<-l.done
	})
	return l
}

// flush sends the connection's output.
func (l *sockLoop) flush() {
	l.out = l.conn.Output(l.out[:0])
	if len(l.out) > 0 {
		if _, err := l.sock.Write(l.out); err != nil {
			l.tb.Logf("send: %v", err)
		}
	}
}

// await waits for input (fed) or a wake; false means the peer hung up.
func (l *sockLoop) await() bool {
	l.tb.Helper()
	select {
	case b, ok := <-l.in:
		if !ok {
			return false
		}
		l.conn.Feed(b)
	case <-l.wake:
	case <-time.After(testTimeout):
		l.tb.Fatal("loop stalled")
	}
	return true
}

// handshake runs the server handshake to its end.
func (l *sockLoop) handshake() error {
	for {
		done, err := l.conn.Handshake()
		l.flush()
		if err != nil || done {
			return err
		}
		if !l.await() {
			return io.ErrUnexpectedEOF
		}
	}
}

// readUntil reads until the data read ends with suffix.
func (l *sockLoop) readUntil(suffix []byte) ([]byte, error) {
	var got []byte
	buf := make([]byte, 4<<10)
	for !bytes.HasSuffix(got, suffix) {
		n, err := l.conn.Read(buf)
		got = append(got, buf[:n]...)
		l.flush()
		if errors.Is(err, ErrWouldBlock) {
			if !l.await() {
				return got, io.ErrUnexpectedEOF
			}
			continue
		}
		if err != nil {
			return got, err
		}
	}
	return got, nil
}

func (l *sockLoop) write(b []byte) {
	l.tb.Helper()
	if _, err := l.conn.Write(b); err != nil {
		l.tb.Fatal(err)
	}
	l.flush()
}

// exchange is what one request over a sockLoop produced.
type exchange struct {
	server    ctls.ConnectionState
	site      int
	serverErr error
	client    ctls.ConnectionState
	clientErr error
	response  []byte
}

const (
	testRequest  = "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"
	testResponse = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
)

// exchangeOnce serves one request from a crypto/tls client configured by
// cfg: handshake, request, response.
func exchangeOnce(tb testing.TB, ctx *Context, cfg *ctls.Config) exchange {
	tb.Helper()
	l, clientEnd := newSockLoop(tb, ctx)
	type result struct {
		state ctls.ConnectionState
		resp  []byte
		err   error
	}
	results := make(chan result, 1)
	go func() {
		var r result
		defer func() { results <- r }()
		clientEnd.SetDeadline(time.Now().Add(testTimeout))
		c := ctls.Client(clientEnd, cfg)
		if r.err = c.Handshake(); r.err != nil {
			return
		}
		r.state = c.ConnectionState()
		if _, r.err = io.WriteString(c, testRequest); r.err != nil {
			return
		}
		r.resp = make([]byte, len(testResponse))
		_, r.err = io.ReadFull(c, r.resp)
		r.state = c.ConnectionState() // DidResume etc. do not change; tickets were read
	}()
	var x exchange
	x.serverErr = l.handshake()
	if x.serverErr == nil {
		x.server = l.conn.State()
		x.site = l.conn.Site()
		var req []byte
		req, x.serverErr = l.readUntil([]byte("\r\n\r\n"))
		if x.serverErr == nil && string(req) != testRequest {
			tb.Errorf("server read %q", req)
		}
		if x.serverErr == nil {
			l.write([]byte(testResponse))
		}
	}
	l.flush()
	if x.serverErr != nil {
		l.sock.Close() // the client must not wait for more
	}
	r := <-results
	x.client, x.clientErr, x.response = r.state, r.err, r.resp
	return x
}

// settledGoroutines waits until no handshake of the process limiter is
// running (earlier tests' goroutines still exiting) and returns the
// goroutine count, a baseline for waitGoroutines.
func settledGoroutines(tb testing.TB) int {
	tb.Helper()
	waitSlotsFree(tb, processLimiter)
	return runtime.NumGoroutine()
}

// waitSlotsFree polls until no slot of lim is taken: a handshake
// goroutine releases its slot just before it exits.
func waitSlotsFree(tb testing.TB, lim *handshakeLimiter) {
	tb.Helper()
	deadline := time.Now().Add(testTimeout)
	for lim.inUse() > 0 {
		if time.Now().After(deadline) {
			tb.Fatalf("%d handshake slots still taken", lim.inUse())
		}
		time.Sleep(time.Millisecond)
	}
}

// waitGoroutines polls until at most n goroutines run.
func waitGoroutines(tb testing.TB, n int) {
	tb.Helper()
	deadline := time.Now().Add(testTimeout)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			tb.Fatalf("%d goroutines, want at most %d:\n%s", runtime.NumGoroutine(), n, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(time.Millisecond)
	}
}

// clientHello returns a real ClientHello flight, made by a client Conn.
func clientHello(tb testing.TB, serverName string) []byte {
	tb.Helper()
	w := newWaker()
	c := NewClientConfig(serverName, nil, false).Client(w.fn())
	defer c.Close()
	deadline := time.After(testTimeout)
	for c.Pending() == 0 {
		if _, err := c.Handshake(); err != nil {
			tb.Fatal(err)
		}
		if c.Pending() > 0 {
			break
		}
		select {
		case <-w:
		case <-deadline:
			tb.Fatal("no ClientHello")
		}
	}
	return c.Output(nil)
}

// records splits a stream of whole records.
func records(tb testing.TB, stream []byte) [][]byte {
	tb.Helper()
	var recs [][]byte
	for len(stream) > 0 {
		rec, rest, ok := nextRecord(stream)
		if !ok {
			tb.Fatalf("partial record: % x", stream)
		}
		recs = append(recs, rec)
		stream = rest
	}
	return recs
}

var sharedCA struct {
	once sync.Once
	ca   *testCA
	ec   ctls.Certificate
}

// testContext returns a one-site Context for "example.com" with an ECDSA
// certificate (made once per test binary) and session tickets.
func testContext(tb testing.TB) (*Context, *testCA) {
	tb.Helper()
	sharedCA.once.Do(func() {
		sharedCA.ca = newTestCA(tb)
		sharedCA.ec = sharedCA.ca.leaf(tb, testcert.ECDSA, "example.com")
	})
	ctx, err := NewContext([]Site{{Names: []string{"example.com"}, Certs: []ctls.Certificate{sharedCA.ec}, SessionTickets: true}})
	if err != nil {
		tb.Fatal(err)
	}
	return ctx, sharedCA.ca
}
