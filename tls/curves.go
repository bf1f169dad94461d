package tls

import (
	ctls "crypto/tls"
	"fmt"
	"slices"
	"strings"
)

// Key exchange groups by the names nginx's ssl_ecdh_curve takes (OpenSSL's
// group names and their NIST aliases), for tls_curves and the bench's
// --tls-curves.
var curveNames = map[string]ctls.CurveID{
	"x25519mlkem768": ctls.X25519MLKEM768,
	"x25519":         ctls.X25519,
	"p-256":          ctls.CurveP256,
	"prime256v1":     ctls.CurveP256,
	"secp256r1":      ctls.CurveP256,
	"p-384":          ctls.CurveP384,
	"secp384r1":      ctls.CurveP384,
	"p-521":          ctls.CurveP521,
	"secp521r1":      ctls.CurveP521,
}

// DefaultCurves is the key exchange groups a site accepts without
// tls_curves: the hybrid post-quantum X25519MLKEM768 that current
// browsers offer, X25519 and P-256.
func DefaultCurves() []ctls.CurveID {
	return slices.Clone(curvePreferences)
}

// ParseCurves parses a colon-separated list of key exchange groups as
// nginx's ssl_ecdh_curve takes it ("X25519MLKEM768:X25519:P-256"; names
// are case-insensitive). "auto" alone means DefaultCurves. An unknown or
// repeated name is an error wrapping ErrCurve.
//
// The list is a set, not an order: crypto/tls ignores the order of
// Config.CurvePreferences and chooses among the groups both sides support
// by its own rule (a post-quantum hybrid first, then a group the client
// sent a key share for, then X25519, P-256, P-384, P-521).
func ParseCurves(list string) ([]ctls.CurveID, error) {
	if strings.EqualFold(strings.TrimSpace(list), "auto") {
		return DefaultCurves(), nil
	}
	var ids []ctls.CurveID
	for name := range strings.SplitSeq(list, ":") {
		name = strings.TrimSpace(name)
		id, ok := curveNames[strings.ToLower(name)]
		switch {
		case name == "":
			return nil, fmt.Errorf("%w: %q: empty name in the list", ErrCurve, list)
		case !ok:
			return nil, fmt.Errorf("%w: %q: not a key exchange group nproxy knows (use X25519MLKEM768, X25519, P-256, P-384, P-521, or auto alone)", ErrCurve, name)
		case slices.Contains(ids, id):
			return nil, fmt.Errorf("%w: %q: names a group listed already", ErrCurve, name)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// CurveName is the name ParseCurves gives id, as bench reports and
// nginx's logs show it.
func CurveName(id ctls.CurveID) string {
	switch id {
	case ctls.X25519MLKEM768:
		return "X25519MLKEM768"
	case ctls.X25519:
		return "X25519"
	case ctls.CurveP256:
		return "P-256"
	case ctls.CurveP384:
		return "P-384"
	case ctls.CurveP521:
		return "P-521"
	}
	return id.String()
}

// SetCurves makes the client offer the key exchange groups ids instead of
// DefaultCurves (a set, see ParseCurves): crypto/tls sends a key share for
// the first of them in its own order, with an X25519 share beside an
// X25519MLKEM768 one. Call it before the first Client.
func (c *ClientContext) SetCurves(ids []ctls.CurveID) {
	c.config.CurvePreferences = slices.Clone(ids)
}
