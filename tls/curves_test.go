package tls

import (
	ctls "crypto/tls"
	"errors"
	"slices"
	"testing"

	"github.com/nproxy/nproxy/internal/testcert"
)

func TestParseCurves(t *testing.T) {
	cases := []struct {
		name, list string
		want       []ctls.CurveID
		bad        bool
	}{
		{name: "default spelled out", list: "X25519MLKEM768:X25519:P-256", want: []ctls.CurveID{ctls.X25519MLKEM768, ctls.X25519, ctls.CurveP256}},
		{name: "auto", list: "auto", want: DefaultCurves()},
		{name: "auto any case", list: " AUTO ", want: DefaultCurves()},
		{name: "one", list: "X25519", want: []ctls.CurveID{ctls.X25519}},
		{name: "openssl aliases", list: "prime256v1:secp384r1:secp521r1", want: []ctls.CurveID{ctls.CurveP256, ctls.CurveP384, ctls.CurveP521}},
		{name: "case and spaces", list: "x25519 : p-256", want: []ctls.CurveID{ctls.X25519, ctls.CurveP256}},
		{name: "unknown", list: "X25519:X448", bad: true},
		{name: "empty", list: "", bad: true},
		{name: "empty name", list: "X25519::P-256", bad: true},
		{name: "trailing colon", list: "X25519:", bad: true},
		{name: "alias twice", list: "P-256:secp256r1", bad: true},
		{name: "auto among names", list: "auto:X25519", bad: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseCurves(tc.list)
			if tc.bad {
				if !errors.Is(err, ErrCurve) {
					t.Fatalf("ParseCurves(%q) = %v, %v; want an ErrCurve", tc.list, got, err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("ParseCurves(%q) = %v, %v; want %v", tc.list, got, err, tc.want)
			}
		})
	}
}

// TestCurveNameRoundTrip: every name CurveName gives parses back to its
// group, so `nproxy -T` output is a valid tls_curves.
func TestCurveNameRoundTrip(t *testing.T) {
	for _, id := range []ctls.CurveID{ctls.X25519MLKEM768, ctls.X25519, ctls.CurveP256, ctls.CurveP384, ctls.CurveP521} {
		got, err := ParseCurves(CurveName(id))
		if err != nil || len(got) != 1 || got[0] != id {
			t.Errorf("ParseCurves(CurveName(%v)) = %v, %v", id, got, err)
		}
	}
}

// TestSiteCurves: a site's Curves limit the groups its handshakes use; nil
// keeps the post-quantum default. The client offers crypto/tls's default
// (key shares for X25519MLKEM768 and X25519, P-256 supported).
func TestSiteCurves(t *testing.T) {
	_, ca := testContext(t)
	cert := ca.leaf(t, testcert.ECDSA, "example.com")
	for _, tc := range []struct {
		name   string
		curves []ctls.CurveID
		want   ctls.CurveID
	}{
		{name: "default", want: ctls.X25519MLKEM768},
		{name: "X25519 only", curves: []ctls.CurveID{ctls.X25519}, want: ctls.X25519},
		{name: "P-256 only", curves: []ctls.CurveID{ctls.CurveP256}, want: ctls.CurveP256},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, err := NewContext([]Site{{Names: []string{"example.com"}, Certs: []ctls.Certificate{cert}, Curves: tc.curves}})
			if err != nil {
				t.Fatal(err)
			}
			x := exchangeOnce(t, ctx, &ctls.Config{ServerName: "example.com", InsecureSkipVerify: true})
			if x.serverErr != nil || x.clientErr != nil {
				t.Fatalf("server %v, client %v", x.serverErr, x.clientErr)
			}
			if x.server.CurveID != tc.want || x.client.CurveID != tc.want {
				t.Fatalf("negotiated %v (client sees %v), want %v", x.server.CurveID, x.client.CurveID, tc.want)
			}
		})
	}
}

// TestClientSetCurves: a ClientContext offering X25519 only gets X25519
// from a default site, and no handshake from a site that takes only P-256.
func TestClientSetCurves(t *testing.T) {
	ctx, _ := testContext(t)
	cc := NewClientConfig("example.com", nil, false)
	cc.SetCurves([]ctls.CurveID{ctls.X25519})
	p := newMemPair(t, ctx, cc)
	p.mustHandshake()
	if got := p.server.State().CurveID; got != ctls.X25519 {
		t.Fatalf("negotiated %v, want X25519", got)
	}

	_, ca := testContext(t)
	p256, err := NewContext([]Site{{Names: []string{"example.com"}, Certs: []ctls.Certificate{ca.leaf(t, testcert.ECDSA, "example.com")}, Curves: []ctls.CurveID{ctls.CurveP256}}})
	if err != nil {
		t.Fatal(err)
	}
	q := newMemPair(t, p256, cc)
	if serr, cerr := q.handshake(); serr == nil && cerr == nil {
		t.Fatal("a P-256-only site completed a handshake with an X25519-only client")
	}
}
