package config

import (
	"crypto/tls"
	"net/netip"
	"regexp"
	"runtime"
	"strings"
	"time"

	"github.com/nproxy/nproxy/accesslog"
	"github.com/nproxy/nproxy/vars"
)

// Limits from the architecture document.
const (
	// MaxWorkers is the most worker processes (NP_MAX_WORKERS);
	// worker_processes = auto is capped at it.
	MaxWorkers = 64

	// MaxBackends is the most proxy_pass backends of one server
	// (NP_MAX_BACKENDS).
	MaxBackends = 64
)

// Defaults for keys a file leaves out. They follow nginx where nginx has
// the same setting.
const (
	DefaultWorkerConnections = 10240
	DefaultKeepaliveTimeout  = 75 * time.Second // nginx keepalive_timeout
	DefaultTimeout           = 60 * time.Second // every other timeout, as nginx
	DefaultMaxBodySize       = 1 << 20          // nginx client_max_body_size 1m
	DefaultHealthEvery       = 5 * time.Second  // health_check without an interval

	// DefaultProxyKeepalive is proxy_keepalive's default: idle upstream
	// connections kept per backend by each worker. Large enough that a
	// worker with a thousand requests in flight to one backend (HTTP/2
	// clients multiplex that many) reuses its connections instead of
	// dialing anew, as HAProxy's unbounded idle pools do; an idle
	// connection costs a socket and a small struct, no buffer.
	DefaultProxyKeepalive = 1024
	// MaxProxyKeepalive bounds proxy_keepalive.
	MaxProxyKeepalive = 65536

	// DefaultWorkerShutdownTimeout is worker_shutdown_timeout's default:
	// the hard limit on a draining worker (reload, graceful stop), after
	// which the connections still open are closed. nginx has the key but
	// no limit by default; one is kept so that a stuck client cannot hold
	// an old worker for ever.
	DefaultWorkerShutdownTimeout = 30 * time.Second

	// DefaultDrainIdleGrace is drain_idle_grace's default: how long a
	// draining worker keeps an idle keep-alive connection open, waiting
	// for a request that may already be on the wire, before it closes it.
	// A request that left the client before the drain began arrives
	// within one round trip; a second covers any round trip but a
	// satellite link's, and keeps a reload's old workers short-lived.
	DefaultDrainIdleGrace = time.Second

	// DefaultRateLimitIPv6Prefix is rate_limit_ipv6_prefix's default: a
	// /64 is the smallest IPv6 subnet a site or a home gets (RFC 6177),
	// so one client can use every address in it.
	DefaultRateLimitIPv6Prefix = 64
)

// defaultHealthEvery is DefaultHealthEvery for the parsers.
const defaultHealthEvery = DefaultHealthEvery

// numCPU is runtime.NumCPU, a variable so tests can fix it.
var numCPU = runtime.NumCPU

// Config is a validated configuration: every value has been checked and
// defaults have been filled in, so the rest of the program never
// re-validates.
type Config struct {
	File string // path it was read from ("<embedded>" for the default)
	// Files are the certificate, key and CA files the TLS keys name and
	// the .wasm files module lines name, by absolute path, with the
	// content validated: a master hands them
	// to its workers with the configuration's text (ParseFiles), so a
	// worker started later serves what was checked, not what the paths
	// hold by then.
	Files map[string][]byte

	WorkerProcesses   int    // resolved: "auto" becomes runtime.NumCPU()
	Backend           string // "auto", "epoll" or "io_uring"
	WorkerConnections int
	PIDFile           string // "" when none
	ErrorLog          string // "stderr" or a path
	LogLevel          string // "error", "warn", "info" or "debug"
	// ErrorLogFormat is error_log_format: "text" (the default) or
	// "json" (errorlog.go).
	ErrorLogFormat string
	// User is user = NAME [GROUP] (user.go): who the workers run as
	// when the master is root; nil when not set.
	User *RunAs

	// WorkerShutdownTimeout is worker_shutdown_timeout (default 30s): the
	// longest a worker drains on a reload or a graceful stop before it
	// closes what is still open.
	WorkerShutdownTimeout time.Duration
	// DrainIdleGrace is drain_idle_grace (default 1s): a draining worker
	// closes a keep-alive connection that sits idle, with no byte
	// received, for this long; a busy one ends with a Connection: close
	// response instead.
	DrainIdleGrace time.Duration
	// ResolveInterval is resolve_interval (resolve.go): how often each
	// worker resolves the upstream host names again; 0 (the default):
	// only when the configuration loads.
	ResolveInterval time.Duration

	// StatusListen is status_listen (config/status.go): the address of
	// the [server] (Server.Status) that alone answers /metrics and
	// /healthz; "" when they answer on every [server].
	StatusListen string
	statusLine   int

	// Modules are the global module lines (module.go), in file order:
	// they run first in every [server]'s routing chain.
	Modules []*Module

	Servers []*Server

	// LogFormats are the log_format lines by NAME (the built-in
	// combined and json are not in it).
	LogFormats map[string]*accesslog.Format

	// layout is every value the file set, by section, for Effective.
	layout []*recSection

	// Warnings are what is questionable but not wrong, such as a
	// certificate that expires within 30 days: each one line
	// "FILE:LINE: warning: MESSAGE", in line order. They never stop a
	// configuration from loading; `nproxy -t` prints them to stderr and
	// still says "configuration ok".
	Warnings []string
}

// Server is one [server] section.
type Server struct {
	Line int // line of the section header, for messages

	Listen      []string // normalized "host:port", at least one
	ServerNames []string // exact names and "*.example.com" wildcards, lower case
	StaticRoot  string   // absolute, cleaned; "" when not serving files
	Index       []string // default ["index.html"]
	TryFiles    []string // nginx syntax tokens; the last may be "=404"
	// Autoindex is autoindex = on: a directory without an index file is
	// answered with a listing of its entries rather than 403. Off by
	// default in a file, as nginx; on in the embedded default.
	Autoindex bool
	// DenyHidden is hidden_files = deny: a path with a segment that
	// starts with '.' (.git/, .env, .htpasswd), except a leading
	// /.well-known/, is answered 404 as if it did not exist. A file's
	// default is allow, as nginx serves such paths; the embedded default
	// denies them.
	DenyHidden bool

	ProxyPass []Upstream
	// ProxyURI is the URI part of proxy_pass in a [location ~ REGEX]
	// (proxy_pass = http://b/$1$is_args$args): the request target sent
	// upstream, in place of the client's path and query, as nginx's
	// proxy_pass with variables. Empty otherwise.
	ProxyURI vars.Template
	// UpstreamName is the [upstream NAME] group proxy_pass names; "" when
	// proxy_pass lists its backends itself. Every route naming one group
	// shares one runtime group per worker (its pools, balancer and
	// health).
	UpstreamName string
	ProxyPrefix  string // default "/"
	Balance      string // "round_robin" or "least_conn"
	// HealthCheck and HealthEvery come from health_check = PATH [INTERVAL],
	// a key of ours (nginx has it only in its commercial edition): when
	// set, each backend is sent GET PATH every HealthEvery (default 5s)
	// and taken out of rotation while it does not answer 2xx or 3xx.
	// Without it, health is passive only: failed connections count.
	HealthCheck string        // optional active probe path, "" = passive only
	HealthEvery time.Duration // 0 when HealthCheck is ""

	KeepaliveTimeout time.Duration // default 75s
	// KeepaliveRequests is the number of requests one client connection
	// serves before it is closed (HTTP/1.1: that response carries
	// Connection: close; HTTP/2: GOAWAY after that stream), nginx's
	// keepalive_requests; 0, the default, is no limit.
	KeepaliveRequests   int
	HeaderTimeout       time.Duration // default 60s
	BodyTimeout         time.Duration // default 60s
	SendTimeout         time.Duration // default 60s
	ProxyConnectTimeout time.Duration // default 60s
	ProxyTimeout        time.Duration // default 60s
	MaxBodySize         int64         // default 1 MiB; 0 = unlimited

	AccessLog string // "" when off
	// AccessFormat is access_log's FORMAT compiled (logformat.go):
	// accesslog.Combined by default; nil when AccessLog is "".
	AccessFormat *accesslog.Format
	Metrics      bool
	RateLimit    float64 // requests per second, 0 = off
	RateBurst    int     // requests allowed above the rate at once (nginx burst); the bucket holds RateBurst+1
	// RateLimitIPv6Prefix is the prefix length, 32..128 (default 64),
	// that keys an IPv6 client in the rate limiter: every address in one
	// such prefix shares one bucket, since a client typically holds a
	// whole /64 and could otherwise pick a fresh address per request.
	// IPv4 clients are keyed by their full address.
	RateLimitIPv6Prefix int
	// UnderscoresInHeaders is nginx's underscores_in_headers. Off (the
	// default), request header fields whose name contains '_' are
	// dropped, not forwarded: X_Forwarded_For and X-Forwarded-For may be
	// one header to a backend that folds '_' into '-' (CGI, many
	// frameworks), so a client could smuggle one past a proxy that only
	// rewrites the other. On, they are forwarded like any other field.
	UnderscoresInHeaders bool

	Rewrites []Rewrite

	// Locations are the [location MATCH] sections after this [server],
	// in file order.
	Locations []*Location
	// StripPrefix is strip_prefix (a [location] key, default off): the
	// path the location's prefix matched is cut from the request path
	// before it is forwarded or looked up, and a '/' is kept at its
	// front (nginx's proxy_pass http://up/ in location /api/). alias
	// sets it together with StaticRoot.
	StripPrefix bool
	// AliasPath is set by an alias that names the captures of its
	// [location ~ REGEX] ("/data/img/$1"): the file's path under
	// StaticRoot as a regexp.Expand template ("/${1}"), expanded with
	// the regex's match of the request path. "" otherwise.
	AliasPath string
	// Return is return = CODE [URL or TEXT]: every request the [server]
	// or [location] handles is answered with it. nil when not set.
	Return *Return

	// AddHeaders are the add_header lines, in file order; a
	// [location]'s are its own after its [server]'s of other names.
	AddHeaders []AddHeader
	// ProxySetHeaders are the proxy_set_header lines, merged the same
	// way.
	ProxySetHeaders []SetHeader
	// HideHeaders are the hide_header names: headers of proxied
	// responses not passed on to the client; a [location]'s are its
	// [server]'s and its own.
	HideHeaders []string
	// ProxySendProxyProtocol is proxy_send_proxy_protocol: 1 or 2 when
	// every new connection to a backend starts with a PROXY protocol
	// header of that version naming the client (HAProxy's send-proxy and
	// send-proxy-v2), 0 (off, the default) otherwise. A property of the
	// backends: in an [upstream] section for a group.
	ProxySendProxyProtocol int
	// ProxyKeepalive is proxy_keepalive: how many idle keep-alive
	// connections each worker keeps per backend (nginx's keepalive in an
	// upstream block, HAProxy's pool-max-conn); 0 closes every upstream
	// connection after its response. A property of the backends: in an
	// [upstream] section for a group.
	ProxyKeepalive int
	// ProxyForwarded is proxy_forwarded (default off): requests to the
	// backends carry an RFC 7239 Forwarded field beside X-Forwarded-For.
	ProxyForwarded bool
	// ServerTokens is server_tokens (default on): off leaves the Server
	// header out of every response of the [server].
	ServerTokens bool

	// Access are the allow and deny rules in file order; the first that
	// covers the client decides, and a client none covers is allowed. A
	// [location] with allow or deny lines has only its own (as nginx).
	Access []AccessRule
	// AuthBasic is auth_basic's realm: HTTP basic authentication is
	// asked for when it is set (and AuthUserFile with it); "" when off.
	AuthBasic string
	// AuthUserFile is auth_basic_user_file, an absolute path to an
	// htpasswd file (package htpasswd), read when the configuration is
	// loaded.
	AuthUserFile string
	// SatisfyAny is satisfy = any (nginx's): a request passes when its
	// address is allowed or its credentials are good; with all (the
	// default) it needs both. Only a route with both allow/deny and
	// auth_basic tells the two apart.
	SatisfyAny bool
	// Healthz is healthz (default on): the [server] answers GET
	// /healthz itself.
	Healthz bool
	// Status marks the [server] the loader adds for status_listen: it
	// answers /healthz and /metrics only.
	Status bool
	// HTTP2 is http2 (default on for a [server] with TLS, off in the
	// clear): TLS listeners offer h2 by ALPN and plain ones take h2c with
	// prior knowledge (config/http2.go).
	HTTP2 bool

	// ProxyProtocol lists the Listen addresses marked proxy_protocol:
	// connections to them start with a PROXY protocol header, whose
	// source address is the client's.
	ProxyProtocol []string
	// DefaultServer lists the Listen addresses marked default_server:
	// this block answers their requests whose Host (or TLS SNI) no
	// block names, instead of the address's first block (nginx's
	// listen ... default_server). At most one block per address.
	DefaultServer []string
	// RealIPFrom is real_ip_from: the proxies whose RealIPHeader is
	// believed.
	RealIPFrom []netip.Prefix
	// Gzip is gzip = on: responses of GzipTypes at least GzipMinLength
	// long are compressed for clients that accept gzip.
	Gzip          bool
	GzipTypes     []string // default DefaultGzipTypes
	GzipMinLength int64    // default DefaultGzipMinLength
	GzipLevel     int      // gzip_comp_level, 1..9, default 1 (nginx's)
	// GzipStatic is gzip_static = on: a file's FILE.gz (or FILE.br for
	// clients that accept brotli) is sent instead when it exists.
	GzipStatic bool

	// ErrorPages are the error_page lines; a [location]'s are its own,
	// then its [server]'s for the codes it does not name.
	ErrorPages []ErrorPage
	// ProxyInterceptErrors is proxy_intercept_errors (default off, as
	// nginx): a backend response of 300..599 (not 304) whose status has
	// an ErrorPages entry is replaced by that page.
	ProxyInterceptErrors bool

	// Modules are the module lines (module.go), in file order: a
	// [server]'s run after the global ones, first in its routing chain;
	// a [location]'s Server.Modules are its [server]'s then its own
	// (Location.OwnModules).
	Modules []*Module

	// RealIPHeader is real_ip_header: "X-Forwarded-For", "X-Real-IP"
	// (the default, as nginx) or "proxy_protocol".
	RealIPHeader string

	// TLSCerts are the tls_cert/tls_key pairs in file order, each
	// checked at load: the certificate file parses, the key parses and
	// matches the certificate. Several pairs (an ECDSA and an RSA
	// certificate, as nginx allows) let crypto/tls pick the one the
	// client supports. Empty when the server does not speak TLS.
	TLSCerts []CertPair
	// TLSCert and TLSKey are TLSCerts[0], kept for code written when a
	// server had one pair; "" without TLS.
	TLSCert string
	TLSKey  string
	// TLSMinVersion and TLSMaxVersion are the lowest and highest
	// versions tls_protocols lists, as crypto/tls constants: default
	// tls.VersionTLS12 and tls.VersionTLS13.
	TLSMinVersion uint16
	TLSMaxVersion uint16
	// TLSClientCA is tls_client_ca, an absolute path to a PEM bundle:
	// when set, clients must present a certificate signed by one of its
	// certificates (mutual TLS). "" when clients are not asked for one.
	TLSClientCA string
	// TLSClientCAPEM is the content of TLSClientCA as validated.
	TLSClientCAPEM []byte
	// TLSSessionTickets is tls_session_tickets (default on): whether the
	// server issues and accepts session tickets.
	TLSSessionTickets bool
	// TLSCurves is tls_curves: the key exchange groups the server
	// accepts (nginx's ssl_ecdh_curve), in the order written, which
	// crypto/tls does not use as a preference. Nil means the tls
	// package's default, X25519MLKEM768:X25519:P-256.
	TLSCurves []tls.CurveID

	// ProxyTLS is true when the proxy_pass backends are https:// ones:
	// the proxy speaks TLS to every backend (one proxy_pass never mixes
	// plain and TLS backends).
	ProxyTLS bool
	// ProxyTLSCA is proxy_tls_ca, an absolute path to a PEM bundle that
	// backends' certificates are verified against; "" for the system
	// roots.
	ProxyTLSCA string
	// ProxyTLSCAPEM is the content of ProxyTLSCA as validated.
	ProxyTLSCAPEM []byte
	// ProxyTLSServerName is the name sent as SNI to the backends and
	// verified in their certificates: proxy_tls_server_name, by default
	// the host of the first backend when it is a name. "" when the first
	// backend is an IP address: no SNI is sent, and its certificate is
	// verified against the IP address the proxy connects to.
	ProxyTLSServerName string
	// ProxyTLSVerify is proxy_tls_verify (default on); off accepts any
	// backend certificate.
	ProxyTLSVerify bool

	nameLine   int      // line of server_name, for conflict messages
	listenLine int      // line of listen, for conflict messages
	http2Line  int      // line of http2, for its check
	tlsLine    int      // line of the first tls_cert, 0 without one
	tlsCertAt  []pathAt // every tls_cert, in order, until paired
	tlsKeyAt   []pathAt // every tls_key, in order, until paired
	proxyHosts []string // host name of each backend, "" for an address
}

// HasProxy reports whether s forwards requests to backends (proxy_pass).
func (s *Server) HasProxy() bool { return len(s.ProxyPass) > 0 }

// BackendLabel returns the i-th backend of ProxyPass as the
// configuration wrote it, for the metrics' labels: its Addr, except
// that localhost, which Addr holds as 127.0.0.1, stays localhost
// ("localhost:8080"), as every other host name stays as written.
func (s *Server) BackendLabel(i int) string {
	addr := s.ProxyPass[i].Addr
	if i < len(s.proxyHosts) && s.proxyHosts[i] == "localhost" {
		return "localhost" + addr[strings.LastIndexByte(addr, ':'):]
	}
	return addr
}

// HasTLS reports whether s's listeners speak TLS (tls_cert and tls_key).
func (s *Server) HasTLS() bool { return len(s.TLSCerts) > 0 }

// CertPair is one tls_cert with the tls_key of the same rank.
type CertPair struct {
	Cert string // absolute path of the PEM certificate chain, leaf first
	Key  string // absolute path of the PEM private key
	Line int    // line of the tls_cert, for messages
	// CertPEM and KeyPEM are the two files' content as validated: the
	// workers serve these bytes, not what the paths hold later (a file
	// rewritten after a refused reload must not reach a respawned worker).
	CertPEM, KeyPEM []byte
}

// Upstream is one proxy_pass backend. Its zero options are nginx's
// defaults (max_fails=1 fail_timeout=10s, a primary that is up).
type Upstream struct {
	Addr   string // "host:port"
	Weight int    // default 1
	// MaxFails is max_fails=N, the failures in a row that mark the
	// backend down: 0 means the default (1), NoMaxFails max_fails=0
	// (never marked down by failures).
	MaxFails int
	// FailTimeout is fail_timeout=T, how long a failed backend stays
	// down; 0 means the default (10s).
	FailTimeout time.Duration
	Backup      bool // backup: chosen only when no primary may be
	Down        bool // down: never chosen
}

// NoMaxFails is Upstream.MaxFails for max_fails=0: failures never mark
// the backend down.
const NoMaxFails = -1

// Rewrite is one rewrite rule: a path matching Regexp is replaced by
// Replacement, where $1..$9 name the captures.
//
// The file's nginx-style replacement is stored as a regexp.Expand
// template with every capture written ${N} ("/u/$1" becomes "/u/${1}"),
// so Regexp.ReplaceAllString(path, Replacement) keeps nginx's meaning
// (in Go's own syntax "$1x" would name a group "1x").
type Rewrite struct {
	Regexp      *regexp.Regexp
	Replacement string

	// Redirect is 301 (permanent) or 302 (redirect) for a rule that
	// answers with a redirect to Target instead of replacing the path;
	// 0 for a path rewrite.
	Redirect int
	// Target is a redirect's URL: the replacement with its captures and
	// variables, without the '?' that ends it when the client's query is
	// not to be appended.
	Target vars.Template
	// KeepArgs reports that the client's query string is appended to
	// Target ('&' after a query Target has, else '?'), as nginx does
	// unless the replacement ends with '?'.
	KeepArgs bool
}

// Return is return = CODE [URL or TEXT]: the fixed answer of a [server]
// or [location].
type Return struct {
	Code int // 200..599
	// Target is the Location of a redirect (301, 302, 303, 307, 308),
	// else the body (empty: none).
	Target vars.Template
}

// IsRedirect reports whether r answers with a Location.
func (r *Return) IsRedirect() bool { return isRedirect(r.Code) }
