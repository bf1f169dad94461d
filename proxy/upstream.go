//go:build linux

package proxy

import (
	"net/netip"
	"time"

	"github.com/nproxy/nproxy/http"
	"github.com/nproxy/nproxy/metrics"
	"github.com/nproxy/nproxy/reactor"
	nptls "github.com/nproxy/nproxy/tls"
	"golang.org/x/sys/unix"
)

// Passive health tracking, nginx's max_fails and fail_timeout counted in
// a row: a backend's max_fails failures in a row (a refused or timed-out
// connect, a connection that breaks before the response) mark it down
// for its fail_timeout; then it is tried again. A success clears the
// count. (nginx counts the failures within one fail_timeout window
// instead, which differs only when successes come between failures.)

// failTimeout is how long a failed backend stays down when its line
// gives no fail_timeout (nginx's default); a variable so that tests can
// shorten it.
var failTimeout = 10 * time.Second

const (
	// upstreamIdleTimeout closes a pooled connection unused for this long
	// (nginx's keepalive_timeout for upstreams is 60s).
	upstreamIdleTimeout = 60 * time.Second
)

// backend is one address of a proxy_pass entry (resolve.go) with its
// health, load and pool of idle keep-alive connections. Loop thread only.
type backend struct {
	index  int           // in Group.backends: its bit in a request's tried set
	host   *upstreamHost // the entry it is an address of
	addr   string        // the entry as written, "host:port" (Host, series)
	ip     netip.Addr
	peer   string // ip:port, nginx's $upstream_addr
	label  string // for the error log: addr, and "(ip:port)" after a name
	sa     unix.Sockaddr
	weight int
	single bool // the only usable primary and no backup: never marked down by failures
	// maxFails is max_fails: the failures in a row that mark it down (0:
	// never); failTimeout is fail_timeout in ns (0: the package's
	// failTimeout).
	maxFails    int
	failTimeout int64
	backup      bool // backup: picked only when no primary may be
	disabled    bool // down: never picked, whatever probes say
	// drained is set once its name no longer resolves to it: it takes
	// no new request, and its connections close as their requests end.
	drained bool

	current   int   // smooth round-robin state
	active    int   // requests in flight (least_conn)
	fails     int   // consecutive failures
	downUntil int64 // UnixNano; up again from then
	probed    bool  // down by a failed active health check, not by requests

	idle []*upConn // idle keep-alive connections, most recent last

	// m is the backend's series in the worker's metrics slot (nil
	// without metrics = on): see Group.BindMetrics.
	m *metrics.Backend

	// tls is the TLS configuration of an https:// backend (nil for a
	// plain one): its server name and a session cache, so that a new
	// connection resumes the session of an earlier one. One per backend,
	// not per Group: crypto/tls caches one session per server name,
	// and backends sharing a name would overwrite each other's.
	tls *nptls.ClientContext
}

func (b *backend) up(now int64) bool { return now >= b.downUntil && !b.disabled }

// failed records a failure; maxFails in a row mark the backend down for
// its fail timeout.
func (b *backend) failed(now int64) {
	b.fails++
	if b.maxFails > 0 && b.fails >= b.maxFails && !b.single {
		b.setDown(now + b.downFor())
	}
}

// downFor is how long (ns) failures keep the backend down.
func (b *backend) downFor() int64 {
	if b.failTimeout > 0 {
		return b.failTimeout
	}
	return int64(failTimeout)
}

// succeeded clears the failure count.
func (b *backend) succeeded() {
	b.fails = 0
	b.probed = false
	if b.downUntil != 0 {
		b.setDown(0)
	}
}

// setDown keeps the backend out of rotation until the Unix time until
// (ns; 0: up), and tells the metrics.
func (b *backend) setDown(until int64) {
	b.downUntil = until
	b.host.publishDown()
}

// addActive moves the backend's count of busy connections (which also
// drives least_conn) and its gauge; addIdle moves the pooled
// connections' gauge.
func (b *backend) addActive(d int) {
	b.active += d
	if b.m != nil {
		b.m.AddActive(int64(d))
	}
}

func (b *backend) addIdle(d int) {
	if b.m != nil {
		b.m.AddIdle(int64(d))
	}
}

// count records an attempt's failure of kind (metrics.ErrConnect...).
func (b *backend) count(kind int) {
	if b.m != nil {
		b.m.Error(kind)
	}
}

// upConn is one connection to a backend: busy with a session, or idle in
// its backend's pool. On an https:// backend it carries its TLS state
// (upstream_tls.go), and the session and probes see plaintext only: they
// send with send and read through startRecv/stopRecv, never through rc
// directly.
type upConn struct {
	g      *Group
	b      *backend
	rc     *reactor.Conn
	s      *session // nil while idle
	reused bool     // served a request before (a stale pooled one may fail)
	probe  *probe   // set for an active health probe connection
	tls    *upTLS   // nil on a plain connection

	// pp is the PROXY protocol header still to be sent on a new
	// connection (a pooled buffer), first, before any other byte (a TLS
	// handshake's too); ppSending while its send is in flight. ppClient
	// is the client the header named, and parked is set while the
	// connection waits, idle, in that client connection's
	// http.AffineSlot, slot (sendproxy.go).
	pp        []byte
	ppSending bool
	parked    bool
	ppClient  netip.AddrPort
	slot      *http.AffineSlot
}

var (
	_ reactor.Handler = (*upConn)(nil)
	_ http.AffineConn = (*upConn)(nil)
)

// newUpConn makes the connection state for a dial to b.
func newUpConn(g *Group, b *backend) *upConn {
	u := &upConn{g: g, b: b}
	if b.tls != nil {
		u.tls = new(upTLS)
	}
	return u
}

func (u *upConn) OnRecv(rc *reactor.Conn, data []byte) {
	if u.tls != nil {
		u.tlsRecv(data)
		return
	}
	u.recvPlain(data)
}

func (u *upConn) OnReadClosed(rc *reactor.Conn, err error) {
	if u.tls != nil {
		u.tlsReadClosed(err)
		return
	}
	u.readClosed(err)
}

func (u *upConn) OnSendDone(rc *reactor.Conn, err error) {
	if u.ppSending {
		u.ppSending = false
		u.freePP()
		u.afterConnect(err)
		return
	}
	if u.tls != nil {
		u.tlsSendDone(err)
		return
	}
	u.sent(err)
}

func (u *upConn) OnConnect(rc *reactor.Conn, err error) {
	if err == nil && u.pp != nil && !u.sendPP() {
		return // OnSendDone goes on
	}
	u.afterConnect(err)
}

// afterConnect goes on once the connection is up and its PROXY header,
// if any, is sent: the TLS handshake, or the user of the connection.
func (u *upConn) afterConnect(err error) {
	if u.tls != nil && err == nil {
		u.tlsStart()
		return
	}
	u.connected(err)
}

func (u *upConn) OnTimeout(rc *reactor.Conn) {
	switch {
	case u.s != nil:
		u.s.upTimeout()
	case u.probe != nil:
		u.probe.done(false)
	default:
		u.g.dropIdle(u) // idle too long
	}
}

// recvPlain hands bytes from the backend (decrypted, on TLS) to whoever
// uses the connection.
func (u *upConn) recvPlain(data []byte) {
	switch {
	case u.s != nil:
		u.s.upRecv(data)
	case u.probe != nil:
		u.probe.recv(data)
	default:
		// Bytes from an idle upstream connection are a protocol error:
		// drop the connection.
		u.g.dropIdle(u)
	}
}

// readClosed reports the end of the backend's input (err nil for an
// orderly end).
func (u *upConn) readClosed(err error) {
	switch {
	case u.s != nil:
		u.s.upClosed(err)
	case u.probe != nil:
		u.probe.done(false)
	default:
		u.g.dropIdle(u) // the backend closed an idle keep-alive connection
	}
}

// sent reports that a send that had to wait is complete (or failed).
func (u *upConn) sent(err error) {
	switch {
	case u.s != nil:
		u.s.upSent(err)
	case u.probe != nil && err != nil:
		u.probe.done(false)
	}
}

// connected reports that the connection is up (on TLS: the handshake is
// done), or why it could not be made.
func (u *upConn) connected(err error) {
	switch {
	case u.s != nil:
		u.s.upConnected(err)
	case u.probe != nil:
		u.probe.connected(err)
	default:
		u.close()
	}
}

// send sends b to the backend (encrypted, on TLS). done=false means that
// OnSendDone reports the end through upSent or the probe, and b must not
// change until then; only one send may be in flight.
func (u *upConn) send(b []byte) (done bool, err error) {
	if u.tls != nil {
		return u.tls.out.Send(b)
	}
	return u.rc.Send(b)
}

// startRecv asks for the backend's bytes (again).
func (u *upConn) startRecv() {
	u.rc.StartRecv()
	if u.tls != nil {
		u.tlsResume()
	}
}

// stopRecv pauses the backend's bytes until startRecv.
func (u *upConn) stopRecv() {
	u.rc.StopRecv()
	if u.tls != nil {
		u.tls.paused = true
	}
}

// shutdownWrite half-closes the connection once what was sent is out (on
// TLS after a close_notify). Nothing may be sent afterwards.
func (u *upConn) shutdownWrite() {
	if u.tls != nil {
		u.tlsShutdownWrite()
		return
	}
	u.rc.ShutdownWrite()
}

// close closes the connection (and forgets it).
func (u *upConn) close() {
	if u.rc != nil {
		u.rc.Close()
		u.rc = nil
	}
	if u.tls != nil {
		u.tls.release() // after rc.Close: a send in flight is abandoned
	}
	u.ppSending = false
	u.freePP() // after rc.Close too
	u.s, u.probe = nil, nil
}

// peerClosed reports whether the peer of the idle connection fd has
// closed it or sent something (either makes it unusable): a
// non-blocking peek that finds EOF, data or an error rather than
// EAGAIN.
func peerClosed(fd int) bool {
	var b [1]byte
	n, _, err := unix.Recvfrom(fd, b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
	return err != unix.EAGAIN || n > 0
}
