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
func parseListenValue(v string) (addrs, proxyProto []string, err error) {
	var plain []string
	for _, part := range strings.Split(v, ",") {
		f := strings.Fields(part)
		switch {
		case len(f) == 2 && f[1] == "proxy_protocol":
			plain = append(plain, f[0])
		case len(f) >= 2:
			return nil, nil, fmt.Errorf("%q: expected ADDRESS [proxy_protocol]", strings.TrimSpace(part))
		default:
			plain = append(plain, strings.TrimSpace(part))
		}
	}
	addrs, err = parseListenList(strings.Join(plain, ","))
	if err != nil {
		return nil, nil, err
	}
	for i, part := range strings.Split(v, ",") {
		if f := strings.Fields(part); len(f) == 2 {
			proxyProto = append(proxyProto, addrs[i])
		}
	}
	return addrs, proxyProto, nil
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
