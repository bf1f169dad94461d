package config

import (
	"path/filepath"
	"testing"
)

func TestListenAt(t *testing.T) {
	dir := t.TempDir()
	cfg, err := Parse(filepath.Join(dir, "l.ini"), []byte("[server]\nlisten = 127.0.0.1:1\n\n[server]\nserver_name = b\nlisten = *:2, 127.0.0.1:3 proxy_protocol\n"))
	if err != nil {
		t.Fatal(err)
	}
	for addr, want := range map[string]string{
		"127.0.0.1:1": "l.ini:2", "0.0.0.0:2": "l.ini:6", "127.0.0.1:3": "l.ini:6", "127.0.0.1:4": "l.ini",
	} {
		if got := cfg.ListenAt(addr); got != filepath.Join(dir, want) {
			t.Errorf("ListenAt(%s) = %q, want %q", addr, got, filepath.Join(dir, want))
		}
	}
}

// TestCheckUpstreamHosts resolves the names of proxy_pass and [upstream]
// lines: localhost resolves (from /etc/hosts), a name under .invalid
// never does (RFC 6761), and each failure is reported at its line.
func TestCheckUpstreamHosts(t *testing.T) {
	text := "[upstream g]\nserver = localhost:1\nserver = a.nproxy-test.invalid:2\n" +
		"[server]\nlisten = 127.0.0.1:1\nproxy_pass = g\n" +
		"[server]\nlisten = 127.0.0.1:2\nproxy_pass = 127.0.0.1:9, b.nproxy-test.invalid:80\n" +
		"[location /x/]\nproxy_pass = localhost:3\n"
	cfg, err := Parse("h.ini", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	err = cfg.CheckUpstreamHosts()
	want := "h.ini:3: server: cannot resolve \"a.nproxy-test.invalid\": no such host\n" +
		"h.ini:9: proxy_pass: cannot resolve \"b.nproxy-test.invalid\": no such host"
	if err == nil || err.Error() != want {
		t.Fatalf("got:\n%v\nwant:\n%s", err, want)
	}
	ok, err := Parse("ok.ini", []byte("[server]\nlisten = 127.0.0.1:1\nproxy_pass = localhost:8000\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := ok.CheckUpstreamHosts(); err != nil {
		t.Fatal(err)
	}
}
