package syslog

import (
	"net"
	"strconv"
	"strings"
	"testing"
)

// FuzzParse: whatever a configuration holds after "syslog:", Parse
// returns an error or a Target whose every field is in range: a network
// it knows, an address a Writer can use, a facility and severity the
// priority is made of, a tag nginx would accept.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"server=127.0.0.1", "server=[::1]:514,facility=local0,severity=debug,tag=a_1,nohostname",
		"server=unix:/dev/log", "server=example.com:5140", "server=", "server=[", "server=::1", "nohostname",
		"server=1.2.3.4,server=5.6.7.8", "server=1.2.3.4,,", "server=host:-1", "server=fe80::1%eth0",
		"server=unix:relative", "tag=" + strings.Repeat("t", 40), "facility=local7=1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		tg, err := Parse(Prefix + in)
		if err != nil {
			return
		}
		switch tg.Network {
		case "unixgram":
			if !strings.HasPrefix(tg.Addr, "/") || len(tg.Addr) > 107 {
				t.Fatalf("%q: socket path %q", in, tg.Addr)
			}
		case "udp":
			host, port, err := net.SplitHostPort(tg.Addr)
			if err != nil || host == "" {
				t.Fatalf("%q: address %q: %v", in, tg.Addr, err)
			}
			if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
				t.Fatalf("%q: port %q", in, port)
			}
		default:
			t.Fatalf("%q: network %q", in, tg.Network)
		}
		if tg.Facility < 0 || tg.Facility >= len(facilities) || tg.Severity < 0 || tg.Severity >= len(severities) {
			t.Fatalf("%q: facility %d severity %d", in, tg.Facility, tg.Severity)
		}
		if checkTag(tg.Tag) != nil {
			t.Fatalf("%q: tag %q", in, tg.Tag)
		}
	})
}
