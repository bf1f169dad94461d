//go:build linux

package modules_test

import (
	"testing"

	"github.com/nproxy/nproxy/internal/servertest"
	"github.com/nproxy/nproxy/modules"
)

// TestAddHeaderVarsWithResponseHook: with a module's response hook on the
// route (secheaders), a proxied response's head goes through the server's
// head filter (proxy/filter.go), and its add_header lines with variables
// are expanded there too, beside the module's headers; a static file's
// as well.
func TestAddHeaderVarsWithResponseHook(t *testing.T) {
	sec := modules.BuildModule(t, modules.WASM, "examples/secheaders")
	upstream, root := echoUpstream(t), siteRoot(t)
	servertest.ForEachBackend(t, func(t *testing.T, backend string) {
		srv := servertest.Start(t, backend, "module = "+sec+"\n",
			"static_root = "+root+"\nadd_header = X-Vars \"$status $uri $upstream_addr $upstream_status\" always\n"+
				"[location /api/]\nproxy_pass = "+upstream+"\n")
		r := get(t, srv, "/api/x")
		if r.status != 200 || r.header.Get("X-Vars") != "200 /api/x "+upstream+" 200" || r.header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("proxied: %d X-Vars %q %v", r.status, r.header.Get("X-Vars"), r.header)
		}
		r = get(t, srv, "/index.html")
		if r.status != 200 || r.header.Get("X-Vars") != "200 /index.html" || r.header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("static: %d X-Vars %q %v", r.status, r.header.Get("X-Vars"), r.header)
		}
	})
}
