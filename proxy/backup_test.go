//go:build linux

package proxy_test

import (
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
