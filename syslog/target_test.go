package syslog

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Target
	}{
		{"defaults", "syslog:server=192.0.2.1",
			Target{Network: "udp", Addr: "192.0.2.1:514", Facility: 23, Severity: 6, Tag: "nproxy"}},
		{"port", "syslog:server=127.0.0.1:5140",
			Target{Network: "udp", Addr: "127.0.0.1:5140", Facility: 23, Severity: 6, Tag: "nproxy"}},
		{"ipv6 with port", "syslog:server=[2001:db8::1]:12345,facility=local7,tag=nginx,severity=info",
			Target{Network: "udp", Addr: "[2001:db8::1]:12345", Facility: 23, Severity: 6, Tag: "nginx"}},
		{"bare ipv6", "syslog:server=2001:db8::1",
			Target{Network: "udp", Addr: "[2001:db8::1]:514", Facility: 23, Severity: 6, Tag: "nproxy"}},
		{"host name", "syslog:server=logs.example.com:601",
			Target{Network: "udp", Addr: "logs.example.com:601", Facility: 23, Severity: 6, Tag: "nproxy"}},
		{"unix", "syslog:server=unix:/dev/log,nohostname,facility=daemon,severity=notice,tag=web_1",
			Target{Network: "unixgram", Addr: "/dev/log", Facility: 3, Severity: 5, Tag: "web_1", NoHostname: true}},
		{"kern is zero", "syslog:server=10.0.0.1,facility=kern,severity=emerg",
			Target{Network: "udp", Addr: "10.0.0.1:514", Facility: 0, Severity: 0, Tag: "nproxy"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Parse(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"/var/log/x", "want syslog:server="},
		{"syslog:", "empty parameter"},
		{"syslog:facility=local0", "no server=ADDRESS"},
		{"syslog:server=", "neither an IP address nor a host name"},
		{"syslog:server=10.0.0.1:0", `bad port "0"`},
		{"syslog:server=10.0.0.1:99999", `bad port "99999"`},
		{"syslog:server=10.0.0.1:x", `bad port "x"`},
		{"syslog:server=[::1", "not HOST[:PORT]"},
		{"syslog:server=bad_host!", "neither an IP address nor a host name"},
		{"syslog:server=unix:dev/log", "must be absolute"},
		{"syslog:server=unix:/" + strings.Repeat("a", 120), "longer than 107"},
		{"syslog:server=10.0.0.1,facility=local8", `unknown facility "local8"`},
		{"syslog:server=10.0.0.1,severity=warning", `unknown severity "warning"`},
		{"syslog:server=10.0.0.1,tag=", "want 1 to 32"},
		{"syslog:server=10.0.0.1,tag=" + strings.Repeat("t", 33), "want 1 to 32"},
		{"syslog:server=10.0.0.1,tag=a-b", "only letters, digits"},
		{"syslog:server=10.0.0.1,nohostname=1", `unknown parameter "nohostname=1"`},
		{"syslog:server=10.0.0.1,buffer=32k", `unknown parameter "buffer=32k"`},
		{"syslog:server=10.0.0.1,server=10.0.0.2", "server given twice"},
		{"syslog:server=10.0.0.1,", "empty parameter"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%q) = %v, want an error with %q", tt.in, err, tt.want)
		}
	}
}
