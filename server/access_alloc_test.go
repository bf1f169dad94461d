//go:build linux && !race

package server

import (
	"encoding/base64"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/nproxy/nproxy/config"
)

// TestAccessAllocs proves that allow/deny and a basic authentication the
// client passed before allocate nothing.
func TestAccessAllocs(t *testing.T) {
	users := filepath.Join(t.TempDir(), "users")
	if err := os.WriteFile(users, []byte("alice:$apr1$abcdefgh$h9FWgUz3n9YxylKLlR5SQ/\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse("t.ini", []byte("[server]\nlisten = 127.0.0.1:1\nallow = 10.0.0.0/8\nallow = 2001:db8::/32\ndeny = all\nauth_basic = R\nauth_basic_user_file = "+users+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	sc := cfg.Servers[0]
	a, err := (&Server{}).newBasicAuth(sc)
	if err != nil {
		t.Fatal(err)
	}
	v := []byte("Basic " + base64.StdEncoding.EncodeToString([]byte("alice:secret")))
	if !a.check(v) {
		t.Fatal("alice:secret refused")
	}
	addr := netip.MustParseAddr("2001:db8::1")
	if n := testing.AllocsPerRun(1000, func() {
		if !a.check(v) || !allowed(sc.Access, addr) {
			t.Fatal("refused")
		}
	}); n != 0 {
		t.Errorf("access: %v allocs, want 0", n)
	}
}
