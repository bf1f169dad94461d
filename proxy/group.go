//go:build linux

package proxy

import (
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
	bal      Balancer

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
}

// NewGroup builds the runtime group of cfg's proxy_pass on loop: its
// backends (resolved now), balancer and, for https:// backends, their TLS
// settings (cfg's proxy_tls_*). Routes share it through NewRoute.
func NewGroup(cfg *config.Server, loop *reactor.Loop, log *logging.Logger) (*Group, error) {
	g := &Group{loop: loop, log: log, healthCheck: cfg.HealthCheck, healthEvery: cfg.HealthEvery, probeTimeout: cfg.ProxyConnectTimeout,
		sendProxy: cfg.ProxySendProxyProtocol, keepalive: cfg.ProxyKeepalive}
	if len(cfg.ProxyPass) == 0 {
		return nil, fmt.Errorf("proxy: no backend")
	}
	if len(cfg.ProxyPass) > 64 {
		return nil, fmt.Errorf("proxy: %d backends, at most 64", len(cfg.ProxyPass))
	}
	for i, up := range cfg.ProxyPass {
		sa, err := resolve(up.Addr)
		if err != nil {
			return nil, fmt.Errorf("proxy: proxy_pass %s: %w", up.Addr, err)
		}
		w := up.Weight
		if w <= 0 {
			w = 1
		}
		g.backends = append(g.backends, &backend{index: i, addr: up.Addr, sa: sa, weight: w})
	}
	// As in nginx, a lone backend is never marked down by failures:
	// refusing every request for fail_timeout would only add an outage.
	g.backends[0].single = len(g.backends) == 1
	if cfg.ProxyTLS {
		if err := g.newClientContexts(cfg); err != nil {
			return nil, err
		}
	}
	if cfg.Balance == "least_conn" {
		g.bal = &leastConn{}
	} else {
		g.bal = roundRobin{}
	}
	return g, nil
}

// HasHealthCheck reports whether the group probes its backends: Tick
// must then be called about once a second.
func (g *Group) HasHealthCheck() bool { return g.healthCheck != "" }

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

// pick asks the balancer, ignoring backends already tried.
func (g *Group) pick(tried uint64, now int64) *backend {
	return g.bal.Pick(g.backends, tried, now)
}

// getConn returns an idle pooled connection to b, or dials a new one
// whose connect may take connectTimeout.
func (g *Group) getConn(b *backend, s *session, connectTimeout time.Duration) (*upConn, bool, error) {
	for n := len(b.idle); n > 0; n = len(b.idle) {
		u := b.idle[n-1]
		if g.sendProxy != 0 {
			// Only a connection that named this client will do.
			if u = takeIdleFor(b, s.ppClient); u == nil {
				break
			}
		} else {
			b.idle = b.idle[:n-1]
		}
		b.addIdle(-1)
		if u.rc == nil || !u.rc.Open() {
			continue
		}
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

// putIdle returns a connection that finished a response cleanly to its
// backend's pool.
func (g *Group) putIdle(u *upConn) {
	u.s = nil
	u.reused = true
	b := u.b
	if len(b.idle) >= g.keepalive || u.rc == nil || !u.rc.Open() || g.closed {
		u.close()
		return
	}
	b.idle = append(b.idle, u)
	b.addIdle(1)
	u.rc.SetTimeout(upstreamIdleTimeout)
	u.startRecv() // notice the backend closing it
}

// dropIdle closes an idle pooled connection and removes it from its pool.
func (g *Group) dropIdle(u *upConn) {
	b := u.b
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
// in proxy_pass); nil unbinds them. Loop thread only, before the group
// serves.
func (g *Group) BindMetrics(series func(addr string) *metrics.Backend) {
	for _, b := range g.backends {
		b.m = nil
		if series != nil {
			b.m = series(b.addr)
			b.m.SetDownUntil(b.downUntil)
		}
	}
}

// Tick runs the active health probes that are due; the server calls it
// from the loop about once a second (once per group, however many
// routes share it).
func (g *Group) Tick(now time.Time) {
	if g.healthCheck == "" {
		return
	}
	n := now.UnixNano()
	if n < g.nextProbe {
		return
	}
	every := g.healthEvery
	if every <= 0 {
		every = 5 * time.Second
	}
	g.nextProbe = n + int64(every)
	for _, b := range g.backends {
		startProbe(g, b, every)
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
