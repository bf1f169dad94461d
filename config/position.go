package config

import (
	"context"
	"fmt"
	"net"
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
			if addrs, _, err := parseListenValue(s.value); err == nil && slices.Contains(addrs, addr) {
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
// its line. `nproxy -t`, the master's start and each reload call it; Parse
// does not, so that reading a file never waits on DNS.
func (c *Config) CheckUpstreamHosts() error {
	var probs Errors
	failed := map[string]error{}
	done := map[string]bool{}
	groups := map[string]bool{}
	for _, sec := range c.layout {
		if isUpstreamSection(sec.header) {
			groups[strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(sec.header), "upstream"))] = true
		}
	}
	for _, sec := range c.layout {
		for _, s := range sec.settings {
			inUpstream := isUpstreamSection(sec.header)
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
			for _, h := range hosts {
				if h == "" || h == "localhost" {
					continue
				}
				if !done[h] {
					done[h] = true
					failed[h] = lookupHost(h)
				}
				if err := failed[h]; err != nil {
					probs = append(probs, &Problem{File: c.File, Line: s.line, Err: ErrValue,
						Msg: fmt.Sprintf("%s: cannot resolve %q: %v", s.key, h, err)})
				}
			}
		}
	}
	if len(probs) == 0 {
		return nil
	}
	probs.sortByLine()
	return probs
}

// lookupHost resolves host within ResolveTimeout.
func lookupHost(host string) error {
	ctx, cancel := context.WithTimeout(context.Background(), ResolveTimeout)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
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
	if len(addrs) == 0 {
		return fmt.Errorf("no address")
	}
	return nil
}
