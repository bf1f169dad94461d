//go:build linux

package proxy

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/nproxy/nproxy/config"
	"github.com/nproxy/nproxy/metrics"
	"golang.org/x/sys/unix"
)

// Host names of proxy_pass and [upstream] server lines, as nginx treats
// them: when the group is built, a name becomes one backend per address
// it resolves to, each with the line's weight and options; with
// resolve_interval (nginx's `server NAME resolve` with a resolver's
// valid=, HAProxy's resolvers) the worker resolves the names again on
// its loop's timer.
// The lookup runs on a goroutine, never on the loop, and hands its
// answer back with Loop.Post; the group then adds the addresses that
// appeared and drains those that went (a drained backend takes no new
// request, its requests in flight finish, its idle connections are
// closed and its busy ones are closed instead of pooled), while the
// backends it keeps keep their health, balancer and least_conn state. A
// failed lookup keeps the last good set and is logged once, until the
// name resolves again.
//
// A request being retried while the set changes may try one address
// twice or skip one (its tried bits name indices that moved); maxTries
// bounds it either way.

// upstreamHost is one proxy_pass entry as written, "host:port" with its
// weight: an IP address is one backend, a name as many as it has
// addresses. Loop thread only.
type upstreamHost struct {
	addr   string // as written: "host:port"
	name   string // the host name; "" for an IP address
	port   uint16
	weight int
	// maxFails, failTimeout, backup and disabled are the line's options
	// (max_fails, fail_timeout, backup, down), given to each backend.
	maxFails    int
	failTimeout int64
	backup      bool
	disabled    bool

	// backends are the backends of its addresses, in address order.
	backends []*backend

	// m is addr's series in the worker's metrics slot, shared by its
	// backends (the catalog names series by configured address, so a
	// name's changing addresses never grow it); nil without metrics.
	m *metrics.Backend

	// failing is set while its lookups fail: the first failure is
	// logged, the next ones are not until it resolves again.
	failing bool
}

// newUpstreamHost parses a proxy_pass entry.
func newUpstreamHost(up config.Upstream) (*upstreamHost, error) {
	host, portStr, err := net.SplitHostPort(up.Addr)
	if err != nil {
		return nil, err
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("bad port in %q", up.Addr)
	}
	h := &upstreamHost{addr: up.Addr, port: uint16(port), weight: max(up.Weight, 1),
		maxFails: up.MaxFails, failTimeout: int64(up.FailTimeout), backup: up.Backup, disabled: up.Down}
	switch up.MaxFails {
	case 0:
		h.maxFails = 1 // nginx's default
	case config.NoMaxFails:
		h.maxFails = 0
	}
	if _, err := netip.ParseAddr(host); err != nil {
		h.name = host
	}
	return h, nil
}

// addrsAtLoad returns the addresses h has when the group is built: its
// IP address, or every address its name resolves to now.
func (h *upstreamHost) addrsAtLoad(lookup lookupFunc) ([]netip.Addr, error) {
	if h.name == "" {
		host, _, _ := net.SplitHostPort(h.addr)
		ip, _ := netip.ParseAddr(host)
		return []netip.Addr{ip.Unmap()}, nil
	}
	return lookupAddrs(lookup, h.name)
}

// publishDown tells h's series when it is up again: the earliest of
// its backends' downUntil, so that the series reads down only while
// every address of the name is.
func (h *upstreamHost) publishDown() {
	if h.m == nil || len(h.backends) == 0 {
		return
	}
	until := h.backends[0].downUntil
	for _, b := range h.backends[1:] {
		until = min(until, b.downUntil)
	}
	if h.disabled {
		until = math.MaxInt64 // down in the configuration
	}
	h.m.SetDownUntil(until)
}

// lookupFunc is config.LookupNetIP's type.
type lookupFunc = func(ctx context.Context, host string) ([]netip.Addr, error)

// lookupAddrs resolves name within config.ResolveTimeout and returns its
// distinct addresses in order (an answer in another order is the same
// answer). No address at all is an error.
func lookupAddrs(lookup lookupFunc, name string) ([]netip.Addr, error) {
	ctx, cancel := context.WithTimeout(context.Background(), config.ResolveTimeout)
	defer cancel()
	ips, err := lookup(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("cannot resolve %q: %w", name, config.LookupError(err))
	}
	out := make([]netip.Addr, 0, len(ips))
	for _, ip := range ips {
		if ip.IsValid() {
			out = append(out, ip.Unmap())
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	out = slices.Compact(out)
	if len(out) == 0 {
		return nil, fmt.Errorf("cannot resolve %q: no address", name)
	}
	return out, nil
}

// sockaddr is ip:port as the reactor dials it.
func sockaddr(ip netip.Addr, port uint16) unix.Sockaddr {
	if ip.Is4() {
		return &unix.SockaddrInet4{Port: int(port), Addr: ip.As4()}
	}
	return &unix.SockaddrInet6{Port: int(port), Addr: ip.As16()}
}

// newBackend makes the backend of h's address ip.
func (g *Group) newBackend(h *upstreamHost, ip netip.Addr) *backend {
	peer := netip.AddrPortFrom(ip, h.port).String()
	b := &backend{host: h, addr: h.addr, ip: ip, peer: peer, label: h.addr, sa: sockaddr(ip, h.port), weight: h.weight, m: h.m,
		maxFails: h.maxFails, failTimeout: h.failTimeout, backup: h.backup, disabled: h.disabled}
	if h.name != "" {
		b.label = h.addr + " (" + peer + ")"
	}
	if g.tlsPlain != nil {
		b.tls = g.backendTLS(ip)
	}
	return b
}

// rebuild lays the hosts' backends out as the balancers see them, in
// configuration order, numbers them (the tried bits of a request) and
// splits them into primaries and backups.
func (g *Group) rebuild() {
	bs := make([]*backend, 0, len(g.backends))
	for _, h := range g.hosts {
		bs = append(bs, h.backends...)
	}
	g.primaries, g.backups = g.primaries[:0], g.backups[:0]
	usable := 0 // primaries not marked down in the configuration
	for i, b := range bs {
		b.index = i
		if b.backup {
			g.backups = append(g.backups, b)
			continue
		}
		g.primaries = append(g.primaries, b)
		if !b.disabled {
			usable++
		}
	}
	for _, b := range bs {
		// As in nginx, a lone backend is never marked down by
		// failures: refusing every request for fail_timeout would only
		// add an outage. With a backup, the primary's failures count,
		// so that the backup takes over.
		b.single = !b.backup && !b.disabled && usable == 1 && len(g.backups) == 0
	}
	g.backends = bs
}

// SetResolveInterval makes the group resolve its host names again every
// d (resolve_interval; 0: never). Loop thread only, before it serves.
func (g *Group) SetResolveInterval(d time.Duration) {
	g.resolveEvery = d
	if !slices.ContainsFunc(g.hosts, func(h *upstreamHost) bool { return h.name != "" }) {
		g.resolveEvery = 0 // nothing to resolve
	}
}

// NeedsTick reports whether the group has timed work (health probes,
// resolving its names again): Tick must then be called about once a
// second.
func (g *Group) NeedsTick() bool { return g.healthCheck != "" || g.resolveEvery > 0 }

// resolveTick starts a lookup of the group's names when one is due and
// none is in flight.
func (g *Group) resolveTick(now int64) {
	if g.closed || g.resolving {
		return
	}
	if g.nextResolve == 0 {
		g.nextResolve = now + int64(g.resolveEvery) // resolved at load
		return
	}
	if now < g.nextResolve {
		return
	}
	g.nextResolve = now + int64(g.resolveEvery)
	var names []string
	for _, h := range g.hosts {
		if h.name != "" && !slices.Contains(names, h.name) {
			names = append(names, h.name)
		}
	}
	g.resolving = true
	lookup, loop := config.LookupNetIP, g.loop
	go func() {
		answers := make([]lookupAnswer, len(names))
		for i, name := range names {
			answers[i].addrs, answers[i].err = lookupAddrs(lookup, name)
		}
		loop.Post(func() { g.resolvedOnLoop(names, answers) })
	}()
}

// lookupAnswer is what one name resolved to, or why it did not.
type lookupAnswer struct {
	addrs []netip.Addr
	err   error
}

// resolvedOnLoop applies the answers of a lookup of names (in the same
// order) to the group's backends. Loop thread only.
func (g *Group) resolvedOnLoop(names []string, answers []lookupAnswer) {
	g.resolving = false
	if g.closed {
		return
	}
	changed := false
	g.leftOut = false
	for _, h := range g.hosts {
		if h.name == "" {
			continue
		}
		a := answers[slices.Index(names, h.name)]
		if a.err != nil {
			if !h.failing {
				h.failing = true
				g.log.Warnf("proxy: %s: %v; keeping its last %d address(es) until it resolves again", h.addr, a.err, len(h.backends))
			}
			continue
		}
		if h.failing {
			h.failing = false
			g.log.Infof("proxy: %s resolves again", h.addr)
		}
		if g.updateHost(h, a.addrs) {
			changed = true
		}
	}
	// The bound is logged once, until a lookup leaves nothing out.
	g.leftOutLogged = g.leftOut
	if changed {
		g.rebuild()
	}
}

// updateHost makes addrs h's addresses: it keeps the backends of those
// it had, drains the others and adds backends for the new ones, within
// config.MaxBackends for the group. It reports whether anything changed.
func (g *Group) updateHost(h *upstreamHost, addrs []netip.Addr) bool {
	others := len(g.backends) - len(h.backends)
	next := make([]*backend, 0, len(addrs))
	changed := false
	for _, b := range h.backends {
		if _, found := slices.BinarySearchFunc(addrs, b.ip, netip.Addr.Compare); found {
			next = append(next, b)
			continue
		}
		g.log.Infof("proxy: %s no longer resolves to %s: draining it", h.addr, b.peer)
		g.drain(b)
		changed = true
	}
	for _, ip := range addrs {
		if slices.ContainsFunc(next, func(b *backend) bool { return b.ip == ip }) {
			continue
		}
		if others+len(next) >= config.MaxBackends {
			if !g.leftOut && !g.leftOutLogged {
				g.log.Warnf("proxy: %s: address %s left out: the group has %d backends, the most it may have", h.addr, ip, config.MaxBackends)
			}
			g.leftOut = true
			continue
		}
		b := g.newBackend(h, ip)
		g.log.Infof("proxy: %s now resolves to %s too: added", h.addr, b.peer)
		next = append(next, b)
		changed = true
	}
	slices.SortFunc(next, func(x, y *backend) int { return x.ip.Compare(y.ip) })
	h.backends = next
	if changed {
		h.publishDown()
	}
	return changed
}

// drain takes b out of the group: no new request picks it, its idle
// connections are closed now, and its busy ones when their requests
// end (putIdle).
func (g *Group) drain(b *backend) {
	b.drained = true
	for _, u := range b.idle {
		u.close()
	}
	b.addIdle(-len(b.idle))
	b.idle = nil
}
