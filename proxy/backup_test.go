//go:build linux

package proxy_test

import (
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nproxy/nproxy/proxy"
)

// TestBackupServer runs a group whose primary refuses connections, with
// a backup that answers and a third backend marked down, on both reactor
// backends, written as an [upstream] (with max_fails=2 fail_timeout=1s)
// and as a proxy_pass list (the default max_fails=1 and fail_timeout,
// shortened): every request is answered by the backup, the down backend
// gets none, and once the primary is back traffic returns to it after
// the fail timeout, leaving the backup idle again.
func TestBackupServer(t *testing.T) {
	restore := proxy.SetFailTimeout(300 * time.Millisecond)
	t.Cleanup(restore)
	for _, mode := range []string{"upstream", "proxy_pass"} {
		t.Run(mode, func(t *testing.T) {
			forEachBackend(t, func(t *testing.T, backend string) {
				primary := startBackend(t, "primary", nil)
				spare := startBackend(t, "spare", nil)
				off := startBackend(t, "off", nil)
				primary.stop()
				extra := "proxy_pass = " + primary.addr + ", " + spare.addr + " backup, " + off.addr + " down weight=5\n"
				if mode == "upstream" {
					extra = "proxy_pass = grp\n[upstream grp]\n" +
						"server = " + primary.addr + " max_fails=2 fail_timeout=1s\n" +
						"server = " + spare.addr + " backup\n" +
						"server = " + off.addr + " down weight=5\n"
				}
				ps := startProxy(t, backend, "proxy_connect_timeout = 2s\n"+extra)
				cl := ps.client(t)
				for i := 0; i < 10; i++ {
					if res := cl.do(get("/x")); res.status != 200 || res.header["x-backend"] != "spare" {
						t.Fatalf("primary refusing: request %d: %d from %q, want 200 from the backup", i, res.status, res.header["x-backend"])
					}
				}
				primary.restart(t)
				waitFor(t, 10*time.Second, "traffic to return to the primary", func() bool {
					res := cl.do(get("/x"))
					if res.status != 200 {
						t.Fatalf("while the primary comes back: %d", res.status)
					}
					return res.header["x-backend"] == "primary"
				})
				before := spare.hits.Load()
				for i := 0; i < 10; i++ {
					if res := cl.do(get("/x")); res.status != 200 || res.header["x-backend"] != "primary" {
						t.Fatalf("primary back: request %d: %d from %q", i, res.status, res.header["x-backend"])
					}
				}
				if spare.hits.Load() != before {
					t.Errorf("the backup served requests while the primary was up")
				}
				if n := off.hits.Load(); n != 0 {
					t.Errorf("the down backend served %d requests", n)
				}
			})
		})
	}
}

// TestDownNotProbed checks, on both reactor backends, that health_check
// probes the group's backends but not one marked down, which gets no
// request either, while a backup is probed like a primary.
func TestDownNotProbed(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		var probes [3]atomic.Int64
		h := func(i int) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/health" {
					probes[i].Add(1)
				}
				io.WriteString(w, "ok")
			}
		}
		a := startBackend(t, "a", h(0))
		off := startBackend(t, "off", h(1))
		spare := startBackend(t, "spare", h(2))
		ps := startProxy(t, backend, "proxy_pass = grp\n[upstream grp]\nserver = "+a.addr+"\nserver = "+off.addr+" down\nserver = "+spare.addr+" backup\nhealth_check = /health 200ms\n")
		cl := ps.client(t)
		waitFor(t, 10*time.Second, "two probes of the primary and the backup", func() bool {
			if res := cl.do(get("/x")); res.status != 200 || res.header["x-backend"] != "a" {
				t.Fatalf("status %d from %q, want 200 from a", res.status, res.header["x-backend"])
			}
			return probes[0].Load() >= 2 && probes[2].Load() >= 2
		})
		if n, hits := probes[1].Load(), off.hits.Load(); n != 0 || hits != 0 {
			t.Errorf("the down backend got %d probes and %d requests", n, hits)
		}
	})
}
