//go:build linux

package server_test

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nproxy/nproxy/config"
	"github.com/nproxy/nproxy/internal/servertest"
	"github.com/nproxy/nproxy/logging"
	"github.com/nproxy/nproxy/proc"
	"github.com/nproxy/nproxy/reactor"
)

// TestStatusListen checks status_listen on both backends: /healthz and
// /metrics answer on the status address (and nothing else does: 404),
// while on the public [server], even one with metrics = on, both paths
// go to its routes (here static files: 404, or the file when there is
// one).
func TestStatusListen(t *testing.T) {
	servertest.ForEachBackend(t, func(t *testing.T, backend string) {
		var ls []proc.Listener
		var addrs []string
		for i := 0; i < 2; i++ {
			fd, err := reactor.ListenTCP("127.0.0.1:0", 0)
			if err != nil {
				t.Fatal(err)
			}
			port, _ := reactor.LocalPort(fd)
			addr := "127.0.0.1:" + strconv.Itoa(port)
			ls = append(ls, proc.Listener{Addr: addr, Fd: fd})
			addrs = append(addrs, addr)
		}
		public, status := addrs[0], addrs[1]
		www := siteDir(t, map[string]string{"index.html": "home\n", "healthz": "a file named healthz\n"})
		text := fmt.Sprintf("backend = %s\nworker_connections = 100\nstatus_listen = %s\n[server]\nlisten = %s\nstatic_root = %s\nmetrics = on\n",
			backend, status, public, www)
		cfg, err := config.Parse("status.ini", []byte(text))
		if err != nil {
			t.Fatal(err)
		}
		servertest.RunWorker(t, cfg, backend, logging.Warn, ls)
		c := &http.Client{Timeout: 10 * time.Second}
		tests := []struct {
			addr, path string
			status     int
			body       string // a substring
		}{
			{status, "/healthz", 200, `"status"`},
			{status, "/metrics", 200, "nproxy_"},
			{status, "/", 404, ""},
			{status, "/index.html", 404, ""},
			{public, "/", 200, "home"},
			{public, "/healthz", 200, "a file named healthz"},
			{public, "/metrics", 404, ""},
		}
		for _, tt := range tests {
			resp, err := c.Get("http://" + tt.addr + tt.path)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			which := "public"
			if tt.addr == status {
				which = "status"
			}
			if resp.StatusCode != tt.status || !strings.Contains(string(b), tt.body) {
				t.Errorf("%s %s: %d %.80q, want %d with %q", which, tt.path, resp.StatusCode, b, tt.status, tt.body)
			}
		}
	})
}
