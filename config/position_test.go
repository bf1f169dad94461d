package config

import (
	"context"
	"net"
	"net/netip"
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

// TestCheckUpstreamHostsBound counts every address of a name as a
// backend: a group that resolves to more than MaxBackends is refused at
// the line that crosses the bound, an inline proxy_pass alone, an
// [upstream] over all its server lines. The resolver is a fake.
func TestCheckUpstreamHostsBound(t *testing.T) {
	fakeLookup(t, map[string]int{"many.test": MaxBackends - 1, "two.test": 2, "all.test": MaxBackends})
	text := "[upstream g]\nserver = many.test:1\nserver = 127.0.0.1:2\nserver = two.test:3\n" +
		"[server]\nlisten = 127.0.0.1:1\nproxy_pass = g\n" +
		"[server]\nlisten = 127.0.0.1:2\nproxy_pass = all.test:80\n" +
		"[location /x/]\nproxy_pass = all.test:80, 127.0.0.1:9\n" +
		"[location /y/]\nproxy_pass = two.test:80, many.test:81\n"
	cfg, err := Parse("b.ini", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	err = cfg.CheckUpstreamHosts()
	want := "b.ini:4: server: 66 backends once its names are resolved (every address of a name is one), more than 64\n" +
		"b.ini:12: proxy_pass: 65 backends once its names are resolved (every address of a name is one), more than 64\n" +
		"b.ini:14: proxy_pass: 65 backends once its names are resolved (every address of a name is one), more than 64"
	if err == nil || err.Error() != want {
		t.Fatalf("got:\n%v\nwant:\n%s", err, want)
	}
}

// fakeLookup makes LookupNetIP answer name with n addresses (10.0.0.1...)
// for the test's duration, and "no such host" for any other name.
func fakeLookup(t *testing.T, names map[string]int) {
	saved := LookupNetIP
	t.Cleanup(func() { LookupNetIP = saved })
	LookupNetIP = func(_ context.Context, host string) ([]netip.Addr, error) {
		n, ok := names[host]
		if !ok {
			return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
		}
		out := make([]netip.Addr, n)
		for i := range out {
			out[i] = netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i + 1)})
		}
		return out, nil
	}
}
