package config

import (
	"fmt"
	"net"
)

// status_listen = ADDR (global): a listen address of its own for
// /metrics and /healthz, as HAProxy's stats frontend or nginx's
// stub_status in a server on a private address. The loader adds a
// [server] for it (Server.Status) that answers those two paths and 404
// to anything else, with no module, access log or rate limit; and every
// other [server] then leaves both paths to its routes, so the public
// listeners expose neither.

func init() {
	globalKeys["status_listen"] = func(l *loader, c *Config, v string) error {
		addrs, err := parseListenList(v)
		if err != nil {
			return err
		}
		if len(addrs) != 1 {
			return fmt.Errorf("%q: one address (HOST:PORT)", v)
		}
		c.StatusListen, c.statusLine = addrs[0], l.line
		return nil
	}
}

// addStatusServer adds the [server] of status_listen to cfg, refusing an
// address that a [server] listens on too (or one a wildcard address
// of the same port covers).
func (l *loader) addStatusServer(cfg *Config) {
	if cfg.StatusListen == "" {
		return
	}
	host, port, _ := net.SplitHostPort(cfg.StatusListen)
	for _, s := range cfg.Servers {
		for _, a := range s.Listen {
			h, p, _ := net.SplitHostPort(a)
			if p == port && (h == host || wildcardHost(h) || wildcardHost(host)) {
				l.addf(cfg.statusLine, ErrConflict, "status_listen %s: the [server] on line %d listens on %s (the status address must be its own)", cfg.StatusListen, s.Line, a)
				return
			}
		}
	}
	s := newServer(cfg.statusLine)
	s.Listen = []string{cfg.StatusListen}
	s.Status, s.Metrics, s.Healthz = true, true, true
	s.listenLine = cfg.statusLine
	cfg.Servers = append(cfg.Servers, s)
}

// wildcardHost reports whether a listen host is the any-address.
func wildcardHost(h string) bool {
	return h == "" || h == "0.0.0.0" || h == "::"
}
