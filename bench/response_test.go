//go:build linux

package bench

import (
	"strings"
	"testing"
)

type parsed struct {
	status  int
	bodyLen int64
	closing bool
}

// parseAll feeds stream to a parser in pieces of at most step bytes and
// returns every complete response, plus whether the stream ended cleanly
// after EOF.
func parseAll(stream []byte, step int) (out []parsed, err error) {
	var p respParser
	p.reset()
	for len(stream) > 0 {
		chunk := stream[:min(step, len(stream))]
		stream = stream[len(chunk):]
		for len(chunk) > 0 {
			n, done, ferr := p.feed(chunk)
			if ferr != nil {
				return out, ferr
			}
			chunk = chunk[n:]
			if done {
				out = append(out, parsed{p.status, p.bodyLen, p.closing})
				p.reset()
			}
		}
	}
	if p.eof() {
		out = append(out, parsed{p.status, p.bodyLen, p.closing})
	}
	return out, nil
}

func TestResponseParser(t *testing.T) {
	tests := []struct {
		name    string
		stream  string
		want    []parsed
		wantErr bool
	}{
		{name: "content-length", stream: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
			want: []parsed{{200, 5, false}}},
		{name: "two keep-alive", stream: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhiHTTP/1.1 404 Not Found\r\ncontent-length:3\r\n\r\nnop",
			want: []parsed{{200, 2, false}, {404, 3, false}}},
		{name: "chunked", stream: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1a;ext=1\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\n",
			want: []parsed{{200, 31, false}}},
		{name: "chunked with trailer", stream: "HTTP/1.1 200 OK\r\nTRANSFER-ENCODING: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\nX-T: 1\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
			want: []parsed{{200, 3, false}, {204, 0, false}}},
		{name: "close-delimited", stream: "HTTP/1.0 200 OK\r\nServer: x\r\n\r\nuntil the end",
			want: []parsed{{200, 13, true}}},
		{name: "connection close", stream: "HTTP/1.1 200 OK\r\nConnection: Close\r\nContent-Length: 0\r\n\r\n",
			want: []parsed{{200, 0, true}}},
		// The head parser is http's, as strict as the proxy's: a server
		// ending lines in bare LF is counted as malformed.
		{name: "bare LF", stream: "HTTP/1.1 200 OK\nContent-Length: 1\n\nx", wantErr: true},
		{name: "HTTP/1.0 closes", stream: "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi",
			want: []parsed{{200, 2, true}}},
		{name: "HTTP/1.0 keep-alive", stream: "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nhiHTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nx",
			want: []parsed{{200, 2, false}, {200, 1, false}}},
		{name: "length list", stream: "HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nhi",
			want: []parsed{{200, 2, false}}},
		{name: "transfer-encoding wins over length", stream: "HTTP/1.1 200 OK\r\nContent-Length: 9\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
			want: []parsed{{200, 2, false}}},
		{name: "unknown coding is close-delimited", stream: "HTTP/1.1 200 OK\r\nTransfer-Encoding: xchunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
			want: []parsed{{200, 12, true}}},
		{name: "head over many reads", stream: "HTTP/1.1 200 OK\r\n" + strings.Repeat("X-Pad: 0123456789abcdef\r\n", 40) + "Content-Length: 3\r\n\r\nabcHTTP/1.1 204 No Content\r\n\r\n",
			want: []parsed{{200, 3, false}, {204, 0, false}}},
		{name: "close substring", stream: "HTTP/1.1 200 OK\r\nConnection: closed\r\nContent-Length: 0\r\n\r\n",
			want: []parsed{{200, 0, false}}},
		{name: "signed length", stream: "HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\nx", wantErr: true},
		{name: "NUL in header", stream: "HTTP/1.1 200 OK\r\nX: \x00\r\nContent-Length: 1\r\n\r\nx", wantErr: true},
		{name: "no reason", stream: "HTTP/1.1 304\r\nETag: x\r\n\r\n",
			want: []parsed{{304, 0, false}}},
		{name: "long header", stream: "HTTP/1.1 200 OK\r\nX-A-Very-Long-Header-Name-Indeed: v\r\nContent-Length: 1\r\n\r\nx",
			want: []parsed{{200, 1, false}}},
		{name: "bad status", stream: "HTTP/1.1 2x0 OK\r\n\r\n", wantErr: true},
		{name: "bad length", stream: "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n", wantErr: true},
		{name: "empty length", stream: "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n", wantErr: true},
		{name: "bad chunk", stream: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", wantErr: true},
		{name: "bad chunk end", stream: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\naXY", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for step := 1; step <= len(tt.stream); step++ {
				got, err := parseAll([]byte(tt.stream), step)
				if (err != nil) != tt.wantErr {
					t.Fatalf("step %d: err = %v, want error %v", step, err, tt.wantErr)
				}
				if tt.wantErr {
					continue
				}
				if len(got) != len(tt.want) {
					t.Fatalf("step %d: got %+v, want %+v", step, got, tt.want)
				}
				for i := range got {
					if got[i] != tt.want[i] {
						t.Fatalf("step %d: response %d = %+v, want %+v", step, i, got[i], tt.want[i])
					}
				}
			}
		})
	}
}

// FuzzResponseParser checks that the parser never panics and that how a
// stream is split into reads never changes what it finds.
func FuzzResponseParser(f *testing.F) {
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"), 3)
	f.Add([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"), 7)
	f.Add([]byte("HTTP/1.0 500 x\r\nConnection: close\r\n\r\nbody"), 1)
	f.Fuzz(func(t *testing.T, stream []byte, step int) {
		if step < 1 {
			step = 1
		}
		whole, werr := parseAll(stream, len(stream)+1)
		split, serr := parseAll(stream, step)
		if (werr != nil) != (serr != nil) {
			t.Fatalf("error whole=%v split(%d)=%v", werr, step, serr)
		}
		if werr != nil {
			return
		}
		if len(whole) != len(split) {
			t.Fatalf("whole %+v, split(%d) %+v", whole, step, split)
		}
		for i := range whole {
			if whole[i] != split[i] {
				t.Fatalf("whole %+v, split(%d) %+v", whole, step, split)
			}
		}
	})
}
