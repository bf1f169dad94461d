package config

import (
	"crypto/tls"
	_ "embed"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"gopkg.in/ini.v1"

	"github.com/nproxy/nproxy/accesslog"
)

// Default is the embedded default configuration, used when nproxy runs
// without -c: one server on 127.0.0.1:8080 serving the current directory.
// It is also a commented example of every key.
//
//go:embed default.ini
var Default []byte

// DefaultName is Config.File, and the file name in messages, for the
// embedded default.
const DefaultName = "<embedded>"

// iniOptions are the ini.v1 options every file is read with; scan mirrors
// them. Sections repeat ([server]); keys repeat and keep every value
// (rewrite), including equal ones, so that a repeated key is found and
// reported. Only '=' separates key and value, so an nginx habit such as
// "listen 8080" is a clear error. A comment after a value needs a space
// before its '#' or ';', and a trailing '\' is part of the value.
var iniOptions = ini.LoadOptions{
	AllowNonUniqueSections:     true,
	AllowShadows:               true,
	AllowDuplicateShadowValues: true,
	IgnoreContinuation:         true,
	SpaceBeforeInlineComment:   true,
	KeyValueDelimiters:         "=",
}

// Load reads and validates the configuration file at path. Relative paths
// in the file (static_root, pid_file, error_log, access_log, tls_cert,
// tls_key) resolve against the directory of path. Messages name the file
// as path is written. A file that cannot be read is returned as the
// *os.PathError; a file with problems as Errors.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse validates data, the text of a file called name. Relative paths in
// it resolve against the directory of name. On any problem it returns nil
// and an Errors holding every problem found.
func Parse(name string, data []byte) (*Config, error) {
	base := filepath.Dir(name)
	if abs, err := filepath.Abs(base); err == nil {
		base = abs
	}
	return parse(name, base, data)
}

// ParseFiles is Parse reading the files the TLS keys name (certificates,
// keys, CA bundles) and the WebAssembly modules module lines name from
// files, by absolute path, instead of the disk:
// files is the Config.Files of an earlier Parse of the same text, and a
// file missing from it is an error. A worker parses its master's
// configuration this way.
func ParseFiles(name string, data []byte, files map[string][]byte) (*Config, error) {
	base := filepath.Dir(name)
	if abs, err := filepath.Abs(base); err == nil {
		base = abs
	}
	return parseSnapshot(name, base, data, snapshotOf(files))
}

// snapshotOf makes a nil files an empty snapshot, so that ParseFiles
// never reads the disk.
func snapshotOf(files map[string][]byte) map[string][]byte {
	if files == nil {
		return map[string][]byte{}
	}
	return files
}

// LoadDefault returns the embedded default configuration. Unlike a file's,
// its relative paths (static_root = .) resolve against the current
// directory.
func LoadDefault() (*Config, error) {
	wd, err := os.Getwd()
	if err != nil {
		return nil, fmt.Errorf("config: default configuration: %w", err)
	}
	return parse(DefaultName, wd, Default)
}

// loader collects the problems of one file while it is applied to a Config.
type loader struct {
	file     string // name for messages
	base     string // directory relative paths resolve against
	line     int    // line of the value being applied, for keys that keep it
	problems Errors
	warnings []warning
	// upstreams are the [upstream NAME] sections (upstream.go).
	upstreams map[string]*upstreamGroup
	// maps are the [map] sections by their result's name (maps.go).
	maps map[string]*mapSection
	// logFormats are the log_format lines applied so far (logformat.go).
	logFormats map[string]*accesslog.Format
	// layout records the values applied, by section (effective.go);
	// rec is the section being applied.
	layout []*recSection
	rec    *recSection
	// captures is the regex of the [location ~ REGEX] whose keys are
	// being applied, nil elsewhere: its values may name its captures
	// (parseVars, locationcapture.go).
	captures *regexp.Regexp
	// snapshot, when not nil, holds the files the TLS keys and the
	// .wasm module lines name: they
	// are read from it, not from the disk (ParseFiles). files records
	// every one read, for Config.Files.
	snapshot map[string][]byte
	files    map[string][]byte
}

// warning is a Config.Warnings entry before it is formatted.
type warning struct {
	line int
	msg  string
}

// warnf records a formatted warning at line.
func (l *loader) warnf(line int, format string, args ...any) {
	l.warnings = append(l.warnings, warning{line, fmt.Sprintf(format, args...)})
}

// formatWarnings returns l's warnings as Config.Warnings: in line order,
// each "FILE:LINE: warning: MESSAGE".
func (l *loader) formatWarnings() []string {
	sort.SliceStable(l.warnings, func(i, j int) bool { return l.warnings[i].line < l.warnings[j].line })
	var out []string
	for _, w := range l.warnings {
		out = append(out, l.file+":"+strconv.Itoa(w.line)+": warning: "+w.msg)
	}
	return out
}

// add records a problem at line.
func (l *loader) add(line int, kind error, msg string) {
	l.problems = append(l.problems, &Problem{File: l.file, Line: line, Msg: msg, Err: kind})
}

// addf records a formatted problem at line.
func (l *loader) addf(line int, kind error, format string, args ...any) {
	l.add(line, kind, fmt.Sprintf(format, args...))
}

// addValue records err, returned by a key's parser, as a problem of key.
func (l *loader) addValue(line int, key string, err error) {
	kind := ErrValue
	if ke, ok := err.(*kindError); ok {
		kind = ke.kind
	}
	l.add(line, kind, key+": "+err.Error())
}

// newConfig returns a Config holding the global defaults.
func newConfig(file string) *Config {
	return &Config{
		File:              file,
		WorkerProcesses:   0, // set below unless worker_processes is given
		Backend:           "auto",
		WorkerConnections: DefaultWorkerConnections,
		ErrorLog:          "stderr",
		LogLevel:          "info",
		ErrorLogFormat:    "text",

		WorkerShutdownTimeout: DefaultWorkerShutdownTimeout,
		DrainIdleGrace:        DefaultDrainIdleGrace,
	}
}

// newServer returns a Server holding the defaults, for a header at line.
func newServer(line int) *Server {
	return &Server{
		Line:                line,
		Index:               []string{"index.html"},
		ProxyPrefix:         "/",
		Balance:             "round_robin",
		KeepaliveTimeout:    DefaultKeepaliveTimeout,
		HeaderTimeout:       DefaultTimeout,
		BodyTimeout:         DefaultTimeout,
		SendTimeout:         DefaultTimeout,
		ProxyConnectTimeout: DefaultTimeout,
		ProxyTimeout:        DefaultTimeout,
		MaxBodySize:         DefaultMaxBodySize,
		RateLimitIPv6Prefix: DefaultRateLimitIPv6Prefix,
		TLSMinVersion:       tls.VersionTLS12,
		TLSMaxVersion:       tls.VersionTLS13,
		TLSSessionTickets:   true,
		ProxyTLSVerify:      true,
		ServerTokens:        true,
		Healthz:             true,
		RealIPHeader:        "X-Real-IP",
		GzipTypes:           DefaultGzipTypes,
		GzipMinLength:       DefaultGzipMinLength,
		GzipLevel:           1,
		ProxyKeepalive:      DefaultProxyKeepalive,
	}
}

// parse is Parse with an explicit base directory.
func parse(name, base string, data []byte) (*Config, error) {
	return parseSnapshot(name, base, data, nil)
}

// parseSnapshot is parse reading the files TLS keys name from snapshot
// unless it is nil.
func parseSnapshot(name, base string, data []byte, snapshot map[string][]byte) (*Config, error) {
	l := &loader{file: name, base: base, snapshot: snapshot}
	sc := scan(data, l.add)
	cfg := newConfig(name)
	if sc.text != nil {
		l.apply(sc, cfg)
	}
	if len(l.problems) > 0 {
		l.problems.sortByLine()
		return nil, l.problems
	}
	cfg.Warnings = l.formatWarnings()
	cfg.Files = l.files
	sort.SliceStable(l.layout, func(i, j int) bool { return l.layout[i].idx < l.layout[j].idx })
	cfg.layout = l.layout
	return cfg, nil
}

// apply reads the scanned text with ini.v1 and applies every section to
// cfg, recording problems in l.
func (l *loader) apply(sc *scanned, cfg *Config) {
	f, err := ini.LoadSources(iniOptions, sc.text)
	if err != nil {
		// scan rejects what ini.v1 refuses, so this is a disagreement
		// between the two: report it rather than hide it.
		l.addf(1, ErrSyntax, "%v", err)
		return
	}
	sections := f.Sections()
	l.applyMaps(sections, sc)
	l.applyUpstreams(sections, sc)
	var srv *Server // the last [server], which a [location] belongs to
	serverSeen := false
	for i, sec := range sections {
		ss := &scanSection{name: sec.Name(), line: 1}
		if i < len(sc.sections) {
			ss = sc.sections[i]
		}
		if !isUpstreamSection(sec.Name()) && !isMapSection(sec.Name()) { // recorded by applyUpstreams, applyMaps
			l.beginSection(i, sec.Name())
		}
		switch {
		case i == 0:
			l.applyGlobal(sec, ss, cfg)
		case strings.TrimSpace(sec.Name()) == "server":
			srv, serverSeen = l.applyServer(sec, ss), true
			l.rec.srv = srv
			if srv != nil {
				cfg.Servers = append(cfg.Servers, srv)
			}
		case isLocationSection(sec.Name()):
			l.applyLocation(sec, ss, srv, serverSeen)
		case isUpstreamSection(sec.Name()), isMapSection(sec.Name()):
			// Read before the [server]s (applyUpstreams, applyMaps).
		default:
			l.addf(ss.line, ErrUnknownSection, "%s: unknown section (only [server], [location MATCH], [upstream NAME] and [map $SOURCE $RESULT] sections; global keys go before the first section)", keyName("["+sec.Name()+"]"))
		}
	}
	l.warnUnusedUpstreams()
	for _, s := range cfg.Servers {
		l.checkShadowed(s)
	}
	if cfg.WorkerProcesses == 0 {
		cfg.WorkerProcesses = min(numCPU(), MaxWorkers)
	}
	if !hasServerSection(sections) {
		l.add(sc.lines, ErrMissing, "no [server] section: at least one is required")
	}
	l.addStatusServer(cfg)
	l.checkConflicts(cfg.Servers)
	l.checkProxyProtocol(cfg.Servers)
	l.checkDefaultServer(cfg.Servers)
	l.checkHTTP2(cfg.Servers)
	l.checkRunAs(cfg.User)
}

// hasServerSection reports whether any section is a [server], valid or not.
func hasServerSection(sections []*ini.Section) bool {
	for i, s := range sections {
		if i > 0 && strings.TrimSpace(s.Name()) == "server" {
			return true
		}
	}
	return false
}

// keyValue returns the value of k and the line to report it at, and
// reports what is wrong with the key itself: a repeat (unless repeatable)
// or a feature that is not built.
func (l *loader) keyValue(k *ini.Key, ss *scanSection) (value string, line int, ok bool) {
	name := k.Name()
	lines := ss.keys[name]
	line = ss.line
	if len(lines) > 0 {
		line = lines[0].line
	}
	if len(lines) > 1 && !repeatable[name] {
		l.addf(lines[1].line, ErrDuplicateKey, "%s: set again (first set on line %d)", name, line)
	}
	if feature, ok := NotImplemented[name]; ok {
		l.addf(line, ErrNotImplemented, "%s: %s is not available in this build", name, feature)
		return "", line, false
	}
	value = strings.TrimSpace(k.Value())
	if value == "" {
		l.addf(line, ErrValue, "%s: missing value", name)
		return "", line, false
	}
	l.record(name, value, line)
	return value, line, true
}

// unknownKey reports a key that is not allowed in its section.
func (l *loader) unknownKey(name string, line int, inServer bool) {
	switch {
	case inServer && globalKeys[name] != nil:
		l.addf(line, ErrUnknownKey, "%s: a global key: put it before the first section", name)
	case !inServer && serverKeys[name] != nil:
		l.addf(line, ErrUnknownKey, "%s: belongs in a [server] section", name)
	case locationOnlyKeys[name] != nil:
		l.addf(line, ErrUnknownKey, "%s: belongs in a [location] section", name)
	default:
		msg := keyName(name) + ": unknown key"
		if s := suggest(name); s != "" {
			msg += " (did you mean " + s + "?)"
		}
		l.add(line, ErrUnknownKey, msg)
	}
}

// firstLine returns the line of the first occurrence of key in ss, or the
// section's line.
func firstLine(ss *scanSection, key string) int {
	if lines := ss.keys[key]; len(lines) > 0 {
		return lines[0].line
	}
	return ss.line
}

// applyGlobal applies the global section.
func (l *loader) applyGlobal(sec *ini.Section, ss *scanSection, cfg *Config) {
	for _, k := range sec.Keys() {
		apply, known := globalKeys[k.Name()]
		if !known {
			l.unknownKey(k.Name(), firstLine(ss, k.Name()), false)
			continue
		}
		if repeatable[k.Name()] { // module
			l.applyRepeated(k, ss, nil, func(l *loader, _ *Server, v string) error { return apply(l, cfg, v) })
			continue
		}
		v, line, ok := l.keyValue(k, ss)
		if !ok {
			continue
		}
		l.line = line
		if err := apply(l, cfg, v); err != nil {
			l.addValue(line, k.Name(), err)
		}
	}
}

// applyServer applies one [server] section and checks the keys against
// each other. It returns nil if the server has no usable listen address.
func (l *loader) applyServer(sec *ini.Section, ss *scanSection) *Server {
	srv := newServer(ss.line)
	present := map[string]int{} // key -> line, for keys given (valid or not)
	for _, k := range sec.Keys() {
		name := k.Name()
		apply, known := serverKeys[name]
		if !known {
			l.unknownKey(name, firstLine(ss, name), true)
			continue
		}
		if repeatable[name] {
			present[name] = firstLine(ss, name)
			l.applyRepeated(k, ss, srv, apply)
			continue
		}
		v, line, ok := l.keyValue(k, ss)
		present[name] = line
		switch name {
		case "server_name":
			srv.nameLine = line
		case "listen":
			srv.listenLine = line
		}
		if !ok {
			continue
		}
		l.line = line
		if err := apply(l, srv, v); err != nil {
			l.addValue(line, name, err)
		}
	}

	l.checkUpstreamUse(sec, present)
	_, hasListen := present["listen"]
	if !hasListen {
		l.add(ss.line, ErrMissing, "[server]: listen is required")
	}
	needs := []struct{ key, needed, why string }{
		{"rate_burst", "rate_limit", "a burst needs a rate"},
		{"rate_limit_ipv6_prefix", "rate_limit", "the prefix keys the rate limit"},
		{"try_files", "static_root", "try_files looks up files"},
		{"health_check", "proxy_pass", "health_check probes the backends"},
		{"tls_protocols", "tls_cert", "TLS settings need a certificate"},
		{"tls_client_ca", "tls_cert", "clients are asked for a certificate during a TLS handshake"},
		{"tls_session_tickets", "tls_cert", "TLS settings need a certificate"},
		{"tls_curves", "tls_cert", "TLS settings need a certificate"},
	}
	for _, n := range needs {
		line, has := present[n.key]
		_, hasNeeded := present[n.needed]
		if has && !hasNeeded && NotImplemented[n.key] == "" {
			l.addf(line, ErrMissing, "%s: needs %s in the same [server] (%s)", n.key, n.needed, n.why)
		}
	}
	l.checkServerTLS(srv, present)
	l.checkServerHandler(present)
	l.checkAccess(srv, present)
	l.checkInterceptErrors(srv, present)
	l.checkRealIP(srv, present)
	if len(srv.Listen) == 0 {
		return nil
	}
	return srv
}

// applyRepeated applies every occurrence of a repeatable key, each
// reported at its own line.
func (l *loader) applyRepeated(k *ini.Key, ss *scanSection, srv *Server, apply serverKey) {
	name := k.Name()
	if feature, ok := NotImplemented[name]; ok {
		l.addf(firstLine(ss, name), ErrNotImplemented, "%s: %s is not available in this build", name, feature)
		return
	}
	// ini.v1 drops empty values from ValueWithShadows: pair the values it
	// kept with the occurrences whose text is not empty.
	values := k.ValueWithShadows()
	lines := ss.keys[name]
	vi := 0
	for _, kl := range lines {
		if isBlankValue(kl.raw) || vi >= len(values) {
			l.addf(kl.line, ErrValue, "%s: missing value", name)
			continue
		}
		l.line = kl.line
		l.record(name, strings.TrimSpace(values[vi]), kl.line)
		if err := apply(l, srv, strings.TrimSpace(values[vi])); err != nil {
			l.addValue(kl.line, name, err)
		}
		vi++
	}
	for ; vi < len(values); vi++ { // only if scan and ini.v1 disagree
		l.line = firstLine(ss, name)
		l.record(name, strings.TrimSpace(values[vi]), l.line)
		if err := apply(l, srv, strings.TrimSpace(values[vi])); err != nil {
			l.addValue(firstLine(ss, name), name, err)
		}
	}
}

// isBlankValue reports whether raw, the text after '=', is a value ini.v1
// reads as empty: nothing, a comment (after a space), or empty quotes.
func isBlankValue(raw string) bool {
	if !strings.HasPrefix(raw, `"""`) && !strings.HasPrefix(raw, "`") {
		i := strings.Index(raw, " #")
		if i < 0 {
			i = strings.Index(raw, " ;")
		}
		if i >= 0 {
			raw = strings.TrimSpace(raw[:i])
		}
	}
	switch raw {
	case "", `""`, "''", "``", `""""""`:
		return true
	}
	return false
}

// checkConflicts reports two servers on one listen address with the same
// server name (or both without one): the second could never be chosen.
// nginx warns and ignores the second; a silent dead server is worse.
// Servers on one address must also agree on TLS: a connection is TLS or
// not before any name is known, so an address is a TLS one (its servers
// chosen by SNI) or a plain one.
func (l *loader) checkConflicts(servers []*Server) {
	type claim struct{ addr, name string }
	first := map[claim]*Server{}
	byAddr := map[string]*Server{} // first server on each address
	for _, s := range servers {
		for _, addr := range s.Listen {
			prev, seen := byAddr[addr]
			switch {
			case !seen:
				byAddr[addr] = s
			case (prev.tlsLine != 0) != (s.tlsLine != 0):
				with, without := prev, s
				if s.tlsLine != 0 {
					with, without = s, prev
				}
				l.addf(s.listenLine, ErrConflict, "listen %s: TLS on one [server] of this address and not on another (the [server] on line %d has tls_cert, the one on line %d has none)", addr, with.Line, without.Line)
			}
		}
	}
	for _, s := range servers {
		names := s.ServerNames
		if len(names) == 0 {
			names = []string{""}
		}
		for _, addr := range s.Listen {
			for _, name := range names {
				c := claim{addr, name}
				prev, taken := first[c]
				if !taken {
					first[c] = s
					continue
				}
				if prev == s {
					continue
				}
				if name == "" {
					l.addf(s.Line, ErrConflict, "[server]: on %s without server_name, like the [server] on line %d: only the first is ever chosen", addr, prev.Line)
				} else {
					l.addf(s.nameLine, ErrConflict, "server_name: %q on %s is already used by the [server] on line %d", name, addr, prev.Line)
				}
			}
		}
	}
}

// keyName returns name for a message: as it is when it is plain text,
// else quoted.
func keyName(name string) string {
	for _, r := range name {
		if !unicode.IsPrint(r) || r == '"' {
			return strconv.Quote(name)
		}
	}
	return name
}
