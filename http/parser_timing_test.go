//go:build linux

package http

import "testing"

// browserRequest is a typical browser navigation request, used by the
// benchmarks and the allocation tests.
const browserRequest = "GET /articles/2024/http-parsing?page=2&sort=new HTTP/1.1\r\n" +
	"Host: www.example.com\r\n" +
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n" +
	"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n" +
	"Accept-Language: en-US,en;q=0.5\r\n" +
	"Accept-Encoding: gzip, deflate, br, zstd\r\n" +
	"Referer: https://www.example.com/articles/2024/\r\n" +
	"Connection: keep-alive\r\n" +
	"Cookie: session=8f2b1c0e9a7d4b3f; theme=dark; _ga=GA1.2.1234567890.1700000000\r\n" +
	"Upgrade-Insecure-Requests: 1\r\n" +
	"Sec-Fetch-Dest: document\r\n" +
	"Sec-Fetch-Mode: navigate\r\n" +
	"Sec-Fetch-Site: same-origin\r\n" +
	"If-None-Match: \"5f3a-1c2b\"\r\n" +
	"Priority: u=0, i\r\n" +
	"\r\n"

// BenchmarkParse parses a browser-like request head in one call.
func BenchmarkParse(b *testing.B) {
	buf := []byte(browserRequest)
	var p Parser
	var req Request
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		p.Reset()
		req.Reset()
		if done, err := p.Parse(buf, &req); !done || err != nil {
			b.Fatalf("done=%v err=%v", done, err)
		}
	}
}

// BenchmarkParseSmall parses a minimal request (a load generator's).
func BenchmarkParseSmall(b *testing.B) {
	buf := []byte("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
	var p Parser
	var req Request
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		p.Reset()
		req.Reset()
		if done, err := p.Parse(buf, &req); !done || err != nil {
			b.Fatalf("done=%v err=%v", done, err)
		}
	}
}

// BenchmarkParseSplit parses the browser request arriving in 64-byte
// pieces, as from a slow client.
func BenchmarkParseSplit(b *testing.B) {
	buf := []byte(browserRequest)
	var p Parser
	var req Request
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		p.Reset()
		req.Reset()
		for end := 64; ; end += 64 {
			if end > len(buf) {
				end = len(buf)
			}
			done, err := p.Parse(buf[:end], &req)
			if err != nil {
				b.Fatal(err)
			}
			if done {
				break
			}
		}
	}
}

// BenchmarkChunked decodes a body of 16 chunks of 4 KiB.
func BenchmarkChunked(b *testing.B) {
	var body []byte
	for i := 0; i < 16; i++ {
		body = append(body, "1000\r\n"...)
		for j := 0; j < 4096; j++ {
			body = append(body, 'x')
		}
		body = append(body, "\r\n"...)
	}
	body = append(body, "0\r\n\r\n"...)
	var d ChunkedDecoder
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		d.Reset()
		for off := 0; ; {
			n, _, done, err := d.Next(body[off:])
			if err != nil {
				b.Fatal(err)
			}
			off += n
			if done {
				break
			}
		}
	}
}
