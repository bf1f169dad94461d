//go:build linux

package proxy

import "testing"

// TestCompressorsBounded checks that a worker's pool hands out at most
// maxCompressors at once (the responses past them go uncompressed) and
// reuses what is given back.
func TestCompressorsBounded(t *testing.T) {
	p := NewCompressors()
	var got []*compressor
	for i := 0; i < maxCompressors; i++ {
		z := p.get(1)
		if z == nil {
			t.Fatalf("compressor %d of %d: none", i+1, maxCompressors)
		}
		got = append(got, z)
	}
	if z := p.get(1); z != nil {
		t.Fatalf("compressor %d handed out past the bound", maxCompressors+1)
	}
	p.put(got[0])
	if z := p.get(6); z != got[0] || z.level != 6 {
		t.Fatalf("a freed compressor is not reused (at the new level)")
	}
}
