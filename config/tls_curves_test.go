package config

import (
	"crypto/tls"
	"os"
	"slices"
	"testing"
)

// TestTLSCurvesKey checks the groups tls_curves gives each [server] of
// testdata/tls/curves_ok.ini, and nil where it is absent.
func TestTLSCurvesKey(t *testing.T) {
	fixClock(t)
	dir := tlsFixture(t)
	const file = "testdata/tls/curves_ok.ini"
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	extra := "\n[server]\nlisten = 127.0.0.1:8444\nstatic_root = www\ntls_cert = ec.crt\ntls_key = ec.key\n"
	cfg, err := parse(file, dir, append(data, extra...))
	if err != nil {
		t.Fatal(err)
	}
	want := [][]tls.CurveID{
		{tls.X25519MLKEM768, tls.X25519, tls.CurveP256},
		{tls.X25519, tls.CurveP256, tls.CurveP384},
		{tls.X25519MLKEM768, tls.X25519, tls.CurveP256}, // auto
		nil, // absent: the tls package's default
	}
	if len(cfg.Servers) != len(want) {
		t.Fatalf("%d servers, want %d", len(cfg.Servers), len(want))
	}
	for i, w := range want {
		if got := cfg.Servers[i].TLSCurves; !slices.Equal(got, w) || (w == nil) != (got == nil) {
			t.Errorf("server %d: TLSCurves %v, want %v", i, got, w)
		}
	}
}
