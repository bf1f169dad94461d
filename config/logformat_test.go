package config

import (
	"strings"
	"testing"

	"github.com/nproxy/nproxy/accesslog"
)

func TestLogFormat(t *testing.T) {
	cfg, err := Parse("t.ini", []byte(`log_format = main '$remote_addr "$request" $status $request_id'
log_format = js escape=json {"a":"$remote_addr","ua":"$http_user_agent"}
[server]
listen = 127.0.0.1:1
access_log = /tmp/a.log main
[server]
listen = 127.0.0.1:2
access_log = /tmp/b.log json
[server]
listen = 127.0.0.1:3
access_log = /tmp/c.log
[server]
listen = 127.0.0.1:4
access_log = /tmp/d.log js
[server]
listen = 127.0.0.1:5
access_log = /tmp/e.log if=$http_x_log
`))
	if err != nil {
		t.Fatal(err)
	}
	if f := cfg.Servers[0].AccessFormat; f == nil || f.Name != "main" || !f.Uses(accesslog.VarRequestID) {
		t.Errorf("server 1 format %+v", f)
	}
	if f := cfg.Servers[1].AccessFormat; f == nil || f.Name != "json" {
		t.Errorf("server 2 format %+v", f)
	}
	if f := cfg.Servers[2].AccessFormat; f != accesslog.Combined {
		t.Errorf("server 3 format %+v, want combined", f)
	}
	if f := cfg.Servers[3].AccessFormat; f == nil || f.Name != "js" || len(f.Headers) != 1 || f.Headers[0] != "user-agent" {
		t.Errorf("server 4 format %+v", f)
	}
	if f := cfg.Servers[4].AccessFormat; f == nil || f.Name != "combined" || len(f.Headers) != 3 || f.Headers[2] != "x-log" {
		t.Errorf("server 5 format %+v", f)
	}
}

func TestLogFormatErrors(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"unknown variable", "log_format = a $remote_addr $nope\n", `t.ini:1: log_format: a: unknown variable $nope (known: $args`},
		{"no template", "log_format = a\n", `t.ini:1: log_format: "a": want NAME [escape=default|json|none] TEMPLATE`},
		{"built in", "log_format = combined $status\n", `t.ini:1: log_format: "combined": the combined format is built in`},
		{"twice", "log_format = a $status\nlog_format = a $uri\n", `t.ini:2: log_format: "a": defined twice`},
		{"escape", "log_format = a escape=xml $status\n", `t.ini:1: log_format: escape="xml": must be default, json or none`},
		{"unknown format", "[server]\nlisten = 127.0.0.1:1\naccess_log = /tmp/x.log main\n", `t.ini:3: access_log: "/tmp/x.log main": no log_format "main" (built in: combined, json)`},
		{"condition without $", "[server]\nlisten = 127.0.0.1:1\naccess_log = /tmp/x.log if=status\n", `t.ini:3: access_log: "/tmp/x.log if=status": bad log format: if=status: want if=$VARIABLE`},
		{"condition unknown", "[server]\nlisten = 127.0.0.1:1\naccess_log = /tmp/x.log json if=$nope\n", `t.ini:3: access_log: "/tmp/x.log json if=$nope": unknown variable $nope`},
		{"format after the condition", "[server]\nlisten = 127.0.0.1:1\naccess_log = /tmp/x.log if=$status json\n", `want PATH [FORMAT] [if=$VARIABLE]`},
		{"error log format", "error_log_format = xml\n", `t.ini:1: error_log_format: "xml"`},
		{"in a server", "[server]\nlisten = 127.0.0.1:1\nlog_format = a $status\n", `t.ini:3: log_format:`},
	}
	for _, tt := range tests {
		_, err := Parse("t.ini", []byte(tt.text))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.want)
		}
	}
}
