//go:build linux && !race

package bench

import (
	"testing"
	"time"
)

// TestHotPathAllocs fails when parsing a response or recording a latency
// starts allocating: both run once per request in the generator's loop.
func TestHotPathAllocs(t *testing.T) {
	stream := []byte("HTTP/1.1 200 OK\r\nServer: x\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\n\r\n" +
		"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nabcd")
	var p respParser
	var h Histogram
	allocs := testing.AllocsPerRun(100, func() {
		p.reset()
		b := stream
		for len(b) > 0 {
			n, done, err := p.feed(b)
			if err != nil {
				t.Fatal(err)
			}
			b = b[n:]
			if done {
				h.Record(time.Duration(p.bodyLen))
				p.reset()
			}
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per two responses, want 0", allocs)
	}
}
