// Package config reads and validates nproxy's INI configuration.
package config

import (
	"regexp"
	"time"
)

// Config is a validated configuration: every value has been checked and
// defaults have been filled in, so the rest of the program never
// re-validates.
type Config struct {
	File string // path it was read from ("<embedded>" for the default)

	WorkerProcesses   int    // resolved: "auto" becomes runtime.NumCPU()
	Backend           string // "auto", "epoll" or "io_uring"
	WorkerConnections int
	PIDFile           string // "" when none
	ErrorLog          string // "stderr" or a path
	LogLevel          string // "error", "warn", "info" or "debug"

	Servers []*Server
}

// Server is one [server] section.
type Server struct {
	Line int // line of the section header, for messages

	Listen      []string // normalized "host:port", at least one
	ServerNames []string // exact names and "*.example.com" wildcards, lower case
	StaticRoot  string   // absolute, cleaned; "" when not serving files
	Index       []string // default ["index.html"]
	TryFiles    []string // nginx syntax tokens; the last may be "=404"

	ProxyPass   []Upstream
	ProxyPrefix string // default "/"
	Balance     string // "round_robin" or "least_conn"
	HealthCheck string // optional active probe path, "" = passive only
	HealthEvery time.Duration

	KeepaliveTimeout    time.Duration // default 75s
	HeaderTimeout       time.Duration // default 60s
	BodyTimeout         time.Duration // default 60s
	SendTimeout         time.Duration // default 60s
	ProxyConnectTimeout time.Duration // default 60s
	ProxyTimeout        time.Duration // default 60s
	MaxBodySize         int64         // default 1 MiB; 0 = unlimited

	AccessLog string // "" when off
	Metrics   bool
	RateLimit float64 // requests per second, 0 = off
	RateBurst int
	Rewrites  []Rewrite
	TLSCert   string
	TLSKey    string
}

// Upstream is one proxy_pass backend.
type Upstream struct {
	Addr   string // "host:port"
	Weight int    // default 1
}

// Rewrite is one rewrite rule: a path matching Regexp is replaced by
// Replacement, where $1..$9 name the captures.
type Rewrite struct {
	Regexp      *regexp.Regexp
	Replacement string
}
