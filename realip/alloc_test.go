//go:build !race

package realip

import (
	"net/netip"
	"testing"
)

func TestFromXFFAllocs(t *testing.T) {
	trusted := Trusted{netip.MustParsePrefix("10.0.0.0/8")}
	v := []byte("6.6.6.6, 2001:db8::7, 10.0.0.2")
	if n := testing.AllocsPerRun(1000, func() { FromXFF(v, trusted) }); n != 0 {
		t.Errorf("FromXFF: %v allocs, want 0", n)
	}
}
