//go:build linux

package server

import (
	"fmt"
	"testing"

	"github.com/nproxy/nproxy/reactor"
)

// BenchmarkGzip measures the CPU one compressed response costs, by body
// size and level (README, "Compression"; BENCHMARKS.md, "Compression").
func BenchmarkGzip(b *testing.B) {
	s := &Server{loop: reactor.NewLoop(reactor.NewEpoll(), reactor.Options{})}
	html := []byte("<div class=\"item\"><a href=\"/products/1234\">A product name</a> <span>$19.99</span></div>\n")
	for _, size := range []int{4 << 10, 16 << 10, 64 << 10} {
		in := make([]byte, size)
		for i := range in {
			in[i] = html[i%len(html)]
		}
		for _, level := range []int{1, 6} {
			b.Run(fmt.Sprintf("%dKiB/level%d", size>>10, level), func(b *testing.B) {
				b.SetBytes(int64(size))
				for b.Loop() {
					out, rel := s.gzipBytes(in, level)
					if out == nil {
						b.Fatal("not compressed")
					}
					rel.Release()
				}
			})
		}
	}
}
