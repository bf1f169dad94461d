package config

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nproxy/nproxy/syslog"
	nptls "github.com/nproxy/nproxy/tls"
)

// The effective configuration (`nproxy -T`): a Config written back as a
// configuration file that Parse reads into the same Config, wherever the
// file is put.
//
// The loader records every value it applies, section by section, in
// file order (a setting). Effective writes the global keys from the
// Config's fields, so that the command line's overrides (--backend,
// --workers) show; then every section in file order with the values it
// set, paths made absolute; and after the keys a [server] sets, the
// defaults of those it does not, so that nothing is implicit. A
// [location] shows only its own keys: what it does not set it inherits
// from its [server], which shows them all. Keys whose feature a section
// does not use (rate_burst without rate_limit, tls_protocols without a
// certificate) are left out, since Parse would refuse them there.

// setting is one key = value line as applied, with its line.
type setting struct {
	key, value string
	line       int
}

// recSection is one section as the loader applied it.
type recSection struct {
	idx      int    // its rank in the file; 0 is the global section
	header   string // the text between '[' and ']'; "" for the global section
	srv      *Server
	settings []setting
}

// record notes that key was applied with value v in the current section.
// A path is recorded absolute (resolved as the key resolves it).
func (l *loader) record(key, v string, line int) {
	if l.rec == nil {
		return
	}
	switch pathKeys[key] {
	case pathWhole:
		v = l.resolve(v)
	case pathFirst:
		if first, rest, _ := strings.Cut(v, " "); !keywordValues[first] && !syslog.IsTarget(first) {
			v = strings.TrimSpace(l.resolve(first) + " " + strings.TrimSpace(rest))
		}
	}
	l.rec.settings = append(l.rec.settings, setting{key, v, line})
}

// beginSection starts the record of the section of rank idx.
func (l *loader) beginSection(idx int, header string) *recSection {
	l.rec = &recSection{idx: idx, header: header}
	l.layout = append(l.layout, l.rec)
	return l.rec
}

// How a key's value holds a path, for record.
const (
	pathNone  = iota
	pathWhole // the value is a path
	pathFirst // the value's first word is a path (module = PATH ARGS...)
)

// pathKeys are the keys whose values name files, relative to the file's
// directory.
var pathKeys = map[string]int{
	"pid_file": pathWhole, "error_log": pathFirst, "static_root": pathWhole, "alias": pathWhole,
	"access_log": pathFirst, "tls_cert": pathWhole, "tls_key": pathWhole, "tls_client_ca": pathWhole,
	"proxy_tls_ca": pathWhole, "auth_basic_user_file": pathWhole, "module": pathFirst,
}

// keywordValues are the words a path key takes instead of a path.
var keywordValues = map[string]bool{"off": true, "stderr": true, "stdout": true}

// Effective returns c as a configuration file: see the comment at the top
// of this file. It fails only for a value that cannot be written in the
// INI syntax (one holding a backquote and a comment marker, say).
func (c *Config) Effective() ([]byte, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# nproxy -T: the effective configuration of %s,\n# every default written out.\n\n", c.File)
	w := &iniWriter{b: &b}
	for _, kv := range c.globalSettings() {
		w.line(kv.key, kv.value)
	}
	for _, sec := range c.layout {
		if sec.idx == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n[%s]\n", sec.header)
		for _, kv := range sec.settings {
			w.line(kv.key, kv.value)
		}
		if sec.srv != nil {
			set := map[string]bool{}
			for _, kv := range sec.settings {
				set[kv.key] = true
			}
			first := true
			for _, d := range serverDefaults {
				if set[d.key] || d.when != nil && !d.when(sec.srv, set) {
					continue
				}
				if first {
					b.WriteString("# defaults\n")
					first = false
				}
				w.line(d.key, d.value(sec.srv))
			}
		}
	}
	if w.err != nil {
		return nil, w.err
	}
	return b.Bytes(), nil
}

// globalSettings are the global section's lines: the keys of Config's
// fields from the fields, then what else the file set (module lines).
func (c *Config) globalSettings() []setting {
	out := []setting{
		{key: "worker_processes", value: strconv.Itoa(c.WorkerProcesses)},
		{key: "backend", value: c.Backend},
		{key: "worker_connections", value: strconv.Itoa(c.WorkerConnections)},
	}
	if c.User != nil {
		out = append(out, setting{key: "user", value: c.User.String()})
	}
	if c.PIDFile != "" {
		out = append(out, setting{key: "pid_file", value: c.PIDFile})
	}
	out = append(out,
		setting{key: "error_log", value: c.ErrorLog},
		setting{key: "log_level", value: c.LogLevel},
		setting{key: "error_log_format", value: c.ErrorLogFormat},
		setting{key: "worker_shutdown_timeout", value: formatDuration(c.WorkerShutdownTimeout)},
		setting{key: "drain_idle_grace", value: formatDuration(c.DrainIdleGrace)},
		setting{key: "resolve_interval", value: formatResolveInterval(c.ResolveInterval)},
	)
	fromFields := map[string]bool{}
	for _, kv := range out {
		fromFields[kv.key] = true
	}
	for _, sec := range c.layout {
		if sec.idx != 0 {
			continue
		}
		for _, kv := range sec.settings {
			if !fromFields[kv.key] && !fieldGlobals[kv.key] {
				out = append(out, kv)
			}
		}
	}
	return out
}

// fieldGlobals are the global keys globalSettings writes from Config's
// fields (pid_file only when set).
var fieldGlobals = map[string]bool{"pid_file": true, "user": true}

// serverDefault is one [server] key written with its value when the
// section does not set it.
type serverDefault struct {
	key   string
	value func(*Server) string
	// when, if set, says whether the key belongs in s: Parse refuses
	// some keys without the one they depend on.
	when func(s *Server, set map[string]bool) bool
}

// hasProxy, ownsProxy and hasTLS are serverDefault.when conditions.
func hasProxy(s *Server, set map[string]bool) bool { return s.HasProxy() }

// ownsProxy: s lists its backends itself; a proxy_pass that names an
// [upstream] takes its balance and PROXY protocol there.
func ownsProxy(s *Server, set map[string]bool) bool { return s.HasProxy() && s.UpstreamName == "" }
func hasTLS(s *Server, set map[string]bool) bool    { return s.HasTLS() }

// serverDefaults lists the [server] keys a section shows when it does
// not set them, in the order of default.ini. Keys with no default value
// (server_name, static_root, proxy_pass, rate_limit, return, the lists)
// are not in it.
var serverDefaults = []serverDefault{
	{"index", func(s *Server) string { return strings.Join(s.Index, " ") }, nil},
	{"autoindex", func(s *Server) string { return onOff(s.Autoindex) }, nil},
	{"hidden_files", func(s *Server) string {
		if s.DenyHidden {
			return "deny"
		}
		return "allow"
	}, nil},
	{"proxy_prefix", func(s *Server) string { return s.ProxyPrefix }, hasProxy},
	{"balance", func(s *Server) string { return s.Balance }, ownsProxy},
	{"proxy_send_proxy_protocol", func(s *Server) string {
		return [...]string{"off", "v1", "v2"}[s.ProxySendProxyProtocol]
	}, ownsProxy},
	{"proxy_keepalive", func(s *Server) string { return strconv.Itoa(s.ProxyKeepalive) }, ownsProxy},
	{"proxy_intercept_errors", func(s *Server) string { return onOff(s.ProxyInterceptErrors) }, hasProxy},
	{"keepalive_timeout", func(s *Server) string { return formatDuration(s.KeepaliveTimeout) }, nil},
	{"keepalive_requests", func(s *Server) string { return strconv.Itoa(s.KeepaliveRequests) }, nil},
	{"header_timeout", func(s *Server) string { return formatDuration(s.HeaderTimeout) }, nil},
	{"body_timeout", func(s *Server) string { return formatDuration(s.BodyTimeout) }, nil},
	{"send_timeout", func(s *Server) string { return formatDuration(s.SendTimeout) }, nil},
	{"proxy_connect_timeout", func(s *Server) string { return formatDuration(s.ProxyConnectTimeout) }, nil},
	{"proxy_timeout", func(s *Server) string { return formatDuration(s.ProxyTimeout) }, nil},
	{"max_body_size", func(s *Server) string { return formatSize(s.MaxBodySize) }, nil},
	{"access_log", func(s *Server) string {
		if s.AccessLog == "" {
			return "off"
		}
		return s.AccessLog
	}, nil},
	{"metrics", func(s *Server) string { return onOff(s.Metrics) }, nil},
	{"rate_burst", func(s *Server) string { return strconv.Itoa(s.RateBurst) }, func(s *Server, _ map[string]bool) bool { return s.RateLimit > 0 }},
	{"rate_limit_ipv6_prefix", func(s *Server) string { return strconv.Itoa(s.RateLimitIPv6Prefix) }, func(s *Server, _ map[string]bool) bool { return s.RateLimit > 0 }},
	{"underscores_in_headers", func(s *Server) string { return onOff(s.UnderscoresInHeaders) }, nil},
	{"proxy_forwarded", func(s *Server) string { return onOff(s.ProxyForwarded) }, nil},
	{"server_tokens", func(s *Server) string { return onOff(s.ServerTokens) }, nil},
	{"gzip", func(s *Server) string { return onOff(s.Gzip) }, nil},
	{"gzip_types", func(s *Server) string { return strings.Join(s.GzipTypes, " ") }, nil},
	{"gzip_min_length", func(s *Server) string { return strconv.FormatInt(s.GzipMinLength, 10) }, nil},
	{"gzip_comp_level", func(s *Server) string { return strconv.Itoa(s.GzipLevel) }, nil},
	{"gzip_static", func(s *Server) string { return onOff(s.GzipStatic) }, nil},
	{"satisfy", func(s *Server) string {
		if s.SatisfyAny {
			return "any"
		}
		return "all"
	}, nil},
	{"healthz", func(s *Server) string { return onOff(s.Healthz) }, nil},
	{"http2", func(s *Server) string { return onOff(s.HTTP2) }, nil},
	{"real_ip_header", func(s *Server) string { return s.RealIPHeader }, func(s *Server, set map[string]bool) bool { return set["real_ip_from"] }},
	{"tls_protocols", func(s *Server) string { return tlsVersionName(s.TLSMinVersion, s.TLSMaxVersion) }, hasTLS},
	{"tls_session_tickets", func(s *Server) string { return onOff(s.TLSSessionTickets) }, hasTLS},
	{"tls_curves", func(s *Server) string { return curveNames(s.TLSCurves) }, func(s *Server, _ map[string]bool) bool { return s.TLSCurves != nil }},
	{"proxy_tls_verify", func(s *Server) string { return onOff(s.ProxyTLSVerify) }, func(s *Server, _ map[string]bool) bool { return s.ProxyTLS }},
}

// onOff writes a switch.
func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// formatDuration writes d as parseDuration reads it back exactly: in the
// largest unit that holds it (75s, 1m, 2d, 500ms), else Go's form.
func formatDuration(d time.Duration) string {
	if d == 0 {
		return "0"
	}
	for _, u := range []struct {
		unit   time.Duration
		suffix string
	}{{day, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}, {time.Millisecond, "ms"}} {
		if d%u.unit == 0 {
			return strconv.FormatInt(int64(d/u.unit), 10) + u.suffix
		}
	}
	return d.String()
}

// formatSize writes n as parseSize reads it back exactly: with the
// largest of the g, m and k suffixes that holds it.
func formatSize(n int64) string {
	for _, u := range []struct {
		shift  uint
		suffix string
	}{{30, "g"}, {20, "m"}, {10, "k"}} {
		if n != 0 && n%(1<<u.shift) == 0 {
			return strconv.FormatInt(n>>u.shift, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

// tlsVersionName writes tls_protocols for the versions min..max.
// curveNames writes tls_curves, shown only when set (unset keeps
// following the tls package's default).
func curveNames(ids []tls.CurveID) string {
	names := make([]string, len(ids))
	for i, id := range ids {
		names[i] = nptls.CurveName(id)
	}
	return strings.Join(names, ":")
}

func tlsVersionName(min, max uint16) string {
	var names []string
	for name, v := range tlsVersions {
		if v != 0 && v >= min && v <= max {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for i, n := range names {
		names[i] = "TLSv" + strings.TrimPrefix(n, "tlsv")
	}
	return strings.Join(names, " ")
}

// iniWriter writes key = value lines, quoting a value ini.v1 would
// otherwise read differently; err is the first value it could not write.
type iniWriter struct {
	b   *bytes.Buffer
	err error
}

func (w *iniWriter) line(key, value string) {
	if needsQuotes(value) {
		if strings.Contains(value, "`") {
			if w.err == nil {
				w.err = fmt.Errorf("config: %s %q: a value with a backquote and a comment marker or quotes cannot be written", key, value)
			}
			return
		}
		value = "`" + value + "`"
	}
	w.b.WriteString(key + " = " + value + "\n")
}

// needsQuotes reports whether ini.v1 (with iniOptions) would not read
// value back as it is: a comment marker after a space, or quotes at both
// ends or an opening backquote, which it strips.
func needsQuotes(v string) bool {
	if v == "" {
		return false
	}
	if strings.Contains(v, " #") || strings.Contains(v, " ;") || strings.Contains(v, "\t#") || strings.Contains(v, "\t;") {
		return true
	}
	switch v[0] {
	case '`':
		return true
	case '"', '\'':
		return len(v) >= 2 && v[len(v)-1] == v[0]
	}
	return false
}
