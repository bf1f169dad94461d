//go:build linux && !race

package rewrite

import (
	"regexp"
	"testing"

	"github.com/nproxy/nproxy/config"
)

// TestApplyNoMatchAllocs proves that a request no rule matches costs no
// allocation: the common case for a block with rewrite rules.
func TestApplyNoMatchAllocs(t *testing.T) {
	r := New([]config.Rewrite{
		{Regexp: regexp.MustCompile(`^/old/(.*)$`), Replacement: "/new/${1}"},
		{Regexp: regexp.MustCompile(`\.php$`), Replacement: "/index.html"},
	})
	path := []byte("/static/app.js")
	dst := make([]byte, 0, 256)
	scratch := make([]byte, 0, 256)
	allocs := testing.AllocsPerRun(1000, func() {
		var ok bool
		_, scratch, ok, _ = r.Apply(dst, scratch, path)
		if ok {
			t.Fatal("rewritten")
		}
	})
	if allocs != 0 {
		t.Errorf("Apply without a match: %v allocs, want 0", allocs)
	}
}

func BenchmarkApply(b *testing.B) {
	r := New([]config.Rewrite{{Regexp: regexp.MustCompile(`^/old/(.*)$`), Replacement: "/new/${1}"}})
	dst := make([]byte, 0, 256)
	scratch := make([]byte, 0, 256)
	for _, bc := range []struct{ name, path string }{{"miss", "/static/app.js"}, {"hit", "/old/a/b.txt"}} {
		p := []byte(bc.path)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, scratch, _, _ = r.Apply(dst, scratch, p)
			}
		})
	}
}
