package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// testDir returns a directory holding t.ini's neighbours: www/ (a
// directory), www/index.html, cert.pem and logs/.
func testDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{"www", "logs"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"www/index.html", "cert.pem"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// parseIn parses text as the file t.ini in dir.
func parseIn(dir, text string) (*Config, error) {
	return Parse(filepath.Join(dir, "t.ini"), []byte(text))
}

// checkErr fails t unless err is nil when want is "", or an error whose
// text contains want.
func checkErr(t *testing.T, err error, want string) bool {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("unexpected error:\n%v", err)
		return false
	case want != "" && err == nil:
		t.Errorf("no error, want one containing %q", want)
		return false
	case want != "" && !strings.Contains(err.Error(), want):
		t.Errorf("error:\n%v\nwant it to contain %q", err, want)
		return false
	}
	return err == nil
}

func TestGlobalKeys(t *testing.T) {
	numCPU = func() int { return 200 } // more than MaxWorkers: auto is capped
	defer func() { numCPU = realNumCPU }()
	dir := testDir(t)
	tests := []struct {
		name    string
		globals string
		want    func(*Config) any // the field under test
		wantVal any
		wantErr string
	}{
		{name: "defaults", want: func(c *Config) any {
			return []any{c.WorkerProcesses, c.Backend, c.WorkerConnections, c.PIDFile, c.ErrorLog, c.LogLevel, c.WorkerShutdownTimeout, c.DrainIdleGrace}
		}, wantVal: []any{MaxWorkers, "auto", 10240, "", "stderr", "info", 30 * time.Second, time.Second}},
		{name: "workers auto", globals: "worker_processes = auto", want: func(c *Config) any { return c.WorkerProcesses }, wantVal: 64},
		{name: "workers 4", globals: "worker_processes = 4", want: func(c *Config) any { return c.WorkerProcesses }, wantVal: 4},
		{name: "workers 64", globals: "worker_processes = 64", want: func(c *Config) any { return c.WorkerProcesses }, wantVal: 64},
		{name: "workers 0", globals: "worker_processes = 0", wantErr: `t.ini:1: worker_processes: "0": must be auto or 1..64`},
		{name: "workers 65", globals: "worker_processes = 65", wantErr: `worker_processes: "65": must be auto or 1..64`},
		{name: "workers word", globals: "worker_processes = many", wantErr: `worker_processes: "many"`},
		{name: "workers empty", globals: "worker_processes =", wantErr: `worker_processes: missing value`},
		{name: "backend epoll", globals: "backend = epoll", want: func(c *Config) any { return c.Backend }, wantVal: "epoll"},
		{name: "backend io_uring", globals: "backend = io_uring", want: func(c *Config) any { return c.Backend }, wantVal: "io_uring"},
		{name: "backend bad", globals: "backend = kqueue", wantErr: `backend: "kqueue": must be one of auto, epoll, io_uring`},
		{name: "connections", globals: "worker_connections = 1", want: func(c *Config) any { return c.WorkerConnections }, wantVal: 1},
		{name: "connections 0", globals: "worker_connections = 0", wantErr: `worker_connections: "0": must be 1..1048576`},
		{name: "connections negative", globals: "worker_connections = -5", wantErr: `worker_connections: "-5": must be 1..`},
		{name: "connections 1e3", globals: "worker_connections = 1e3", wantErr: `worker_connections: "1e3": not a whole number`},
		{name: "pid relative", globals: "pid_file = logs/np.pid", want: func(c *Config) any { return c.PIDFile }, wantVal: filepath.Join(dir, "logs/np.pid")},
		{name: "pid no dir", globals: "pid_file = nodir/np.pid", wantErr: `pid_file: "nodir/np.pid": its directory: no such file or directory`},
		{name: "pid is dir", globals: "pid_file = logs", wantErr: `pid_file: "logs": is a directory`},
		{name: "error_log stderr", globals: "error_log = stderr", want: func(c *Config) any { return c.ErrorLog }, wantVal: "stderr"},
		{name: "error_log path", globals: "error_log = " + dir + "/logs/e.log", want: func(c *Config) any { return c.ErrorLog }, wantVal: filepath.Join(dir, "logs/e.log")},
		{name: "log_level debug", globals: "log_level = debug", want: func(c *Config) any { return c.LogLevel }, wantVal: "debug"},
		{name: "log_level bad", globals: "log_level = verbose", wantErr: `log_level: "verbose": must be one of error, warn, info, debug`},
		{name: "shutdown timeout", globals: "worker_shutdown_timeout = 2m", want: func(c *Config) any { return c.WorkerShutdownTimeout }, wantVal: 2 * time.Minute},
		{name: "shutdown timeout 0", globals: "worker_shutdown_timeout = 0", wantErr: `worker_shutdown_timeout: "0": must be greater than zero`},
		{name: "shutdown timeout past bound", globals: "worker_shutdown_timeout = 2d", wantErr: `worker_shutdown_timeout: "2d": must be at most 24h`},
		{name: "drain grace", globals: "drain_idle_grace = 250ms", want: func(c *Config) any { return c.DrainIdleGrace }, wantVal: 250 * time.Millisecond},
		{name: "drain grace 0", globals: "drain_idle_grace = 0", wantErr: `drain_idle_grace: "0": must be greater than zero`},
		{name: "drain grace past bound", globals: "drain_idle_grace = 61s", wantErr: `drain_idle_grace: "61s": must be at most 1m`},
		{name: "drain grace word", globals: "drain_idle_grace = soon", wantErr: `drain_idle_grace: "soon": not a duration`},
		{name: "resolve interval", globals: "resolve_interval = 30s", want: func(c *Config) any { return c.ResolveInterval }, wantVal: 30 * time.Second},
		{name: "resolve interval off", globals: "resolve_interval = off", want: func(c *Config) any { return c.ResolveInterval }, wantVal: time.Duration(0)},
		{name: "resolve interval 0", globals: "resolve_interval = 0", want: func(c *Config) any { return c.ResolveInterval }, wantVal: time.Duration(0)},
		{name: "resolve interval short", globals: "resolve_interval = 500ms", wantErr: `t.ini:1: resolve_interval: "500ms": must be off (or 0) or at least 1s`},
		{name: "resolve interval past bound", globals: "resolve_interval = 2d", wantErr: `t.ini:1: resolve_interval: "2d": must be at most 24h`},
		{name: "inline comment", globals: "log_level = warn  # quieter", want: func(c *Config) any { return c.LogLevel }, wantVal: "warn"},
		{name: "quoted value", globals: `log_level = "warn"`, want: func(c *Config) any { return c.LogLevel }, wantVal: "warn"},
		{name: "server key in globals", globals: "listen = 80", wantErr: "t.ini:1: listen: belongs in a [server] section"},
		{name: "unknown", globals: "worker_process = 2", wantErr: "t.ini:1: worker_process: unknown key (did you mean worker_processes?)"},
		{name: "duplicate", globals: "backend = epoll\nbackend = io_uring", wantErr: "t.ini:2: backend: set again (first set on line 1)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parseIn(dir, tt.globals+"\n[server]\nlisten = 127.0.0.1:8080\n")
			if !checkErr(t, err, tt.wantErr) || tt.want == nil {
				return
			}
			if got := tt.want(cfg); !reflect.DeepEqual(got, tt.wantVal) {
				t.Errorf("got %#v, want %#v", got, tt.wantVal)
			}
		})
	}
}

var realNumCPU = numCPU

func TestServerKeys(t *testing.T) {
	dir := testDir(t)
	www := filepath.Join(dir, "www")
	tests := []struct {
		name    string
		keys    string // after "[server]"; listen is added unless keys set it
		want    func(*Server) any
		wantVal any
		wantErr string
	}{
		{name: "defaults", want: func(s *Server) any {
			return []any{s.Index, s.ProxyPrefix, s.Balance, s.KeepaliveTimeout, s.HeaderTimeout, s.BodyTimeout,
				s.SendTimeout, s.ProxyConnectTimeout, s.ProxyTimeout, s.MaxBodySize, s.AccessLog, s.Metrics,
				s.RateLimit, s.RateBurst, s.HealthCheck, s.HealthEvery, s.StaticRoot, s.HasProxy(),
				s.RateLimitIPv6Prefix, s.UnderscoresInHeaders}
		}, wantVal: []any{[]string{"index.html"}, "/", "round_robin", 75 * time.Second, 60 * time.Second, 60 * time.Second,
			60 * time.Second, 60 * time.Second, 60 * time.Second, int64(1 << 20), "", false,
			0.0, 0, "", time.Duration(0), "", false,
			64, false}},

		// listen
		{name: "listen v4", keys: "listen = 10.0.0.1:80", want: lis, wantVal: []string{"10.0.0.1:80"}},
		{name: "listen default_server", keys: "listen = 127.0.0.1:80 default_server, 127.0.0.1:81 proxy_protocol default_server, 127.0.0.1:82",
			want: func(s *Server) any { return []any{s.DefaultServer, s.ProxyProtocol} }, wantVal: []any{[]string{"127.0.0.1:80", "127.0.0.1:81"}, []string{"127.0.0.1:81"}}},
		{name: "listen option twice", keys: "listen = 127.0.0.1:80 default_server default_server", wantErr: `expected ADDRESS [proxy_protocol] [default_server]`},
		{name: "listen several", keys: "listen = 127.0.0.1:80, [::1]:80 ,*:81", want: lis, wantVal: []string{"127.0.0.1:80", "[::1]:80", "0.0.0.0:81"}},
		{name: "listen empty host", keys: "listen = :8080", want: lis, wantVal: []string{"0.0.0.0:8080"}},
		{name: "listen bare port", keys: "listen = 8080", want: lis, wantVal: []string{"0.0.0.0:8080"}},
		{name: "listen host only", keys: "listen = 127.0.0.1", want: lis, wantVal: []string{"127.0.0.1:80"}},
		{name: "listen localhost", keys: "listen = localhost:81", want: lis, wantVal: []string{"127.0.0.1:81"}},
		{name: "listen v6 any", keys: "listen = [::]:443", want: lis, wantVal: []string{"[::]:443"}},
		{name: "listen port range", keys: "listen = 127.0.0.1:99999", wantErr: `t.ini:2: listen: "127.0.0.1:99999": port out of range`},
		{name: "listen port 0", keys: "listen = 127.0.0.1:0", wantErr: `listen: "127.0.0.1:0": port out of range`},
		{name: "listen port word", keys: "listen = 127.0.0.1:http", wantErr: `listen: "127.0.0.1:http": port "http" is not a number`},
		{name: "listen bare v6", keys: "listen = ::1:80", wantErr: `listen: "::1:80": an IPv6 address needs brackets`},
		{name: "listen hostname", keys: "listen = example.com:80", wantErr: `listen: "example.com:80": host must be an IP address, [IPv6], * or localhost`},
		{name: "listen bad v4", keys: "listen = 300.1.1.1:80", wantErr: `listen: "300.1.1.1:80": host must be`},
		{name: "listen v4 in brackets", keys: "listen = [127.0.0.1]:80", wantErr: `host must be`},
		{name: "listen unclosed bracket", keys: "listen = [::1:80", wantErr: `missing ']'`},
		{name: "listen trailing colon", keys: "listen = 127.0.0.1:", wantErr: `"127.0.0.1:": missing port after ':'`},
		{name: "listen twice", keys: "listen = 127.0.0.1:80, 127.0.0.1:80", wantErr: `listen: "127.0.0.1:80": listed twice`},
		{name: "listen empty item", keys: "listen = 127.0.0.1:80,", wantErr: `empty address in the list`},
		{name: "listen missing", keys: "# no listen\nindex = a.html", wantErr: "t.ini:1: [server]: listen is required"},

		// server_name
		{name: "names", keys: "server_name = Example.COM *.example.com a.b. example.com", want: func(s *Server) any { return s.ServerNames },
			wantVal: []string{"example.com", "*.example.com", "a.b"}},
		{name: "name underscore", keys: "server_name = _", want: func(s *Server) any { return s.ServerNames }, wantVal: []string{"_"}},
		{name: "name inner wildcard", keys: "server_name = www.*.com", wantErr: `server_name: "www.*.com": a wildcard is allowed only as a leading "*."`},
		{name: "name trailing wildcard", keys: "server_name = example.*", wantErr: `only as a leading`},
		{name: "name bad char", keys: "server_name = exa$mple.com", wantErr: `server_name: "exa$mple.com": not a host name`},
		{name: "name empty label", keys: "server_name = a..b", wantErr: `not a host name`},

		// static files
		{name: "root relative", keys: "static_root = www/", want: func(s *Server) any { return s.StaticRoot }, wantVal: www},
		{name: "root absolute", keys: "static_root = " + www + "/../www", want: func(s *Server) any { return s.StaticRoot }, wantVal: www},
		{name: "root missing", keys: "static_root = nope", wantErr: `static_root: "nope": no such file or directory`},
		{name: "root is file", keys: "static_root = cert.pem", wantErr: `static_root: "cert.pem": not a directory`},
		{name: "index", keys: "index = index.htm  default.html", want: func(s *Server) any { return s.Index }, wantVal: []string{"index.htm", "default.html"}},
		{name: "index slash", keys: "index = a/index.html", wantErr: `index: "a/index.html": must be a file name, without '/'`},
		{name: "index dotdot", keys: "index = ..", wantErr: `index: "..": must be a file name`},
		{name: "try_files", keys: "static_root = www\ntry_files = $uri $uri/ /index.html", want: tf, wantVal: []string{"$uri", "$uri/", "/index.html"}},
		{name: "try_files code", keys: "static_root = www\ntry_files = $uri $uri.html /cache$uri =404", want: tf, wantVal: []string{"$uri", "$uri.html", "/cache$uri", "=404"}},
		{name: "try_files one token", keys: "static_root = www\ntry_files = $uri", wantErr: `needs at least two tokens`},
		{name: "try_files code not last", keys: "static_root = www\ntry_files = $uri =404 /x", wantErr: `try_files: "=404": =CODE may only be the last token`},
		{name: "try_files code digits", keys: "static_root = www\ntry_files = $uri =40", wantErr: `try_files: "=40": the status must be three digits`},
		{name: "try_files code range", keys: "static_root = www\ntry_files = $uri =999", wantErr: `the status must be three digits, 100..599`},
		{name: "try_files variable", keys: "static_root = www\ntry_files = $uri $request_uri", wantErr: `try_files: "$request_uri": must be $uri or a path`},
		{name: "try_files variable inside", keys: "static_root = www\ntry_files = /x$host $uri", wantErr: `try_files: "/x$host": only the $uri variable is supported`},
		{name: "try_files $urix", keys: "static_root = www\ntry_files = $urix $uri", wantErr: `only the $uri variable`},
		{name: "try_files relative", keys: "static_root = www\ntry_files = $uri index.html", wantErr: `"index.html": must be $uri or a path starting with '/'`},
		{name: "try_files named location", keys: "static_root = www\ntry_files = $uri @backend", wantErr: `"@backend"`},
		{name: "try_files without root", keys: "try_files = $uri =404", wantErr: `t.ini:3: try_files: needs static_root in the same [server]`},

		// proxy
		{name: "proxy one", keys: "proxy_pass = 127.0.0.1:9000", want: pp, wantVal: []Upstream{{Addr: "127.0.0.1:9000", Weight: 1}}},
		{name: "proxy weights", keys: "proxy_pass = http://10.0.0.1:9000 weight=3, [::1]:9001,backend.local:80 weight=100",
			want: pp, wantVal: []Upstream{{Addr: "10.0.0.1:9000", Weight: 3}, {Addr: "[::1]:9001", Weight: 1}, {Addr: "backend.local:80", Weight: 100}}},
		{name: "proxy default port", keys: "proxy_pass = http://App", want: pp, wantVal: []Upstream{{Addr: "app:80", Weight: 1}}},
		{name: "proxy localhost", keys: "proxy_pass = localhost:9000", want: pp, wantVal: []Upstream{{Addr: "127.0.0.1:9000", Weight: 1}}},
		{name: "proxy has proxy", keys: "proxy_pass = 127.0.0.1:9000", want: func(s *Server) any { return s.HasProxy() }, wantVal: true},
		{name: "proxy weight 0", keys: "proxy_pass = 127.0.0.1:9000 weight=0", wantErr: `proxy_pass: "weight=0": weight must be 1..100`},
		{name: "proxy weight 101", keys: "proxy_pass = 127.0.0.1:9000 weight=101", wantErr: `weight must be 1..100`},
		{name: "proxy weight first", keys: "proxy_pass = weight=2 127.0.0.1:9000", wantErr: `"weight=2": options must follow a backend`},
		{name: "proxy weight twice", keys: "proxy_pass = 127.0.0.1:9000 weight=2 weight=3", wantErr: `"weight=3": given twice for 127.0.0.1:9000`},
		{name: "proxy https", keys: "proxy_pass = https://10.0.0.1", want: pp, wantVal: []Upstream{{Addr: "10.0.0.1:443", Weight: 1}}},
		{name: "proxy scheme", keys: "proxy_pass = ftp://10.0.0.1", wantErr: `proxy_pass: "ftp://10.0.0.1": unsupported scheme "ftp://" (use http:// or https://)`},
		{name: "proxy path", keys: "proxy_pass = http://10.0.0.1:80/api", wantErr: `a path after host:port is not supported`},
		{name: "proxy port", keys: "proxy_pass = 10.0.0.1:70000", wantErr: `proxy_pass: "10.0.0.1:70000": port out of range`},
		{name: "proxy split port", keys: "proxy_pass = 127.0.0.1 9000", wantErr: `proxy_pass: "9000": missing host`},
		{name: "proxy numeric host", keys: "proxy_pass = 1.2.3:80", wantErr: `proxy_pass: "1.2.3:80": host must be an IP address, [IPv6] or a host name`},
		{name: "proxy any", keys: "proxy_pass = 0.0.0.0:80", wantErr: `cannot connect to an unspecified address`},
		{name: "proxy duplicate", keys: "proxy_pass = 10.0.0.1:80, 10.0.0.1", wantErr: `"10.0.0.1": listed twice (use weight=N instead)`},
		{name: "proxy too many", keys: "proxy_pass = " + manyBackends(MaxBackends+1), wantErr: `proxy_pass: more than 64 backends`},
		{name: "proxy max", keys: "proxy_pass = " + manyBackends(MaxBackends), want: func(s *Server) any { return len(s.ProxyPass) }, wantVal: MaxBackends},
		{name: "prefix", keys: "proxy_prefix = /api/", want: func(s *Server) any { return s.ProxyPrefix }, wantVal: "/api/"},
		{name: "prefix relative", keys: "proxy_prefix = api", wantErr: `proxy_prefix: "api": must be a path starting with '/'`},
		{name: "balance", keys: "balance = least_conn", want: func(s *Server) any { return s.Balance }, wantVal: "least_conn"},
		{name: "balance bad", keys: "balance = random", wantErr: `balance: "random": must be one of round_robin, least_conn`},
		{name: "health default", keys: "proxy_pass = 10.0.0.1\nhealth_check = /healthz", want: hc, wantVal: []any{"/healthz", 5 * time.Second}},
		{name: "health interval", keys: "proxy_pass = 10.0.0.1\nhealth_check = /ping 500ms", want: hc, wantVal: []any{"/ping", 500 * time.Millisecond}},
		{name: "health relative", keys: "proxy_pass = 10.0.0.1\nhealth_check = ping", wantErr: `health_check: "ping": the path must start with '/'`},
		{name: "health zero", keys: "proxy_pass = 10.0.0.1\nhealth_check = /ping 0", wantErr: `health_check: "0": the interval must be positive`},
		{name: "health extra", keys: "proxy_pass = 10.0.0.1\nhealth_check = /ping 1s x", wantErr: `expected PATH [INTERVAL]`},
		{name: "health without proxy", keys: "health_check = /ping", wantErr: `health_check: needs proxy_pass`},

		// durations and sizes
		{name: "keepalive 0", keys: "keepalive_timeout = 0", want: func(s *Server) any { return s.KeepaliveTimeout }, wantVal: time.Duration(0)},
		{name: "keepalive bare", keys: "keepalive_timeout = 30", want: func(s *Server) any { return s.KeepaliveTimeout }, wantVal: 30 * time.Second},
		{name: "satisfy any", keys: "satisfy = any", want: func(s *Server) any { return s.SatisfyAny }, wantVal: true},
		{name: "satisfy all", keys: "satisfy = all", want: func(s *Server) any { return s.SatisfyAny }, wantVal: false},
		{name: "satisfy bad", keys: "satisfy = some", wantErr: `satisfy: "some": must be one of all, any`},
		{name: "keepalive requests", keys: "keepalive_requests = 1000", want: func(s *Server) any { return s.KeepaliveRequests }, wantVal: 1000},
		{name: "keepalive requests 0", keys: "keepalive_requests = 0", want: func(s *Server) any { return s.KeepaliveRequests }, wantVal: 0},
		{name: "keepalive requests negative", keys: "keepalive_requests = -1", wantErr: `t.ini:3: keepalive_requests: "-1": must be 0..2147483647`},
		{name: "keepalive requests too many", keys: "keepalive_requests = 2147483648", wantErr: `keepalive_requests: "2147483648": must be 0..2147483647`},
		{name: "keepalive requests in a location", keys: "[location /a/]\nkeepalive_requests = 5", wantErr: `keepalive_requests`},
		{name: "header ms", keys: "header_timeout = 500ms", want: func(s *Server) any { return s.HeaderTimeout }, wantVal: 500 * time.Millisecond},
		{name: "body 1m", keys: "body_timeout = 1m", want: func(s *Server) any { return s.BodyTimeout }, wantVal: time.Minute},
		{name: "send 1h", keys: "send_timeout = 1h", want: func(s *Server) any { return s.SendTimeout }, wantVal: time.Hour},
		{name: "connect go syntax", keys: "proxy_connect_timeout = 1m30s", want: func(s *Server) any { return s.ProxyConnectTimeout }, wantVal: 90 * time.Second},
		{name: "proxy days", keys: "proxy_timeout = 2d", want: func(s *Server) any { return s.ProxyTimeout }, wantVal: 48 * time.Hour},
		{name: "timeout zero", keys: "header_timeout = 0s", wantErr: `header_timeout: "0s": must be greater than zero`},
		{name: "timeout negative", keys: "send_timeout = -1s", wantErr: `send_timeout: "-1s": must not be negative`},
		{name: "timeout unit", keys: "body_timeout = 5x", wantErr: `body_timeout: "5x": not a duration (use e.g. 60s, 500ms, 1m)`},
		{name: "timeout huge", keys: "proxy_timeout = 99999999999999999999", wantErr: `proxy_timeout: "99999999999999999999": must be at most 7d`},
		{name: "size m", keys: "max_body_size = 8m", want: mbs, wantVal: int64(8 << 20)},
		{name: "size K", keys: "max_body_size = 512K", want: mbs, wantVal: int64(512 << 10)},
		{name: "size g", keys: "max_body_size = 2g", want: mbs, wantVal: int64(2 << 30)},
		{name: "size bytes", keys: "max_body_size = 1000", want: mbs, wantVal: int64(1000)},
		{name: "size unlimited", keys: "max_body_size = 0", want: mbs, wantVal: int64(0)},
		{name: "size unit", keys: "max_body_size = 1mb", wantErr: `max_body_size: "1mb": not a size (use e.g. 1m, 512k, 1048576)`},
		{name: "size negative", keys: "max_body_size = -1", wantErr: `not a size`},
		{name: "size overflow", keys: "max_body_size = 9999999999999g", wantErr: `max_body_size: "9999999999999g": too large`},

		// logging, metrics, rate limits
		{name: "access log", keys: "access_log = logs/access.log", want: func(s *Server) any { return s.AccessLog }, wantVal: filepath.Join(dir, "logs/access.log")},
		{name: "access log off", keys: "access_log = off", want: func(s *Server) any { return s.AccessLog }, wantVal: ""},
		{name: "access log no dir", keys: "access_log = /nonexistent/dir/a.log", wantErr: `access_log: "/nonexistent/dir/a.log": its directory`},
		{name: "metrics on", keys: "metrics = on", want: func(s *Server) any { return s.Metrics }, wantVal: true},
		{name: "metrics yes", keys: "metrics = yes", wantErr: `metrics: "yes": must be on or off`},
		{name: "rate per second", keys: "rate_limit = 100r/s\nrate_burst = 20", want: rl, wantVal: []any{100.0, 20}},
		{name: "rate per minute", keys: "rate_limit = 600r/m", want: rl, wantVal: []any{10.0, 0}},
		{name: "rate zero", keys: "rate_limit = 0r/s", wantErr: `rate_limit: "0r/s": must be 1..`},
		{name: "rate unit", keys: "rate_limit = 100/s", wantErr: `rate_limit: "100/s": not a rate (use e.g. 100r/s or 600r/m)`},
		{name: "rate hour", keys: "rate_limit = 100r/h", wantErr: `not a rate`},
		{name: "burst negative", keys: "rate_limit = 1r/s\nrate_burst = -1", wantErr: `rate_burst: "-1": must be 0..`},
		{name: "burst alone", keys: "rate_burst = 5", wantErr: `t.ini:3: rate_burst: needs rate_limit in the same [server] (a burst needs a rate)`},
		{name: "ipv6 prefix", keys: "rate_limit = 1r/s\nrate_limit_ipv6_prefix = 56", want: v6p, wantVal: 56},
		{name: "ipv6 prefix 32", keys: "rate_limit = 1r/s\nrate_limit_ipv6_prefix = 32", want: v6p, wantVal: 32},
		{name: "ipv6 prefix 128", keys: "rate_limit = 1r/s\nrate_limit_ipv6_prefix = 128", want: v6p, wantVal: 128},
		{name: "ipv6 prefix 31", keys: "rate_limit = 1r/s\nrate_limit_ipv6_prefix = 31", wantErr: `t.ini:4: rate_limit_ipv6_prefix: "31": must be 32..128`},
		{name: "ipv6 prefix 129", keys: "rate_limit = 1r/s\nrate_limit_ipv6_prefix = 129", wantErr: `rate_limit_ipv6_prefix: "129": must be 32..128`},
		{name: "ipv6 prefix slash", keys: "rate_limit = 1r/s\nrate_limit_ipv6_prefix = /64", wantErr: `rate_limit_ipv6_prefix: "/64": not a whole number`},
		{name: "ipv6 prefix alone", keys: "rate_limit_ipv6_prefix = 64", wantErr: `t.ini:3: rate_limit_ipv6_prefix: needs rate_limit in the same [server] (the prefix keys the rate limit)`},
		{name: "ipv6 prefix misspelt", keys: "rate_limit_ipv6_prefx = 64", wantErr: "t.ini:3: rate_limit_ipv6_prefx: unknown key (did you mean rate_limit_ipv6_prefix?)"},

		// headers
		{name: "underscores on", keys: "underscores_in_headers = on", want: uih, wantVal: true},
		{name: "underscores off", keys: "underscores_in_headers = off", want: uih, wantVal: false},
		{name: "underscores yes", keys: "underscores_in_headers = yes", wantErr: `t.ini:3: underscores_in_headers: "yes": must be on or off`},
		{name: "underscores misspelt", keys: "underscore_in_headers = on", wantErr: "t.ini:3: underscore_in_headers: unknown key (did you mean underscores_in_headers?)"},
		{name: "underscores twice", keys: "underscores_in_headers = on\nunderscores_in_headers = off", wantErr: "t.ini:4: underscores_in_headers: set again (first set on line 3)"},

		// rewrite
		{name: "rewrite", keys: "rewrite = ^/old/(.*)$ /new/$1\nrewrite = ^/a$ /b", want: rw,
			wantVal: []string{"^/old/(.*)$ /new/${1}", "^/a$ /b"}},
		{name: "rewrite nginx digits", keys: "rewrite = ^/(a)(b)$ /$12${2}", want: rw, wantVal: []string{"^/(a)(b)$ /${1}2${2}"}},
		{name: "rewrite regex chars", keys: "rewrite = ^/a;b#c$ /d", want: rw, wantVal: []string{"^/a;b#c$ /d"}},
		{name: "rewrite no replacement", keys: "rewrite = ^/a", wantErr: `rewrite: "^/a": expected REGEX REPLACEMENT`},
		{name: "rewrite flag", keys: "rewrite = ^/a /b sometimes", wantErr: `rewrite: "sometimes": the flag must be last, redirect or permanent`},
		{name: "rewrite bad regex", keys: "rewrite = ^/(a /b", wantErr: `rewrite: "^/(a": bad regex: missing closing ): ^/(a`},
		{name: "rewrite capture", keys: "rewrite = ^/(a)$ /$2", wantErr: `rewrite: "/$2": $2 but the regex has 1 capture group(s)`},
		{name: "rewrite dollar", keys: "rewrite = ^/(a)$ /$x", wantErr: `'$' must be followed by a capture number`},
		{name: "rewrite relative", keys: "rewrite = ^/a b", wantErr: `rewrite: "b": the replacement must be a path starting with '/'`},
		{name: "rewrite empty among others", keys: "rewrite = ^/a /b\nrewrite =\nrewrite = ^/(c /d", wantErr: "t.ini:4: rewrite: missing value\n"},
		{name: "rewrite empty line of third", keys: "rewrite = ^/a /b\nrewrite =\nrewrite = ^/(c /d", wantErr: `t.ini:5: rewrite: "^/(c": bad regex`},

		{name: "rewrite quoted empty", keys: "rewrite = \"\" ; none\nrewrite = ^/(c /d", wantErr: `t.ini:4: rewrite: "^/(c": bad regex`},
		{name: "rewrite comment after", keys: "rewrite = ^/a /b  # old urls", want: rw, wantVal: []string{"^/a /b"}},

		// key placement and repeats
		{name: "global key in server", keys: "worker_processes = 2", wantErr: "t.ini:3: worker_processes: a global key: put it before the first section"},
		{name: "unknown key", keys: "proxy_passs = 1.2.3.4", wantErr: "t.ini:3: proxy_passs: unknown key (did you mean proxy_pass?)"},
		{name: "unknown far key", keys: "brotli = on", wantErr: "t.ini:3: brotli: unknown key\n"},
		{name: "duplicate key", keys: "index = a\nindex = b", wantErr: "t.ini:4: index: set again (first set on line 3)"},
		{name: "duplicate equal values", keys: "metrics = on\nmetrics = on", wantErr: "t.ini:4: metrics: set again"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys := tt.keys
			if !strings.Contains(keys, "listen") {
				keys = "listen = 127.0.0.1:8080\n" + keys
			}
			cfg, err := parseIn(dir, "[server]\n"+keys+"\n")
			if err != nil && tt.wantErr != "" && strings.HasSuffix(tt.wantErr, "\n") {
				err = errors.New(err.Error() + "\n") // lets wantErr end a line
			}
			if !checkErr(t, err, tt.wantErr) || tt.want == nil {
				return
			}
			if got := tt.want(cfg.Servers[0]); !reflect.DeepEqual(got, tt.wantVal) {
				t.Errorf("got %#v, want %#v", got, tt.wantVal)
			}
		})
	}
}

// Field getters for TestServerKeys.
func lis(s *Server) any { return s.Listen }
func tf(s *Server) any  { return s.TryFiles }
func pp(s *Server) any  { return s.ProxyPass }
func mbs(s *Server) any { return s.MaxBodySize }
func hc(s *Server) any  { return []any{s.HealthCheck, s.HealthEvery} }
func rl(s *Server) any  { return []any{s.RateLimit, s.RateBurst} }
func v6p(s *Server) any { return s.RateLimitIPv6Prefix }
func uih(s *Server) any { return s.UnderscoresInHeaders }
func rw(s *Server) any {
	var out []string
	for _, r := range s.Rewrites {
		out = append(out, r.Regexp.String()+" "+r.Replacement)
	}
	return out
}

// manyBackends returns a proxy_pass value with n distinct backends.
func manyBackends(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString("10.0.0.1:" + strconv.Itoa(1000+i) + " ")
	}
	return b.String()
}

// TestDefaultServerConflict checks that one address has at most one
// default_server, reported at the second's listen line; two addresses
// may each have their own.
func TestDefaultServerConflict(t *testing.T) {
	text := "[server]\nlisten = 127.0.0.1:80 default_server\n\n[server]\nlisten = 127.0.0.1:81 default_server\n\n" +
		"[server]\nserver_name = b\nlisten = 127.0.0.1:80 default_server\n"
	_, err := Parse("t.ini", []byte(text))
	want := "t.ini:9: listen 127.0.0.1:80 default_server: the [server] on line 1 is already this address's default"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("got %v, want %q", err, want)
	}
	if strings.Count(err.Error(), "default_server") != 1 {
		t.Errorf("127.0.0.1:81 has one default: %v", err)
	}
}
