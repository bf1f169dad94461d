package config

import "testing"

// TestHTTP2Default: http2 is on by default for a [server] with TLS, off in
// the clear, and what the file says wins either way, proxy_pass or not.
func TestHTTP2Default(t *testing.T) {
	fixClock(t)
	dir := tlsFixture(t)
	const pair = "tls_cert = ec.crt\ntls_key = ec.key\n"
	tests := []struct {
		name string
		keys string // after "[server]\nlisten = 127.0.0.1:8443\n"
		want bool
	}{
		{name: "plain", keys: "static_root = .\n", want: false},
		{name: "plain on", keys: "static_root = .\nhttp2 = on\n", want: true},
		{name: "tls", keys: pair + "static_root = .\n", want: true},
		{name: "tls off", keys: pair + "static_root = .\nhttp2 = off\n", want: false},
		{name: "tls proxy", keys: pair + "proxy_pass = 127.0.0.1:9000\n", want: true},
		{name: "plain proxy on", keys: "proxy_pass = 127.0.0.1:9000\nhttp2 = on\n", want: true},
		{name: "tls location proxy", keys: pair + "static_root = .\n[location /api/]\nproxy_pass = 127.0.0.1:9000\n", want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parseIn(dir, "[server]\nlisten = 127.0.0.1:8443\n"+tt.keys)
			if !checkErr(t, err, "") {
				return
			}
			if got := cfg.Servers[0].HTTP2; got != tt.want {
				t.Errorf("HTTP2 = %v, want %v", got, tt.want)
			}
		})
	}
}
