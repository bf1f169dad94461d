package config

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"gopkg.in/ini.v1"
)

// Named upstream groups: an [upstream NAME] section lists a group's
// backends (server = ADDR [weight=N] [max_fails=N] [fail_timeout=T]
// [backup] [down], repeatable) with its balance and
// health_check, and proxy_pass = NAME in any [server] or [location] uses
// it, as nginx's upstream blocks. Each [server] or [location] that names
// a group gets a copy of its backends and settings (Server.UpstreamName
// says which group), and in each worker every route naming the group
// shares one runtime group: one set of keep-alive pools, one balancer,
// one health state (proxy.Group).

// upstreamGroup is one [upstream NAME] section.
type upstreamGroup struct {
	line        int
	pass        []Upstream
	tls         bool
	hosts       []string
	balance     string
	healthCheck string
	healthEvery time.Duration
	sendProxy   int // proxy_send_proxy_protocol: 0 (off), 1 or 2
	keepalive   int // proxy_keepalive
	used        bool
}

// upstreamName is what a group may be called: a proxy_pass value that is
// one such word names the group when one is defined.
var upstreamName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*$`)

// isUpstreamSection reports whether a section name is an [upstream ...].
func isUpstreamSection(name string) bool {
	name = strings.TrimSpace(name)
	return name == "upstream" || strings.HasPrefix(name, "upstream ") || strings.HasPrefix(name, "upstream\t")
}

// applyUpstreams reads every [upstream NAME] section before the [server]s
// are applied, so that proxy_pass may name a group defined further down.
func (l *loader) applyUpstreams(sections []*ini.Section, sc *scanned) {
	for i, sec := range sections {
		if i == 0 || !isUpstreamSection(sec.Name()) {
			continue
		}
		ss := &scanSection{name: sec.Name(), line: 1}
		if i < len(sc.sections) {
			ss = sc.sections[i]
		}
		l.beginSection(i, sec.Name())
		l.applyUpstream(sec, ss)
	}
}

// applyUpstream reads one [upstream NAME] section into l.upstreams.
func (l *loader) applyUpstream(sec *ini.Section, ss *scanSection) {
	name := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(sec.Name()), "upstream"))
	switch {
	case name == "":
		l.add(ss.line, ErrValue, "[upstream]: missing NAME ([upstream NAME], used as proxy_pass = NAME)")
		return
	case !upstreamName.MatchString(name):
		l.addf(ss.line, ErrValue, "[upstream %s]: NAME must be one word of letters, digits, '_', '.' and '-'", name)
		return
	}
	if prev := l.upstreams[name]; prev != nil {
		l.addf(ss.line, ErrConflict, "[upstream %s]: already defined on line %d", name, prev.line)
		return
	}
	g := &upstreamGroup{line: ss.line, keepalive: DefaultProxyKeepalive}
	var scratch Server
	for _, k := range sec.Keys() {
		key := k.Name()
		switch key {
		case "server":
			l.applyRepeated(k, ss, nil, func(_ *loader, _ *Server, v string) error { return g.addServer(v) })
		case "balance", "health_check", "proxy_send_proxy_protocol", "proxy_keepalive":
			v, line, ok := l.keyValue(k, ss)
			if !ok {
				continue
			}
			l.line = line
			if err := serverKeys[key](l, &scratch, v); err != nil {
				l.addValue(line, key, err)
				continue
			}
			switch key {
			case "balance":
				g.balance = scratch.Balance
			case "health_check":
				g.healthCheck, g.healthEvery = scratch.HealthCheck, scratch.HealthEvery
			case "proxy_keepalive":
				g.keepalive = scratch.ProxyKeepalive
			default:
				g.sendProxy = scratch.ProxySendProxyProtocol
			}
		default:
			l.addf(firstLine(ss, key), ErrUnknownKey, "%s: not a key of an [upstream] section (server, balance, health_check, proxy_send_proxy_protocol, proxy_keepalive)", keyName(key))
		}
	}
	if len(g.pass) == 0 {
		l.addf(ss.line, ErrMissing, "[upstream %s]: no server = ADDR line", name)
	} else if onlyBackups(g.pass) {
		l.addf(ss.line, ErrValue, "[upstream %s]: every server is a backup (at least one must be a primary)", name)
	}
	if l.upstreams == nil {
		l.upstreams = map[string]*upstreamGroup{}
	}
	l.upstreams[name] = g
}

// addServer adds one server = ADDR [weight=N] [max_fails=N]
// [fail_timeout=T] [backup] [down] line to g.
func (g *upstreamGroup) addServer(v string) error {
	if strings.Contains(v, ",") {
		return fmt.Errorf("%q: one backend per server line (%s)", v, serverLineForm)
	}
	pass, tls, hosts, err := parseBackends(v)
	if err != nil {
		return err
	}
	if len(pass) != 1 {
		return fmt.Errorf("%q: one backend per server line (%s)", v, serverLineForm)
	}
	if len(g.pass) > 0 && tls != g.tls {
		return fmt.Errorf("%q: https:// and plain backends in one [upstream] (all use https://, or none)", v)
	}
	for _, u := range g.pass {
		if u.Addr == pass[0].Addr {
			return fmt.Errorf("%q: listed twice (use weight=N instead)", v)
		}
	}
	if len(g.pass) == MaxBackends {
		return fmt.Errorf("more than %d backends", MaxBackends)
	}
	g.pass, g.tls, g.hosts = append(g.pass, pass[0]), tls, append(g.hosts, hosts[0])
	return nil
}

// serverLineForm is how a server line is written, for messages.
const serverLineForm = "ADDR [weight=N] [max_fails=N] [fail_timeout=T] [backup] [down]"

// useUpstream applies proxy_pass = NAME to s when NAME is a group, and
// reports whether it was one.
func (l *loader) useUpstream(s *Server, v string) bool {
	g := l.upstreams[v]
	if g == nil || len(g.pass) == 0 {
		return false
	}
	g.used = true
	s.UpstreamName = v
	s.ProxyPass = append([]Upstream(nil), g.pass...)
	s.ProxyTLS, s.proxyHosts = g.tls, append([]string(nil), g.hosts...)
	if g.balance != "" {
		s.Balance = g.balance
	}
	if g.healthCheck != "" {
		s.HealthCheck, s.HealthEvery = g.healthCheck, g.healthEvery
	}
	s.ProxySendProxyProtocol = g.sendProxy
	s.ProxyKeepalive = g.keepalive
	return true
}

// checkUpstreamUse refuses balance, health_check or
// proxy_send_proxy_protocol beside a proxy_pass
// that names a group (they are the group's, in its [upstream] section),
// present being the section's keys and their lines.
func (l *loader) checkUpstreamUse(sec *ini.Section, present map[string]int) {
	if _, ok := present["proxy_pass"]; !ok {
		return
	}
	name := strings.TrimSpace(sec.Key("proxy_pass").String())
	g := l.upstreams[name]
	if g == nil {
		return
	}
	for _, k := range []string{"balance", "health_check", "proxy_send_proxy_protocol", "proxy_keepalive"} {
		if line, ok := present[k]; ok {
			l.addf(line, ErrConflict, "%s: proxy_pass names [upstream %s] (line %d): set %s there", k, name, g.line, k)
		}
	}
}

// warnUnusedUpstreams warns about a group no proxy_pass names.
func (l *loader) warnUnusedUpstreams() {
	for name, g := range l.upstreams {
		if !g.used {
			l.warnf(g.line, "[upstream %s]: no proxy_pass names it", name)
		}
	}
}
