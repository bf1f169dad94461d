package syslog

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// Prefix starts a log destination that is a syslog server instead of a
// file.
const Prefix = "syslog:"

// DefaultPort is the UDP port of a server= address without one (RFC 3164).
const DefaultPort = 514

// DefaultTag is the tag of a target without tag= (nginx's is "nginx").
const DefaultTag = "nproxy"

// maxTag is nginx's limit on the tag's length (RFC 3164 says 32
// characters).
const maxTag = 32

// Facilities, by RFC 3164 code, with nginx's names.
var facilities = [...]string{
	"kern", "user", "mail", "daemon", "auth", "intern", "lpr", "news",
	"uucp", "clock", "authpriv", "ftp", "ntp", "audit", "alert", "cron",
	"local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
}

// Severities, by RFC 3164 code, with the names of nginx's error_log
// levels.
var severities = [...]string{"emerg", "alert", "crit", "error", "warn", "notice", "info", "debug"}

// Severity codes this package's users name.
const (
	SevError  = 3
	SevWarn   = 4
	SevNotice = 5
	SevInfo   = 6
	SevDebug  = 7
)

// FacilityLocal7 is the facility of a target without facility=.
const FacilityLocal7 = 23

// Target is where and how lines are sent: a parsed syslog: destination.
type Target struct {
	// Network is "udp" or "unixgram"; Addr is "HOST:PORT" (the host an
	// IP address or a name resolved when a Writer opens) or the socket's
	// path.
	Network, Addr string
	Facility      int // 0..23
	Severity      int // 0..7; the access log's, the error log uses the line's level
	Tag           string
	NoHostname    bool
}

// IsTarget reports whether the log destination s is a syslog server.
func IsTarget(s string) bool { return strings.HasPrefix(s, Prefix) }

// Parse parses a destination "syslog:server=ADDR[,facility=F][,severity=S][,tag=T][,nohostname]",
// with nginx's parameters and defaults (facility local7, severity info)
// and the tag DefaultTag. ADDR is an IP address or a host name with an
// optional port (514 by default; an IPv6 address in brackets when it
// has one) or unix:PATH, an absolute path.
func Parse(s string) (Target, error) {
	rest, ok := strings.CutPrefix(s, Prefix)
	if !ok {
		return Target{}, fmt.Errorf("syslog: %q: want %sserver=ADDRESS[,PARAMETER...]", s, Prefix)
	}
	t := Target{Facility: FacilityLocal7, Severity: SevInfo, Tag: DefaultTag}
	seen := map[string]bool{}
	for _, p := range strings.Split(rest, ",") {
		name, val, hasVal := strings.Cut(p, "=")
		if seen[name] {
			return Target{}, fmt.Errorf("syslog: %q: %s given twice", s, name)
		}
		seen[name] = true
		var err error
		switch {
		case name == "server" && hasVal:
			t.Network, t.Addr, err = parseServer(val)
		case name == "facility" && hasVal:
			t.Facility, err = lookup("facility", val, facilities[:])
		case name == "severity" && hasVal:
			t.Severity, err = lookup("severity", val, severities[:])
		case name == "tag" && hasVal:
			t.Tag, err = val, checkTag(val)
		case name == "nohostname" && !hasVal:
			t.NoHostname = true
		case name == "":
			err = fmt.Errorf("empty parameter")
		default:
			err = fmt.Errorf("unknown parameter %q (server=, facility=, severity=, tag=, nohostname)", p)
		}
		if err != nil {
			return Target{}, fmt.Errorf("syslog: %q: %w", s, err)
		}
	}
	if t.Network == "" {
		return Target{}, fmt.Errorf("syslog: %q: no server=ADDRESS", s)
	}
	return t, nil
}

// parseServer parses server='s address.
func parseServer(v string) (network, addr string, err error) {
	if path, ok := strings.CutPrefix(v, "unix:"); ok {
		if !strings.HasPrefix(path, "/") {
			return "", "", fmt.Errorf("server=%s: the socket's path must be absolute", v)
		}
		if len(path) > 107 { // sun_path holds 108 bytes with its NUL
			return "", "", fmt.Errorf("server=%s: the socket's path is longer than 107 bytes", v)
		}
		return "unixgram", path, nil
	}
	host, port := v, strconv.Itoa(DefaultPort)
	if h, p, err := net.SplitHostPort(v); err == nil {
		host, port = h, p
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "", "", fmt.Errorf("server=%s: bad port %q", v, p)
		}
	} else if strings.HasPrefix(v, "[") || strings.Count(v, ":") == 1 {
		return "", "", fmt.Errorf("server=%s: not HOST[:PORT], [IPV6][:PORT] or unix:PATH", v)
	}
	if a, err := netip.ParseAddr(host); err == nil {
		if a.Zone() != "" {
			return "", "", fmt.Errorf("server=%s: an address with a zone is not supported", v)
		}
		return "udp", net.JoinHostPort(a.Unmap().String(), port), nil
	}
	if !validHostname(host) {
		return "", "", fmt.Errorf("server=%s: %q is neither an IP address nor a host name", v, host)
	}
	return "udp", net.JoinHostPort(host, port), nil
}

// validHostname reports whether h is a DNS name: labels of letters,
// digits and hyphens, separated by dots.
func validHostname(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// lookup returns the code of name among names.
func lookup(what, name string, names []string) (int, error) {
	for i, n := range names {
		if n == name {
			return i, nil
		}
	}
	if what == "facility" {
		return 0, fmt.Errorf("unknown facility %q (kern, user, mail, daemon, auth, intern, lpr, news, uucp, clock, authpriv, ftp, ntp, audit, alert, cron, local0..local7)", name)
	}
	return 0, fmt.Errorf("unknown %s %q (%s)", what, name, strings.Join(names, ", "))
}

// checkTag checks a tag as nginx does: 1 to 32 letters, digits and
// underscores (the tag ends at the first other character for a syslog
// server reading RFC 3164).
func checkTag(tag string) error {
	if tag == "" || len(tag) > maxTag {
		return fmt.Errorf("tag=%s: want 1 to %d characters", tag, maxTag)
	}
	for i := 0; i < len(tag); i++ {
		c := tag[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return fmt.Errorf("tag=%s: only letters, digits and '_' are allowed", tag)
		}
	}
	return nil
}

// FacilityName returns the name of facility code f.
func FacilityName(f int) string { return facilities[f] }

// SeverityName returns the name of severity code s.
func SeverityName(s int) string { return severities[s] }
