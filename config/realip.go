package config

import (
	"fmt"
	"strings"
)

// The real client address: real_ip_from and real_ip_header (the client
// behind trusted proxies' headers), and listen = ADDR proxy_protocol (the
// client a load balancer names in a PROXY protocol header).

// realIPKeys are the [server] keys of this file; keys.go merges them.
var realIPKeys = map[string]serverKey{
	"real_ip_from": func(_ *loader, s *Server, v string) error {
		for _, tok := range strings.Fields(strings.ReplaceAll(v, ",", " ")) {
			if tok == "all" {
				return fmt.Errorf("%q: name the proxies (trusting every address lets any client choose its address)", tok)
			}
			p, err := parsePrefix(tok)
			if err != nil {
				return err
			}
			s.RealIPFrom = append(s.RealIPFrom, p)
		}
		return nil
	},
	"real_ip_header": func(_ *loader, s *Server, v string) (err error) {
		switch strings.ToLower(v) {
		case "x-forwarded-for":
			s.RealIPHeader = "X-Forwarded-For"
		case "x-real-ip":
			s.RealIPHeader = "X-Real-IP"
		case "proxy_protocol":
			s.RealIPHeader = "proxy_protocol"
		default:
			return fmt.Errorf("%q: must be X-Forwarded-For, X-Real-IP or proxy_protocol", v)
		}
		return nil
	},
}

func init() {
	for k, f := range realIPKeys {
		serverKeys[k] = f
	}
	repeatable["real_ip_from"] = true
}

// parseListenValue parses listen: comma-separated addresses, each
// optionally followed by proxy_protocol.
func parseListenValue(v string) (addrs, proxyProto, defaults []string, err error) {
	var plain []string
	type opts struct{ proxy, def bool }
	var each []opts
	for _, part := range strings.Split(v, ",") {
		f := strings.Fields(part)
		if len(f) == 0 {
			plain = append(plain, "")
			each = append(each, opts{})
			continue
		}
		var o opts
		for _, w := range f[1:] {
			switch {
			case w == "proxy_protocol" && !o.proxy:
				o.proxy = true
			case w == "default_server" && !o.def:
				o.def = true
			default:
				return nil, nil, nil, fmt.Errorf("%q: expected ADDRESS [proxy_protocol] [default_server]", strings.TrimSpace(part))
			}
		}
		plain = append(plain, f[0])
		each = append(each, o)
	}
	addrs, err = parseListenList(strings.Join(plain, ","))
	if err != nil {
		return nil, nil, nil, err
	}
	for i, o := range each {
		if o.proxy {
			proxyProto = append(proxyProto, addrs[i])
		}
		if o.def {
			defaults = append(defaults, addrs[i])
		}
	}
	return addrs, proxyProto, defaults, nil
}

// checkRealIP checks real_ip_header against the other keys of a [server].
func (l *loader) checkRealIP(s *Server, present map[string]int) {
	line, ok := present["real_ip_header"]
	if !ok {
		return
	}
	if s.RealIPHeader == "proxy_protocol" {
		if len(s.ProxyProtocol) == 0 {
			l.addf(line, ErrMissing, "real_ip_header: proxy_protocol needs a listen address with proxy_protocol")
		}
		return
	}
	if _, from := present["real_ip_from"]; !from {
		l.addf(line, ErrMissing, "real_ip_header: needs real_ip_from (the proxies whose header is believed)")
	}
}

// checkProxyProtocol reports servers on one address that disagree on
// proxy_protocol: the header is read before any name is known.
func (l *loader) checkProxyProtocol(servers []*Server) {
	first := map[string]*Server{}
	for _, s := range servers {
		for _, addr := range s.Listen {
			prev, seen := first[addr]
			if !seen {
				first[addr] = s
				continue
			}
			if contains(prev.ProxyProtocol, addr) != contains(s.ProxyProtocol, addr) {
				l.addf(s.listenLine, ErrConflict, "listen %s: proxy_protocol on one [server] of this address and not on the one on line %d", addr, prev.Line)
			}
		}
	}
}

// checkDefaultServer reports a second default_server for one address.
func (l *loader) checkDefaultServer(servers []*Server) {
	def := map[string]*Server{}
	for _, s := range servers {
		for _, addr := range s.DefaultServer {
			if prev, seen := def[addr]; seen {
				l.addf(s.listenLine, ErrConflict, "listen %s default_server: the [server] on line %d is already this address's default", addr, prev.Line)
				continue
			}
			def[addr] = s
		}
	}
}
