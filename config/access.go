package config

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/nproxy/nproxy/htpasswd"
)

// Access control keys: allow/deny by address, HTTP basic authentication,
// and healthz.

// AccessRule is one allow or deny line.
type AccessRule struct {
	Allow bool
	// Prefix is the addresses the rule covers; the zero Prefix is "all".
	Prefix netip.Prefix
	Line   int // for the order: rules apply in file order, allow and deny mixed
}

// Matches reports whether the rule covers addr.
func (r AccessRule) Matches(addr netip.Addr) bool {
	return !r.Prefix.IsValid() || r.Prefix.Contains(addr)
}

// accessKeys are the [server] keys of this file; keys.go merges them.
var accessKeys = map[string]serverKey{
	"allow": func(l *loader, s *Server, v string) error { return l.addAccessRule(s, v, true) },
	"deny":  func(l *loader, s *Server, v string) error { return l.addAccessRule(s, v, false) },
	"auth_basic": func(_ *loader, s *Server, v string) error {
		v = unquote(v)
		if strings.ContainsAny(v, "\"\\") {
			return fmt.Errorf("%q: the realm may not hold '\"' or '\\'", v)
		}
		if err := checkHeaderValue(v); err != nil {
			return err
		}
		if v == "off" {
			v = ""
		}
		s.AuthBasic = v
		return nil
	},
	"auth_basic_user_file": func(l *loader, s *Server, v string) error {
		abs, err := l.readableFile(v)
		if err != nil {
			return err
		}
		f, err := htpasswd.Load(abs)
		if err != nil {
			return fileError(fmt.Sprintf("%q: %v", v, trimPrefix(err)))
		}
		if f.Len() == 0 {
			return fileError(fmt.Sprintf("%q: no user in the file", v))
		}
		s.AuthUserFile = abs
		return nil
	},
	"satisfy": func(_ *loader, s *Server, v string) error {
		m, err := oneOf(v, "all", "any")
		s.SatisfyAny = m == "any"
		return err
	},
	"healthz": func(_ *loader, s *Server, v string) (err error) {
		s.Healthz, err = parseSwitch(v)
		return err
	},
}

func init() {
	for k, f := range accessKeys {
		serverKeys[k] = f
	}
	repeatable["allow"] = true
	repeatable["deny"] = true
}

// trimPrefix drops the "htpasswd: " prefix of the package's errors.
func trimPrefix(err error) string {
	return strings.TrimPrefix(err.Error(), "htpasswd: ")
}

// addAccessRule parses "CIDR", "ADDRESS" or "all", several separated by
// spaces or commas, and appends a rule for each.
func (l *loader) addAccessRule(s *Server, v string, allow bool) error {
	for _, tok := range strings.Fields(strings.ReplaceAll(v, ",", " ")) {
		p, err := parsePrefix(tok)
		if err != nil {
			return err
		}
		s.Access = append(s.Access, AccessRule{Allow: allow, Prefix: p, Line: l.line})
	}
	return nil
}

// parsePrefix parses "all", an address or a CIDR prefix (masked: nginx
// warns about host bits and ignores them; here they are an error, since
// "10.0.0.1/8" may mean a typo).
func parsePrefix(tok string) (netip.Prefix, error) {
	if tok == "all" {
		return netip.Prefix{}, nil
	}
	if !strings.Contains(tok, "/") {
		a, err := netip.ParseAddr(tok)
		if err != nil || a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("%q: not an address, a CIDR prefix or all", tok)
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(tok)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q: not an address, a CIDR prefix or all", tok)
	}
	if p.Masked() != p {
		return netip.Prefix{}, fmt.Errorf("%q: host bits set (the network is %s)", tok, p.Masked())
	}
	if p.Addr().Is4In6() {
		return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96), nil
	}
	return p, nil
}

// sortAccess puts a section's allow and deny rules in file order.
func sortAccess(rules []AccessRule) {
	sort.SliceStable(rules, func(i, j int) bool { return rules[i].Line < rules[j].Line })
}

// checkAccess checks a section's auth keys against each other.
func (l *loader) checkAccess(s *Server, present map[string]int) {
	sortAccess(s.Access)
	realmLine, realm := present["auth_basic"]
	fileLine, file := present["auth_basic_user_file"]
	switch {
	case realm && s.AuthBasic != "" && s.AuthUserFile == "" && !file:
		l.addf(realmLine, ErrMissing, "auth_basic: needs auth_basic_user_file (the users and their passwords)")
	case file && !realm && s.AuthBasic == "":
		l.addf(fileLine, ErrMissing, "auth_basic_user_file: needs auth_basic = REALM to turn authentication on")
	}
}
