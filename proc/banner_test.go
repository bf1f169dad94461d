//go:build linux

package proc

import (
	"testing"

	"github.com/nproxy/nproxy/config"
)

func TestBanner(t *testing.T) {
	tests := []struct {
		name    string
		servers []*config.Server
		backend string
		workers int
		want    string
	}{
		{name: "embedded default", backend: "io_uring", workers: 2,
			servers: []*config.Server{{Listen: []string{"127.0.0.1:8080"}, StaticRoot: "/srv/www"}},
			want:    "serving /srv/www at http://127.0.0.1:8080 (io_uring, 2 workers)\n"},
		{name: "one worker, several addresses", backend: "epoll", workers: 1,
			servers: []*config.Server{{Listen: []string{"0.0.0.0:8080", "[::1]:8080"}, StaticRoot: "/a b"}},
			want:    "serving /a b at http://0.0.0.0:8080, http://[::1]:8080 (epoll, 1 worker)\n"},
		{name: "proxy over TLS", backend: "io_uring", workers: 4,
			servers: []*config.Server{{Listen: []string{"0.0.0.0:443"}, TLSCerts: []config.CertPair{{}},
				ProxyPass: []config.Upstream{{Addr: "10.0.0.1:8000"}, {Addr: "10.0.0.2:8000"}}, ProxyPrefix: "/"}},
			want: "proxying https://0.0.0.0:443 to 10.0.0.1:8000, 10.0.0.2:8000 (io_uring, 4 workers)\n"},
		{name: "static and proxy, two servers", backend: "epoll", workers: 2,
			servers: []*config.Server{
				{Listen: []string{"127.0.0.1:8080"}, StaticRoot: "/srv", ProxyPass: []config.Upstream{{Addr: "127.0.0.1:9001"}}, ProxyPrefix: "/api/"},
				{Listen: []string{"127.0.0.1:8081"}},
			},
			want: "serving /srv at http://127.0.0.1:8080, /api/ proxied to 127.0.0.1:9001 (epoll, 2 workers)\n" +
				"answering at http://127.0.0.1:8081 (epoll, 2 workers)\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := banner(&config.Config{Servers: tt.servers}, tt.backend, tt.workers); got != tt.want {
				t.Errorf("banner:\n%q\nwant:\n%q", got, tt.want)
			}
		})
	}
}
