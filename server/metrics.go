//go:build linux

package server

import (
	"strings"
	"time"

	"github.com/nproxy/nproxy/config"
	"github.com/nproxy/nproxy/metrics"
	"github.com/nproxy/nproxy/reactor"
)

// This file names the metrics series of a configuration (the master lays
// them out in the shared table before it starts the workers, and each
// worker finds its own by the same names) and keeps the gauges a worker
// samples: its connections by state.

// serverLabel and listenLabel name a [server] block in the series: its
// first server_name ("_" without one, nginx's catch-all name) and its
// first listen address.
func serverLabel(sc *config.Server) string {
	if len(sc.ServerNames) > 0 {
		return sc.ServerNames[0]
	}
	return "_"
}

func listenLabel(sc *config.Server) string {
	if len(sc.Listen) > 0 {
		return sc.Listen[0]
	}
	return ""
}

// locationLabel names a route: the [location]'s MATCH as written, or
// "-" for the block's own settings (no location matched).
func locationLabel(loc *config.Location) string {
	if loc == nil {
		return "-"
	}
	return loc.Match
}

// upstreamLabel names the upstream group of a route with proxy_pass: the
// NAME of proxy_pass = NAME, else its addresses (as nginx names an
// implicit upstream after its address).
func upstreamLabel(cfg *config.Server) string {
	if cfg.UpstreamName != "" {
		return cfg.UpstreamName
	}
	addrs := make([]string, len(cfg.ProxyPass))
	for i := range cfg.ProxyPass {
		addrs[i] = cfg.BackendLabel(i)
	}
	return strings.Join(addrs, ",")
}

// backendLabel returns the backend label of the proxy_pass address
// addr of cfg (config.Server.BackendLabel).
func backendLabel(cfg *config.Server, addr string) string {
	for i, up := range cfg.ProxyPass {
		if up.Addr == addr {
			return cfg.BackendLabel(i)
		}
	}
	return addr
}

// RegisterMetrics lays out the series of cfg in the catalog of t: the
// master calls it for each configuration it loads, before the workers
// that look them up start. Series of earlier configurations stay.
func RegisterMetrics(t *metrics.Table, cfg *config.Config) {
	for _, sc := range cfg.Servers {
		srv, listen := serverLabel(sc), listenLabel(sc)
		t.Register(srv, listen, locationLabel(nil))
		registerBackends(t, sc)
		for _, loc := range sc.Locations {
			t.Register(srv, listen, locationLabel(loc))
			registerBackends(t, loc.Server)
		}
	}
}

func registerBackends(t *metrics.Table, cfg *config.Server) {
	if !cfg.HasProxy() {
		return
	}
	up := upstreamLabel(cfg)
	for i := range cfg.ProxyPass {
		t.RegisterBackend(up, cfg.BackendLabel(i))
	}
}

// bindMetrics points every route and upstream backend of s at its series
// in the worker's slot, found in the table's catalog by name. Called
// when the table or slot changes (New, UseMetrics); loop thread only.
func (s *Server) bindMetrics() {
	t, slot := s.table, s.counters
	t.ForgetUses()
	t.SetBackend(s.loop.Backend().Name())
	for _, vh := range s.vhosts() {
		srv, listen := serverLabel(vh.cfg), listenLabel(vh.cfg)
		vh.rt.eachRoute(func(r *route) {
			i := t.Lookup(srv, listen, locationLabel(r.loc))
			t.UseRoute(i)
			r.m = slot.Route(i)
			if r.proxy == nil {
				return
			}
			up := upstreamLabel(r.cfg)
			r.proxy.Group().BindMetrics(func(addr string) *metrics.Backend {
				j := t.LookupBackend(up, backendLabel(r.cfg, addr))
				t.UseBackend(j)
				return slot.Backend(j)
			})
		})
	}
}

// vhosts returns every [server] block of s once, in no set order.
func (s *Server) vhosts() []*vhost {
	var out []*vhost
	seen := map[*vhost]bool{}
	for _, g := range s.groups {
		for _, vh := range g.vhosts {
			if !seen[vh] {
				seen[vh] = true
				out = append(out, vh)
			}
		}
	}
	return out
}

// routeMetrics returns the series the response to the request being
// served counts in: its route's, or its block's own when it was answered
// before a route was chosen (a bad request, a rewrite's redirect, a
// module).
func (s *Server) routeMetrics(vh *vhost) *metrics.Route {
	if r := s.route; r != nil && r.m != nil {
		return r.m
	}
	return vh.rt.root.m
}

// sampleEvery is how often a worker samples its connections' states.
const sampleEvery = time.Second

// sampleConns publishes the worker's connections by state into its slot
// (the change since the last sample, so that two processes sharing a
// slot during a reload add up). Loop thread only; a ticker runs it.
func (s *Server) sampleConns(now int64) {
	if s.counters == nil || now < s.nextSample {
		return
	}
	s.nextSample = now + int64(sampleEvery)
	var n [metrics.NumConnStates]int64
	s.loop.ForEach(func(rc *reactor.Conn) {
		if c, ok := rc.Ctx.(*conn); ok {
			n[c.stateLabel()]++
		}
	})
	s.publishConns(n)
}

// publishConns makes n the worker's published connection counts.
func (s *Server) publishConns(n [metrics.NumConnStates]int64) {
	for i := range n {
		if d := n[i] - s.connsShown[i]; d != 0 {
			s.counters.AddConnState(i, d)
		}
	}
	s.connsShown = n
}

// stateLabel classifies c for nproxy_connections.
func (c *conn) stateLabel() int {
	switch {
	case c.h2 != nil:
		return metrics.ConnHTTP2
	case c.tls != nil && !c.tls.ready:
		return metrics.ConnHandshake
	case c.state == stTakeover:
		return metrics.ConnProxying
	case c.state == stLinger || c.state == stClosed:
		return metrics.ConnClosing
	case c.sending || len(c.out) > 0 || c.body != nil:
		return metrics.ConnWriting
	case c.idle():
		return metrics.ConnIdle
	}
	return metrics.ConnReading
}
