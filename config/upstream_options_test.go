package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestUpstreamOptions checks that a backend's max_fails, fail_timeout,
// backup and down are read from an [upstream]'s server lines and from a
// proxy_pass list, with nginx's defaults where they are not given, and
// that -T writes them back.
func TestUpstreamOptions(t *testing.T) {
	cfg, err := Load("testdata/routes/upstream_options_ok.ini")
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Servers[0]
	want := []Upstream{
		{Addr: "127.0.0.1:9001", Weight: 2, MaxFails: 3, FailTimeout: 30 * time.Second},
		{Addr: "127.0.0.1:9002", Weight: 1, MaxFails: NoMaxFails},
		{Addr: "127.0.0.1:9003", Weight: 1, Down: true},
		{Addr: "127.0.0.1:9004", Weight: 1, Backup: true, FailTimeout: time.Minute},
	}
	if !reflect.DeepEqual(s.ProxyPass, want) || s.Balance != "least_conn" {
		t.Errorf("[upstream api]:\n got %+v %q\nwant %+v", s.ProxyPass, s.Balance, want)
	}
	want = []Upstream{
		{Addr: "127.0.0.1:9101", Weight: 1, MaxFails: 2, FailTimeout: 5 * time.Second},
		{Addr: "127.0.0.1:9102", Weight: 1, Backup: true},
		{Addr: "127.0.0.1:9103", Weight: 3, Down: true},
	}
	if got := s.Locations[0].Server.ProxyPass; !reflect.DeepEqual(got, want) {
		t.Errorf("proxy_pass list:\n got %+v\nwant %+v", got, want)
	}
	text, err := cfg.Effective()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		"server = 127.0.0.1:9001 weight=2 max_fails=3 fail_timeout=30s",
		"server = 127.0.0.1:9002 max_fails=0",
		"server = 127.0.0.1:9003 down",
		"server = 127.0.0.1:9004 backup fail_timeout=1m",
		"127.0.0.1:9102 backup",
		"127.0.0.1:9103 down weight=3",
	} {
		if !strings.Contains(string(text), line) {
			t.Errorf("-T does not print %q:\n%s", line, text)
		}
	}
}

// TestBackendOptionWords checks where backup and down are options and
// where they are host names: after a backend in its comma item they are
// its options, first in an item they are a host.
func TestBackendOptionWords(t *testing.T) {
	for _, tc := range []struct {
		name, v string
		want    []Upstream
		wantErr string
	}{
		{name: "option", v: "10.0.0.1 backup, 10.0.0.2",
			want: []Upstream{{Addr: "10.0.0.1:80", Weight: 1, Backup: true}, {Addr: "10.0.0.2:80", Weight: 1}}},
		{name: "host after comma", v: "10.0.0.1, down",
			want: []Upstream{{Addr: "10.0.0.1:80", Weight: 1}, {Addr: "down:80", Weight: 1}}},
		{name: "host with port", v: "10.0.0.1 backup:8080",
			want: []Upstream{{Addr: "10.0.0.1:80", Weight: 1}, {Addr: "backup:8080", Weight: 1}}},
		{name: "spaces only", v: "10.0.0.1 max_fails=5 10.0.0.2 down",
			want: []Upstream{{Addr: "10.0.0.1:80", Weight: 1, MaxFails: 5}, {Addr: "10.0.0.2:80", Weight: 1, Down: true}}},
		{name: "days", v: "10.0.0.1 fail_timeout=1d",
			want: []Upstream{{Addr: "10.0.0.1:80", Weight: 1, FailTimeout: 24 * time.Hour}}},
		{name: "all down is allowed", v: "10.0.0.1 down",
			want: []Upstream{{Addr: "10.0.0.1:80", Weight: 1, Down: true}}},
		{name: "only backup", v: "10.0.0.1 backup", wantErr: "every backend is a backup"},
		{name: "down twice", v: "10.0.0.1 down down", wantErr: `"down": given twice for 10.0.0.1:80`},
		{name: "max_fails negative", v: "10.0.0.1 max_fails=-1", wantErr: "max_fails must be 0..1000"},
		{name: "fail_timeout zero", v: "10.0.0.1 fail_timeout=0", wantErr: "fail_timeout must be at least 1s"},
		{name: "bare max_fails", v: "10.0.0.1 max_fails", wantErr: `"max_fails": not a backend option`},
		{name: "unknown", v: "10.0.0.1 resolve", want: []Upstream{{Addr: "10.0.0.1:80", Weight: 1}, {Addr: "resolve:80", Weight: 1}}},
		{name: "unknown with value", v: "10.0.0.1 max_conns=10", wantErr: `"max_conns=10": not a backend option`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _, _, err := parseProxyPass(tc.v)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v %v\nwant %+v", got, err, tc.want)
			}
		})
	}
}
