package config

import (
	"strings"
	"testing"
)

// TestProxyInterceptErrors checks proxy_intercept_errors: its value, its
// inheritance by a [location], FILE:LINE for a bad value, and the
// warnings where it can change nothing.
func TestProxyInterceptErrors(t *testing.T) {
	cfg, err := Parse("i.ini", []byte("[server]\nlisten = 127.0.0.1:8080\nproxy_pass = 127.0.0.1:9000\n"+
		"proxy_intercept_errors = on\nerror_page = 404 /404.html\n"+
		"[location /a/]\nproxy_pass = 127.0.0.1:9001\n"+
		"[location /b/]\nproxy_intercept_errors = off\n"))
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Servers[0]
	if !s.ProxyInterceptErrors || !s.Locations[0].Server.ProxyInterceptErrors || s.Locations[1].Server.ProxyInterceptErrors {
		t.Errorf("server %v, /a/ %v (inherited), /b/ %v (off)", s.ProxyInterceptErrors,
			s.Locations[0].Server.ProxyInterceptErrors, s.Locations[1].Server.ProxyInterceptErrors)
	}
	if len(cfg.Warnings) != 0 {
		t.Errorf("warnings: %q", cfg.Warnings)
	}

	_, err = Parse("i.ini", []byte("[server]\nlisten = 127.0.0.1:8080\nproxy_pass = 127.0.0.1:9000\nproxy_intercept_errors = maybe\n"))
	if err == nil || !strings.Contains(err.Error(), "i.ini:4: ") || !strings.Contains(err.Error(), "proxy_intercept_errors") {
		t.Errorf("bad value: %v", err)
	}

	cfg, err = Parse("i.ini", []byte("[server]\nlisten = 127.0.0.1:8080\nstatic_root = /tmp\nproxy_intercept_errors = on\n"+
		"error_page = 404 /404.html\n"+
		"[location /api/]\nproxy_pass = 127.0.0.1:9000\nproxy_intercept_errors = on\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"i.ini:4: warning: proxy_intercept_errors = on: no proxy_pass here",
		"i.ini:8: warning: proxy_intercept_errors = on: no error_page here"}
	if len(cfg.Warnings) != 1 || !strings.HasPrefix(cfg.Warnings[0], want[0]) {
		t.Errorf("warnings %q, want %q", cfg.Warnings, want[0])
	}
	cfg, err = Parse("i.ini", []byte("[server]\nlisten = 127.0.0.1:8080\nproxy_pass = 127.0.0.1:9000\n"+
		"[location /api/]\nproxy_pass = 127.0.0.1:9000\nproxy_intercept_errors = on\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Warnings) != 1 || !strings.HasPrefix(cfg.Warnings[0], strings.Replace(want[1], ":8:", ":6:", 1)) {
		t.Errorf("warnings %q, want %q", cfg.Warnings, want[1])
	}
}
