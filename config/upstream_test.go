package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestUpstreamGroups checks that proxy_pass = NAME gives a [server] and a
// [location] the group's backends, weights, balance and health_check,
// whether the [upstream] comes before or after them, that a name no
// group has is still a host name, and that an unused group is a warning.
func TestUpstreamGroups(t *testing.T) {
	cfg, err := Parse("u.ini", []byte(`[upstream api]
server = 127.0.0.1:9001 weight=3
server = 127.0.0.1:9002
balance = least_conn
health_check = /ping 2s

[server]
listen = 127.0.0.1:8080
proxy_pass = api

[location /auth/]
proxy_pass = auth

[location /other/]
proxy_pass = backend.internal

[upstream auth]
server = https://127.0.0.1:9443

[upstream spare]
server = 127.0.0.1:9999
`))
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Servers[0]
	want := []Upstream{{Addr: "127.0.0.1:9001", Weight: 3}, {Addr: "127.0.0.1:9002", Weight: 1}}
	if !reflect.DeepEqual(s.ProxyPass, want) || s.Balance != "least_conn" || s.HealthCheck != "/ping" || s.HealthEvery != 2*time.Second {
		t.Errorf("[server]: %+v %q %q %v", s.ProxyPass, s.Balance, s.HealthCheck, s.HealthEvery)
	}
	auth := s.Locations[0].Server
	if !reflect.DeepEqual(auth.ProxyPass, []Upstream{{Addr: "127.0.0.1:9443", Weight: 1}}) || !auth.ProxyTLS || auth.Balance != "round_robin" || auth.HealthCheck != "" {
		t.Errorf("[location /auth/]: %+v tls=%v %q %q", auth.ProxyPass, auth.ProxyTLS, auth.Balance, auth.HealthCheck)
	}
	if other := s.Locations[1].Server; len(other.ProxyPass) != 1 || other.ProxyPass[0].Addr != "backend.internal:80" {
		t.Errorf("[location /other/]: %+v", other.ProxyPass)
	}
	if len(cfg.Warnings) != 1 || !strings.Contains(cfg.Warnings[0], "u.ini:20: warning: [upstream spare]: no proxy_pass names it") {
		t.Errorf("warnings: %q", cfg.Warnings)
	}
}
