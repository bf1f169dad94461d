//go:build linux

package proxy

import (
	"crypto/x509"
	"fmt"
	"time"

	"github.com/nproxy/nproxy/config"
	"github.com/nproxy/nproxy/logging"
	"github.com/nproxy/nproxy/metrics"
	"github.com/nproxy/nproxy/reactor"
)

// Group is one upstream group in one worker: its backends with their
// keep-alive pools, health and load, its balancer and its active health
// probes. Every route that proxies to the group shares it, as every
// location naming one of nginx's upstream{} blocks shares the block's
// peers and keepalive cache: a connection opened for one route is reused
// by another, a backend one route found down is skipped by every route,
// and least_conn counts the requests of them all. It runs on the loop
// thread only and must not be copied.
//
// What a Group does not hold is per route (Handler): the prefix, the
// timeouts, the headers, the request and response rules.
type Group struct {
	loop     *reactor.Loop
	log      *logging.Logger
	backends []*backend
	// primaries and backups split backends by the backup option, each
	// in configuration order with its own balancer: a backup is picked
	// only when no primary may take the request (all down, or already
	// tried for it), as nginx's.
	primaries, backups []*backend
	bal, backupBal     Balancer

	// hosts are the proxy_pass entries, in configuration order; their
	// addresses' backends, in that order, are backends (resolve.go).
	hosts []*upstreamHost
	// resolveEvery is resolve_interval (0: names are resolved once);
	// nextResolve is when the next lookup is due, and resolving is set
	// while one is in flight.
	resolveEvery time.Duration
	nextResolve  int64
	resolving    bool
	// leftOut is set while the last lookup found more addresses than
	// config.MaxBackends; leftOutLogged once that is logged.
	leftOut, leftOutLogged bool

	closed    bool
	nextProbe int64

	// healthCheck and healthEvery are the group's health_check; probeTimeout
	// bounds a probe's connect (the proxy_connect_timeout of the route
	// that built the group).
	healthCheck  string
	healthEvery  time.Duration
	probeTimeout time.Duration

	// sendProxy is proxy_send_proxy_protocol: 0, 1 or 2 (sendproxy.go).
	sendProxy int
	// keepalive is proxy_keepalive: the most idle connections kept per
	// backend.
	keepalive int

	// tlsPlain is the scratch buffer records from https:// backends are
	// decrypted into (one record at a time), nil for plain ones.
	tlsPlain []byte
	// tlsRoots, tlsName and tlsVerify are what backendTLS gives each
	// https:// backend (newClientContexts).
	tlsRoots  *x509.CertPool
	tlsName   string
	tlsVerify bool
}

// NewGroup builds the runtime group of cfg's proxy_pass on loop: its
// backends (names resolved now, every address a backend: resolve.go),
// balancer and, for https:// backends, their TLS settings (cfg's
// proxy_tls_*). Routes share it through NewRoute.
func NewGroup(cfg *config.Server, loop *reactor.Loop, log *logging.Logger) (*Group, error) {
	g := &Group{loop: loop, log: log, healthCheck: cfg.HealthCheck, healthEvery: cfg.HealthEvery, probeTimeout: cfg.ProxyConnectTimeout,
		sendProxy: cfg.ProxySendProxyProtocol, keepalive: cfg.ProxyKeepalive}
	if len(cfg.ProxyPass) == 0 {
		return nil, fmt.Errorf("proxy: no backend")
	}
	if len(cfg.ProxyPass) > config.MaxBackends {
		return nil, fmt.Errorf("proxy: %d backends, at most %d", len(cfg.ProxyPass), config.MaxBackends)
	}
	if cfg.ProxyTLS {
		if err := g.newClientContexts(cfg); err != nil {
			return nil, err
		}
	}
	lookup := config.LookupNetIP
	n := 0
	for _, up := range cfg.ProxyPass {
		h, err := newUpstreamHost(up)
		if err != nil {
			return nil, fmt.Errorf("proxy: proxy_pass %s: %w", up.Addr, err)
		}
		addrs, err := h.addrsAtLoad(lookup)
		if err != nil {
			return nil, fmt.Errorf("proxy: proxy_pass %s: %w", up.Addr, err)
		}
		if n += len(addrs); n > config.MaxBackends {
			return nil, fmt.Errorf("proxy: proxy_pass %s: %d backends once its names are resolved, more than %d", up.Addr, n, config.MaxBackends)
		}
		for _, ip := range addrs {
			h.backends = append(h.backends, g.newBackend(h, ip))
		}
		g.hosts = append(g.hosts, h)
	}
	g.rebuild()
	if cfg.Balance == "least_conn" {
		g.bal, g.backupBal = &leastConn{}, &leastConn{}
	} else {
		g.bal, g.backupBal = roundRobin{}, roundRobin{}
	}
	return g, nil
}

// anyUp reports whether some backend may take a request. It does not ask
// the balancer, whose pick moves its state (smooth round-robin would
// otherwise advance twice per request).
func (g *Group) anyUp(now int64) bool {
	for _, b := range g.backends {
		if b.up(now) {
			return true
		}
	}
	return false
}

// recoverAll is nginx's quick recovery: when a request finds every
// backend down (primaries and backups) it is answered 502 and the backends that requests marked
// down are live again for the next one, so that a group whose backends
// all failed at once (a restart, a network blip) serves again as soon as
// one of them is back instead of answering 502 for the whole fail
// timeout. A backend an active health check holds down stays down: the
// probe, not traffic, says when it is back; one marked down in the
// configuration stays down too.
func (g *Group) recoverAll() {
	for _, b := range g.backends {
		if !b.probed && !b.drained {
			b.fails = 0
			b.setDown(0)
		}
	}
}

// pick asks the balancer for a primary, then, when none may take the
// request, the backups' balancer, ignoring backends already tried.
func (g *Group) pick(tried uint64, now int64) *backend {
	if b := g.bal.Pick(g.primaries, tried, now); b != nil || len(g.backups) == 0 {
		return b
	}
	return g.backupBal.Pick(g.backups, tried, now)
}

// getConn returns an idle connection to b for s (takeIdle), or dials a
// new one whose connect may take connectTimeout.
func (g *Group) getConn(b *backend, s *session, connectTimeout time.Duration) (*upConn, bool, error) {
	for u := g.takeIdle(b, s); u != nil; u = g.takeIdle(b, s) {
		if !s.idempotent && peerClosed(u.rc.Fd()) {
			// A request that must not be sent twice cannot be retried
			// if the backend turns out to have closed this connection:
			// check for its FIN first (one recv, only for such
			// requests), as the race is then ours to lose.
			u.close()
			continue
		}
		u.s = s
		u.rc.ClearTimeout()
		return u, true, nil
	}
	u := newUpConn(g, b)
	u.s = s
	rc, err := g.loop.Dial(b.sa, u)
	if err != nil {
		return nil, false, err
	}
	g.newPP(u, s.ppClient, s.ppLocal)
	u.rc = rc
	rc.SetTimeout(connectTimeout)
	return u, false, nil
}

// takeIdle removes and returns an open idle connection to b that may
// serve s: with PROXY headers one parked with s's client connection
// (takeAffine), else the pool's most recent. nil when there is none.
func (g *Group) takeIdle(b *backend, s *session) *upConn {
	if g.sendProxy != 0 {
		return takeAffine(b, s)
	}
	for n := len(b.idle); n > 0; n = len(b.idle) {
		u := b.idle[n-1]
		b.idle[n-1] = nil
		b.idle = b.idle[:n-1]
		b.addIdle(-1)
		if u.rc != nil && u.rc.Open() {
			return u
		}
	}
	return nil
}

// putIdle keeps a connection that finished a response cleanly for a
// later request: in its backend's pool, or, when its PROXY header named
// the client, parked with that client's connection (park).
func (g *Group) putIdle(u *upConn) {
	s := u.s
	u.s = nil
	u.reused = true
	b := u.b
	if u.rc == nil || !u.rc.Open() || g.closed || b.drained || g.keepalive == 0 {
		u.close()
		return
	}
	if g.sendProxy != 0 {
		park(u, s)
		return
	}
	if len(b.idle) >= g.keepalive {
		u.close()
		return
	}
	b.idle = append(b.idle, u)
	b.addIdle(1)
	u.rc.SetTimeout(upstreamIdleTimeout)
	u.startRecv() // notice the backend closing it
}

// dropIdle closes an idle connection, pooled or parked, and removes it
// from its pool.
func (g *Group) dropIdle(u *upConn) {
	b := u.b
	if u.parked {
		u.unpark()
		u.close()
		return
	}
	for i, x := range b.idle {
		if x == u {
			copy(b.idle[i:], b.idle[i+1:])
			b.idle[len(b.idle)-1] = nil
			b.idle = b.idle[:len(b.idle)-1]
			b.addIdle(-1)
			break
		}
	}
	u.close()
}

// BindMetrics points every backend at its series in the worker's
// metrics slot: series(addr) returns the one of address addr (as written
// in proxy_pass: the addresses of a name share its series); nil unbinds
// them. Loop thread only, before the group serves.
func (g *Group) BindMetrics(series func(addr string) *metrics.Backend) {
	for _, h := range g.hosts {
		h.m = nil
		if series != nil {
			h.m = series(h.addr)
		}
		for _, b := range h.backends {
			b.m = h.m
		}
		h.publishDown()
	}
}

// Tick starts the lookup of the group's names and runs the active
// health probes that are due; the server calls it from the loop about
// once a second when NeedsTick (once per group, however many routes
// share it).
func (g *Group) Tick(now time.Time) {
	n := now.UnixNano()
	if g.resolveEvery > 0 {
		g.resolveTick(n)
	}
	if g.healthCheck == "" {
		return
	}
	if n < g.nextProbe {
		return
	}
	every := g.healthEvery
	if every <= 0 {
		every = 5 * time.Second
	}
	g.nextProbe = n + int64(every)
	for _, b := range g.backends {
		if !b.disabled { // down: no probe brings it back
			startProbe(g, b, every)
		}
	}
}

// Close closes every pooled connection; connections that finish their
// request afterwards are closed instead of pooled (a draining worker must
// not wait on idle upstream connections). Closing twice is harmless.
func (g *Group) Close() {
	g.closed = true
	for _, b := range g.backends {
		for _, u := range b.idle {
			u.close()
		}
		b.addIdle(-len(b.idle))
		b.idle = nil
	}
}
