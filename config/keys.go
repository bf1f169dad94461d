package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// NotImplemented lists keys whose feature this build does not have yet,
// mapped to the feature's name. Such a key is reported as
// "KEY: FEATURE is not available in this build" instead of being accepted
// and ignored, so `nproxy -t` fails honestly. Remove a key from the map in
// the change that implements its feature.
var NotImplemented = map[string]string{}

// globalKey applies one global key's value to c.
type globalKey func(l *loader, c *Config, v string) error

// serverKey applies one [server] key's value to s.
type serverKey func(l *loader, s *Server, v string) error

// globalKeys are the keys allowed before the first section.
var globalKeys = map[string]globalKey{
	"worker_processes": func(_ *loader, c *Config, v string) (err error) {
		if v == "auto" {
			c.WorkerProcesses = min(numCPU(), MaxWorkers)
			return nil
		}
		c.WorkerProcesses, err = parseCount(v, 1, MaxWorkers)
		if err != nil {
			return fmt.Errorf("%q: must be auto or 1..%d", v, MaxWorkers)
		}
		return nil
	},
	"backend": func(_ *loader, c *Config, v string) (err error) {
		c.Backend, err = oneOf(v, "auto", "epoll", "io_uring")
		return err
	},
	"worker_connections": func(_ *loader, c *Config, v string) (err error) {
		c.WorkerConnections, err = parseCount(v, 1, maxWorkerConnections)
		return err
	},
	"pid_file": func(l *loader, c *Config, v string) (err error) {
		c.PIDFile, err = l.outputPath(v)
		return err
	},
	"error_log": func(l *loader, c *Config, v string) (err error) {
		if v == "stderr" {
			c.ErrorLog = v
			return nil
		}
		c.ErrorLog, err = l.logDest(v) // syslog.go
		return err
	},
	"log_level": func(_ *loader, c *Config, v string) (err error) {
		c.LogLevel, err = oneOf(v, "error", "warn", "info", "debug")
		return err
	},
	"worker_shutdown_timeout": globalDuration(maxClientTimeout, func(c *Config) *time.Duration { return &c.WorkerShutdownTimeout }),
	"drain_idle_grace":        globalDuration(maxDrainIdleGrace, func(c *Config) *time.Duration { return &c.DrainIdleGrace }),
}

// maxDrainIdleGrace bounds drain_idle_grace: a grace longer than a minute
// would only keep a reload's old workers alive for connections that
// stopped asking long ago.
const maxDrainIdleGrace = time.Minute

// maxWorkerConnections bounds worker_connections by the kernel's default
// fs.nr_open (1<<20), the most descriptors one process can have.
const maxWorkerConnections = 1 << 20

// serverKeys are the keys allowed in a [server] section.
var serverKeys = map[string]serverKey{
	"listen": func(_ *loader, s *Server, v string) (err error) {
		s.Listen, s.ProxyProtocol, s.DefaultServer, err = parseListenValue(v)
		return err
	},
	"server_name": func(_ *loader, s *Server, v string) (err error) {
		s.ServerNames, err = parseServerNames(v)
		return err
	},
	"static_root": func(l *loader, s *Server, v string) (err error) {
		s.StaticRoot, err = l.directory(v)
		return err
	},
	"index": func(_ *loader, s *Server, v string) (err error) {
		s.Index, err = parseIndex(v)
		return err
	},
	"try_files": func(_ *loader, s *Server, v string) (err error) {
		s.TryFiles, err = parseTryFiles(v)
		return err
	},
	"proxy_pass": func(l *loader, s *Server, v string) (err error) {
		if v, s.ProxyURI, err = l.proxyURI(v); err != nil {
			return err
		}
		if l.useUpstream(s, v) {
			return nil
		}
		s.UpstreamName = ""
		s.ProxyPass, s.ProxyTLS, s.proxyHosts, err = parseProxyPass(v)
		return err
	},
	"proxy_prefix": func(_ *loader, s *Server, v string) error {
		if !strings.HasPrefix(v, "/") || strings.ContainsAny(v, " \t") {
			return fmt.Errorf("%q: must be a path starting with '/'", v)
		}
		s.ProxyPrefix = v
		return nil
	},
	"balance": func(_ *loader, s *Server, v string) (err error) {
		s.Balance, err = oneOf(v, "round_robin", "least_conn")
		return err
	},
	"health_check": func(_ *loader, s *Server, v string) (err error) {
		s.HealthCheck, s.HealthEvery, err = parseHealthCheck(v)
		return err
	},
	"keepalive_timeout": func(_ *loader, s *Server, v string) (err error) {
		// 0 turns keep-alive off, as in nginx.
		s.KeepaliveTimeout, err = parseDuration(v, maxClientTimeout)
		return err
	},
	"keepalive_requests": func(_ *loader, s *Server, v string) (err error) {
		// A connection counts its requests in 32 bits.
		const maxKeepaliveRequests = 1<<31 - 1
		s.KeepaliveRequests, err = parseCount(v, 0, maxKeepaliveRequests)
		return err
	},
	"header_timeout":        positiveDuration(maxClientTimeout, func(s *Server) *time.Duration { return &s.HeaderTimeout }),
	"body_timeout":          positiveDuration(maxClientTimeout, func(s *Server) *time.Duration { return &s.BodyTimeout }),
	"send_timeout":          positiveDuration(maxClientTimeout, func(s *Server) *time.Duration { return &s.SendTimeout }),
	"proxy_connect_timeout": positiveDuration(maxConnectTimeout, func(s *Server) *time.Duration { return &s.ProxyConnectTimeout }),
	"proxy_timeout":         positiveDuration(maxProxyTimeout, func(s *Server) *time.Duration { return &s.ProxyTimeout }),
	"max_body_size": func(_ *loader, s *Server, v string) (err error) {
		s.MaxBodySize, err = parseSize(v)
		return err
	},
	"access_log": accessLogKey, // logformat.go
	"metrics": func(_ *loader, s *Server, v string) (err error) {
		s.Metrics, err = parseSwitch(v)
		return err
	},
	"rate_limit": func(_ *loader, s *Server, v string) (err error) {
		s.RateLimit, err = parseRate(v)
		return err
	},
	"rate_burst": func(_ *loader, s *Server, v string) (err error) {
		s.RateBurst, err = parseCount(v, 0, maxRateBurst)
		return err
	},
	"rate_limit_ipv6_prefix": func(_ *loader, s *Server, v string) (err error) {
		s.RateLimitIPv6Prefix, err = parseCount(v, minRateLimitIPv6Prefix, 128)
		return err
	},
	"underscores_in_headers": func(_ *loader, s *Server, v string) (err error) {
		s.UnderscoresInHeaders, err = parseSwitch(v)
		return err
	},
	"return": func(l *loader, s *Server, v string) (err error) {
		s.Return, err = parseReturn(v, l.parseVars)
		return err
	},
	"rewrite": func(_ *loader, s *Server, v string) error {
		r, err := parseRewrite(v)
		if err != nil {
			return err
		}
		s.Rewrites = append(s.Rewrites, r)
		return nil
	},
}

func init() {
	// The TLS keys live in tls.go, beside the checks that pair and load
	// them.
	for k, f := range tlsKeys {
		serverKeys[k] = f
	}
}

// maxRateBurst bounds rate_burst; a larger burst is no limit at all.
const maxRateBurst = 1 << 30

// minRateLimitIPv6Prefix is the shortest rate_limit_ipv6_prefix: a /32 is
// what a registry allocates to a whole provider (RFC 6177), so a shorter
// prefix would put unrelated networks in one bucket.
const minRateLimitIPv6Prefix = 32

// Upper bounds of the duration keys (finding 15 of issue 9). Every armed
// timeout becomes a deadline in UnixNano on the reactor's timing wheel,
// and one near the int64 limit (keepalive_timeout = 100000d) wrapped
// around to the past and fired at the next 10 ms tick. The wheel itself
// has no horizon (an entry keeps its absolute tick and waits out as many
// turns as it needs), so the bounds only have to keep now+d far from
// overflow, which any of them does by centuries; each is chosen instead as
// the longest value that still means something for its key, so that a
// typo in a unit (100000d for 100000ms) is an error at -t, not a silent
// "never".
const (
	// maxClientTimeout bounds keepalive_timeout, header_timeout,
	// body_timeout and send_timeout: a client idle or stalled for a day
	// only holds a connection slot (nginx's defaults are 60-75 s).
	maxClientTimeout = 24 * time.Hour

	// maxConnectTimeout bounds proxy_connect_timeout: with Linux's
	// default tcp_syn_retries (6) the kernel gives up on a connect after
	// about two minutes whatever the timeout says; ten minutes leaves
	// room for raised retries.
	maxConnectTimeout = 10 * time.Minute

	// maxProxyTimeout bounds proxy_timeout, also the idle timeout of an
	// upgraded (WebSocket) tunnel and of long-poll or streaming
	// responses, which may legitimately sit idle for long: a week.
	maxProxyTimeout = 7 * day

	// maxHealthEvery bounds the health_check interval: a backend probed
	// less than daily is not being checked.
	maxHealthEvery = 24 * time.Hour
)

// repeatable lists the keys that may appear more than once in a section.
// tls_cert and tls_key repeat in pairs, one per certificate (ECDSA and
// RSA at once, as nginx allows).
var repeatable = map[string]bool{"rewrite": true, "tls_cert": true, "tls_key": true}

// globalDuration returns the globalKey for a duration that must be > 0
// and at most max.
func globalDuration(max time.Duration, field func(*Config) *time.Duration) globalKey {
	return func(_ *loader, c *Config, v string) error {
		d, err := parseDuration(v, max)
		if err != nil {
			return err
		}
		if d == 0 {
			return fmt.Errorf("%q: must be greater than zero", v)
		}
		*field(c) = d
		return nil
	}
}

// positiveDuration returns the serverKey for a timeout that must be > 0
// and at most max.
func positiveDuration(max time.Duration, field func(*Server) *time.Duration) serverKey {
	return func(_ *loader, s *Server, v string) error {
		d, err := parseDuration(v, max)
		if err != nil {
			return err
		}
		if d == 0 {
			return fmt.Errorf("%q: must be greater than zero", v)
		}
		*field(s) = d
		return nil
	}
}

// resolve makes p absolute against the loader's base directory.
func (l *loader) resolve(p string) string {
	if !filepath.IsAbs(p) {
		p = filepath.Join(l.base, p)
	}
	return filepath.Clean(p)
}

// directory resolves p and checks that it is an existing directory.
func (l *loader) directory(p string) (string, error) {
	abs := l.resolve(p)
	fi, err := os.Stat(abs)
	switch {
	case err != nil:
		return "", fileError(fmt.Sprintf("%q: %v", p, unwrapPathError(err)))
	case !fi.IsDir():
		return "", fileError(fmt.Sprintf("%q: not a directory", p))
	}
	return abs, nil
}

// outputPath resolves p, a file the server will create or append to, and
// checks that its directory exists and p is not a directory.
func (l *loader) outputPath(p string) (string, error) {
	abs := l.resolve(p)
	if fi, err := os.Stat(abs); err == nil && fi.IsDir() {
		return "", fileError(fmt.Sprintf("%q: is a directory", p))
	}
	dir := filepath.Dir(abs)
	fi, err := os.Stat(dir)
	switch {
	case err != nil:
		return "", fileError(fmt.Sprintf("%q: its directory: %v", p, unwrapPathError(err)))
	case !fi.IsDir():
		return "", fileError(fmt.Sprintf("%q: its directory is not a directory", p))
	}
	return abs, nil
}

// readableFile resolves p and checks that it is a regular file this
// process can open for reading.
func (l *loader) readableFile(p string) (string, error) {
	abs := l.resolve(p)
	// Stat before opening: opening a FIFO for reading would block.
	fi, err := os.Stat(abs)
	if err != nil {
		return "", fileError(fmt.Sprintf("%q: %v", p, unwrapPathError(err)))
	}
	if !fi.Mode().IsRegular() {
		return "", fileError(fmt.Sprintf("%q: not a regular file", p))
	}
	f, err := os.Open(abs)
	if err != nil {
		return "", fileError(fmt.Sprintf("%q: %v", p, unwrapPathError(err)))
	}
	f.Close()
	return abs, nil
}

// unwrapPathError drops the operation and path from an *os.PathError: the
// message names the path already.
func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// suggest returns the known key closest to an unknown one, or "" when none
// is within two edits.
func suggest(key string) string {
	best, bestDist := "", 3
	for _, table := range []map[string]bool{keyNames(globalKeys), keyNames(serverKeys), keyNames(locationOnlyKeys)} {
		for k := range table {
			if d := editDistance(key, k); d < bestDist || d == bestDist && k < best {
				best, bestDist = k, d
			}
		}
	}
	return best
}

// keyNames returns the key set of a key table.
func keyNames[V any](m map[string]V) map[string]bool {
	out := make(map[string]bool, len(m))
	for k := range m {
		out[k] = true
	}
	return out
}

// editDistance is the Levenshtein distance between a and b, in bytes.
// Both are short (key names); a long a is cut off early.
func editDistance(a, b string) int {
	const maxLen = 64 // no key is longer; beyond it nothing is "close"
	if len(a) > maxLen {
		return maxLen
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
