//go:build linux && !race

package http

import "testing"

// chunkedBody is a chunked body with an extension and a trailer.
const chunkedBody = "10;name=value\r\n0123456789abcdef\r\n5\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\n"

func TestParseAllocs(t *testing.T) {
	buf := []byte(browserRequest)
	var p Parser
	var req Request
	whole := testing.AllocsPerRun(100, func() {
		p.Reset()
		req.Reset()
		if done, err := p.Parse(buf, &req); !done || err != nil {
			t.Fatalf("done=%v err=%v", done, err)
		}
	})
	byByte := testing.AllocsPerRun(20, func() {
		p.Reset()
		req.Reset()
		for i := 1; i <= len(buf); i++ {
			if _, err := p.Parse(buf[:i], &req); err != nil {
				t.Fatal(err)
			}
		}
	})
	if whole != 0 || byByte != 0 {
		t.Errorf("Parse allocates: %v per request whole, %v byte by byte", whole, byByte)
	}
}

func TestChunkedAllocs(t *testing.T) {
	in := []byte(chunkedBody)
	var d ChunkedDecoder
	allocs := testing.AllocsPerRun(100, func() {
		d.Reset()
		for off := 0; ; {
			n, _, done, err := d.Next(in[off:])
			if err != nil {
				t.Fatal(err)
			}
			off += n
			if done {
				break
			}
		}
	})
	if allocs != 0 {
		t.Errorf("ChunkedDecoder allocates %v per body", allocs)
	}
}
