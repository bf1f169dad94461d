package vars

import (
	"regexp"
	"testing"
)

// BenchmarkMap measures a request's first use of a map's result (Reset,
// then Append) by the entry that matches: an exact key, a regex whose
// value names no capture, a regex with a ScanPlan whose value names its
// capture, a regex without one (the engine's slice), the default after
// every regex fails; and a second use, from the cache.
func BenchmarkMap(b *testing.B) {
	m := NewMap("m", 0)
	m.SourceName, m.Source = "uri", MustParse("$uri")
	for _, k := range []string{"/a", "/b", "/c", "/d"} {
		m.AddExact(k, MustParse("exact"))
	}
	m.AddRegex(regexp.MustCompile(`^/static/`), MustParse("static"))
	plan := regexp.MustCompile(`^/u/(\d+)$`)
	val, _ := ParseCaptures("user:$1", 1)
	m.AddRegex(plan, val)
	engine := regexp.MustCompile(`\.(png|gif)$`)
	val2, _ := ParseCaptures("image:$1", 1)
	m.AddRegex(engine, val2)
	m.SetDefault(MustParse("other"))
	tmpl, _ := Scope{Maps: func(string) *Map { return m }}.Parse("$m")
	for _, bc := range []struct{ name, uri string }{
		{"exact", "/c"}, {"regex", "/static/app.js"}, {"regex-captures-plan", "/u/42"},
		{"regex-captures-engine", "/x/y.png"}, {"default", "/nothing/here"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var c MapCache
			vals := &Values{URI: []byte(bc.uri), Maps: &c}
			buf := make([]byte, 0, 64)
			b.ReportAllocs()
			for b.Loop() {
				c.Reset()
				buf = tmpl.Append(buf[:0], vals)
			}
		})
	}
	b.Run("cached", func(b *testing.B) {
		var c MapCache
		c.Reset()
		vals := &Values{URI: []byte("/u/42"), Maps: &c}
		buf := tmpl.Append(nil, vals)
		b.ReportAllocs()
		for b.Loop() {
			buf = tmpl.Append(buf[:0], vals)
		}
	})
}
