package config

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Positions of keys for problems found after loading: a socket that
// cannot be bound, an upstream host name that does not resolve. The
// loader's record of every value (effective.go) keeps their lines, so
// these problems read "FILE:LINE: ..." as the loader's own do.

// ListenAt returns "FILE:LINE" of the listen key that names addr (in its
// normal form, as Server.Listen holds it), or the file's name alone when
// no key does.
func (c *Config) ListenAt(addr string) string {
	for _, sec := range c.layout {
		for _, s := range sec.settings {
			if s.key != "listen" && s.key != "status_listen" {
				continue
			}
			if addrs, _, _, err := parseListenValue(s.value); err == nil && slices.Contains(addrs, addr) {
				return c.File + ":" + strconv.Itoa(s.line)
			}
		}
	}
	return c.File
}

// ResolveTimeout bounds the lookup of one host name by CheckUpstreamHosts.
const ResolveTimeout = 5 * time.Second

// CheckUpstreamHosts resolves every host name of the proxy_pass and
// [upstream] server lines, as the workers will when they start, and
// returns an Errors with one problem per name that does not resolve, at
// its line. Every address of a name becomes a backend (proxy.Group), so
// it also reports, at the line that crosses it, a group with more than
// MaxBackends addresses. `nproxy -t`, the master's start and each reload
// call it; Parse does not, so that reading a file never waits on DNS.
func (c *Config) CheckUpstreamHosts() error {
	var probs Errors
	type answer struct {
		n   int
		err error
	}
	answers := map[string]answer{}
	groups := map[string]bool{}
	for _, sec := range c.layout {
		if isUpstreamSection(sec.header) {
			groups[strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(sec.header), "upstream"))] = true
		}
	}
	for _, sec := range c.layout {
		inUpstream := isUpstreamSection(sec.header)
		total := 0 // addresses of the [upstream] section so far
		for _, s := range sec.settings {
			if !(s.key == "proxy_pass" && !inUpstream || s.key == "server" && inUpstream) {
				continue
			}
			if s.key == "proxy_pass" && groups[s.value] {
				continue // its [upstream]'s lines are checked
			}
			_, _, hosts, err := parseProxyPass(s.value)
			if err != nil {
				continue
			}
			if !inUpstream {
				total = 0 // each proxy_pass is a group of its own
			}
			before := total
			for _, h := range hosts {
				if h == "" || h == "localhost" {
					total++ // an address, or a name /etc/hosts answers
					continue
				}
				a, ok := answers[h]
				if !ok {
					a.n, a.err = lookupHostCount(h)
					answers[h] = a
				}
				if a.err != nil {
					probs = append(probs, &Problem{File: c.File, Line: s.line, Err: ErrValue,
						Msg: fmt.Sprintf("%s: cannot resolve %q: %v", s.key, h, a.err)})
					continue
				}
				total += a.n
			}
			if total > MaxBackends && before <= MaxBackends {
				probs = append(probs, &Problem{File: c.File, Line: s.line, Err: ErrValue,
					Msg: fmt.Sprintf("%s: %d backends once its names are resolved (every address of a name is one), more than %d", s.key, total, MaxBackends)})
			}
		}
	}
	if len(probs) == 0 {
		return nil
	}
	probs.sortByLine()
	return probs
}

// LookupNetIP resolves a host name to its addresses. It is
// net.DefaultResolver.LookupNetIP; tests replace it (CheckUpstreamHosts
// and the workers' proxy groups both call it) to answer without DNS.
var LookupNetIP = func(ctx context.Context, host string) ([]netip.Addr, error) {
	return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
}

// lookupHostCount resolves host within ResolveTimeout and returns how
// many distinct addresses it has.
func lookupHostCount(host string) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), ResolveTimeout)
	defer cancel()
	addrs, err := LookupNetIP(ctx, host)
	if err != nil {
		return 0, LookupError(err)
	}
	seen := map[netip.Addr]bool{}
	for _, a := range addrs {
		seen[a.Unmap()] = true
	}
	if len(seen) == 0 {
		return 0, fmt.Errorf("no address")
	}
	return len(seen), nil
}

// LookupError makes a resolver's error short: "no such host", "no
// answer within 5s", or the resolver's own words without "lookup ".
func LookupError(err error) error {
	if de, ok := err.(*net.DNSError); ok {
		switch {
		case de.IsNotFound:
			return fmt.Errorf("no such host")
		case de.IsTimeout:
			return fmt.Errorf("no answer within %v", ResolveTimeout)
		}
		return fmt.Errorf("%s", strings.TrimPrefix(de.Err, "lookup "))
	}
	return err
}
