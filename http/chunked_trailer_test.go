//go:build linux

package http

import "testing"

// TestChunkedTrailerLen collects a body's trailer section as an HTTP/2
// stream does (ChunkedDecoder.TrailerLen), with the body split in two at
// every byte.
func TestChunkedTrailerLen(t *testing.T) {
	for _, c := range []struct{ body, want string }{
		{"5\r\nhello\r\n0\r\nX-Sum: 42\r\nX-Other:y\r\n\r\n", "\nX-Sum: 42\r\nX-Other:y\r\n\r\n"},
		{"5;a=b\r\nhello\r\n0\r\n\r\n", "\n\r\n"},
		{"0\r\nA: 1\r\n\r\n", "\nA: 1\r\n\r\n"},
	} {
		for split := 0; split <= len(c.body); split++ {
			var d ChunkedDecoder
			var got, data []byte
			done := false
			for _, part := range []string{c.body[:split], c.body[split:]} {
				in := []byte(part)
				for len(in) > 0 && !done {
					t0 := d.TrailerLen()
					n, p, fin, err := d.Next(in)
					if err != nil {
						t.Fatalf("%q split at %d: %v", c.body, split, err)
					}
					data = append(data, p...)
					if k := d.TrailerLen() - t0; k > 0 || fin {
						if fin {
							k++
						}
						got = append(got, in[n-k:n]...)
					}
					in, done = in[n:], fin
				}
			}
			if !done || string(got) != c.want || string(data) != map[bool]string{true: "", false: "hello"}[c.body[0] == '0'] {
				t.Fatalf("%q split at %d: done %v, trailer %q (want %q), data %q", c.body, split, done, got, c.want, data)
			}
		}
	}
}
