//go:build linux && !race

package http

import "testing"

// upstreamResponse is a typical upstream response head, used by the
// allocation test and the benchmark.
const upstreamResponse = "HTTP/1.1 200 OK\r\n" +
	"Content-Type: text/html; charset=utf-8\r\n" +
	"Content-Length: 5120\r\n" +
	"Cache-Control: private, max-age=0\r\n" +
	"ETag: \"5f3a-1c2b\"\r\n" +
	"Last-Modified: Tue, 01 Oct 2024 10:00:00 GMT\r\n" +
	"Set-Cookie: session=8f2b1c0e9a7d4b3f; Path=/; HttpOnly; SameSite=Lax\r\n" +
	"Vary: Accept-Encoding\r\n" +
	"Connection: keep-alive\r\n" +
	"\r\n"

// TestResponseParseAllocs fails when parsing a response head starts
// allocating: the proxy parses one per proxied request.
func TestResponseParseAllocs(t *testing.T) {
	buf := []byte(upstreamResponse)
	var p ResponseParser
	var h ResponseHead
	whole := testing.AllocsPerRun(100, func() {
		p.Reset()
		if done, err := p.Parse(buf, &h); !done || err != nil {
			t.Fatalf("done=%v err=%v", done, err)
		}
	})
	byByte := testing.AllocsPerRun(20, func() {
		p.Reset()
		for i := 1; i <= len(buf); i++ {
			if _, err := p.Parse(buf[:i], &h); err != nil {
				t.Fatal(err)
			}
		}
	})
	refused := testing.AllocsPerRun(100, func() {
		p.Reset()
		if _, err := p.Parse([]byte("HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\n"), &h); err != ErrBadResponseLength {
			t.Fatal(err)
		}
	})
	if whole != 0 || byByte != 0 || refused != 0 {
		t.Errorf("Parse allocates: %v per head whole, %v byte by byte, %v refusing one", whole, byByte, refused)
	}
}
