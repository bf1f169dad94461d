//go:build linux

package server_test

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"testing"
	"time"
)

// TestTLSCurves: tls_curves applies per [server] block: on one address a
// block keeping the default negotiates X25519MLKEM768 with a client that
// offers it, a block with tls_curves = X25519 negotiates X25519 with the
// same client and refuses one that offers only P-256, and one with
// tls_curves = P-256 gets it from that client (which sent no P-256 key
// share: a HelloRetryRequest asks for one).
func TestTLSCurves(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		ts := startTLS(t, backend, []tlsSite{
			{names: "pq.test"},
			{names: "classic.test", extra: "tls_curves = X25519\n"},
			{names: "p256.test", extra: "tls_curves = P-256\n"},
		})
		cases := []struct {
			sni   string
			offer []tls.CurveID // nil: crypto/tls's default, X25519MLKEM768 first
			want  tls.CurveID
			body  string
		}{
			{sni: "pq.test", want: tls.X25519MLKEM768, body: "site 0\n"},
			{sni: "classic.test", want: tls.X25519, body: "site 1\n"},
			{sni: "p256.test", want: tls.CurveP256, body: "site 2\n"},
			{sni: "pq.test", offer: []tls.CurveID{tls.X25519}, want: tls.X25519, body: "site 0\n"},
		}
		for _, tc := range cases {
			c := ts.dialTLS(t, tc.sni, &tls.Config{CurvePreferences: tc.offer, MinVersion: tls.VersionTLS13})
			if got := c.ConnectionState().CurveID; got != tc.want {
				t.Errorf("%s offering %v: negotiated %v, want %v", tc.sni, tc.offer, got, tc.want)
			}
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: "+tc.sni+"\r\n\r\n")
			if res := readResponse(t, bufio.NewReader(c), false); res.status != 200 || string(res.body) != tc.body {
				t.Errorf("%s: %d %q, want 200 %q", tc.sni, res.status, res.body, tc.body)
			}
		}
		// No group in common: the handshake fails, the worker goes on.
		d := &net.Dialer{Timeout: 3 * time.Second}
		cfg := &tls.Config{ServerName: "classic.test", RootCAs: ts.roots, CurvePreferences: []tls.CurveID{tls.CurveP256}}
		if c, err := tls.DialWithDialer(d, "tcp", ts.addr, cfg); err == nil {
			c.Close()
			t.Errorf("classic.test (tls_curves = X25519) accepted a client offering P-256 only")
		}
		c := ts.dialTLS(t, "classic.test", nil)
		if got := c.ConnectionState().CurveID; got != tls.X25519 {
			t.Errorf("after the refused handshake: negotiated %v, want X25519", got)
		}
	})
}
