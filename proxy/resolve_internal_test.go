//go:build linux

package proxy

import (
	"net/netip"
	"testing"

	"github.com/nproxy/nproxy/config"
	"github.com/nproxy/nproxy/logging"
)

// TestUpdateHostKeepsState checks what a new answer for a name does to
// the group's backends: an address that stays keeps its backend, with its
// health, balancer and least_conn state; one that goes is drained (its
// idle connections closed); a new one gets a fresh backend; and the
// group never grows past config.MaxBackends.
func TestUpdateHostKeepsState(t *testing.T) {
	log, _ := logging.New("stderr", logging.Error)
	g := &Group{log: log, keepalive: 8}
	h, err := newUpstreamHost(config.Upstream{Addr: "app.test:80", Weight: 3})
	if err != nil {
		t.Fatal(err)
	}
	ip := netip.MustParseAddr
	for _, a := range []string{"10.0.0.1", "10.0.0.2"} {
		h.backends = append(h.backends, g.newBackend(h, ip(a)))
	}
	g.hosts = []*upstreamHost{h}
	g.rebuild()
	kept, gone := g.backends[0], g.backends[1]
	kept.downUntil, kept.active, kept.current, kept.fails = 42, 2, 5, 1
	idle := &upConn{g: g, b: gone}
	gone.idle = []*upConn{idle}

	if !g.updateHost(h, []netip.Addr{ip("10.0.0.1"), ip("10.0.0.3")}) {
		t.Fatal("a changed answer reported no change")
	}
	g.rebuild()
	if len(g.backends) != 2 || g.backends[0] != kept || g.backends[1].ip != ip("10.0.0.3") {
		t.Fatalf("backends %v, want the kept 10.0.0.1 and a new 10.0.0.3", g.backends)
	}
	if kept.downUntil != 42 || kept.active != 2 || kept.current != 5 || kept.fails != 1 {
		t.Errorf("the kept backend lost its state: %+v", kept)
	}
	added := g.backends[1]
	if added.weight != 3 || added.label != "app.test:80 (10.0.0.3:80)" || added.peer != "10.0.0.3:80" || added.index != 1 {
		t.Errorf("new backend: weight %d label %q peer %q index %d", added.weight, added.label, added.peer, added.index)
	}
	if !gone.drained || len(gone.idle) != 0 {
		t.Errorf("the vanished backend: drained %v, %d idle connections left", gone.drained, len(gone.idle))
	}
	if g.updateHost(h, []netip.Addr{ip("10.0.0.1"), ip("10.0.0.3")}) {
		t.Error("the same answer reported a change")
	}

	// Past the bound: the addresses beyond config.MaxBackends are left out.
	many := make([]netip.Addr, config.MaxBackends+5)
	for i := range many {
		many[i] = netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)})
	}
	g.updateHost(h, many)
	g.rebuild()
	if len(g.backends) != config.MaxBackends {
		t.Errorf("%d backends after an answer of %d addresses, want the bound %d", len(g.backends), len(many), config.MaxBackends)
	}
}
