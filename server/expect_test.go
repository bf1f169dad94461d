//go:build linux

package server_test

import (
	"bufio"
	"io"
	"testing"
)

// TestExpectContinue sends requests with Expect: 100-continue to a path
// the server answers itself (issue 11, section 2). As nginx: on a
// connection that stays open, 100 Continue, the final response, then the
// body is read and dropped and the next request is served; on one that
// closes, the final response at once and no 100. Never a bare close.
func TestExpectContinue(t *testing.T) {
	tests := []struct {
		name       string
		head       string // the request head, Expect included
		body       string // sent once the interim or final response arrived
		want100    bool
		wantStatus int
		wantClose  bool
	}{
		{name: "POST keep-alive", head: "POST /index.html HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
			body: "hello", want100: true, wantStatus: 405},
		{name: "GET with a body", head: "GET /small.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nExpect: 100-Continue\r\n\r\n",
			body: "abc", want100: true, wantStatus: 200},
		{name: "chunked", head: "PUT /missing HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n",
			body: "5\r\nhello\r\n0\r\n\r\n", want100: true, wantStatus: 405},
		{name: "body sent at once", head: "POST /index.html HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhello",
			want100: true, wantStatus: 405},
		{name: "Connection: close", head: "POST /index.html HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
			wantStatus: 405, wantClose: true},
		{name: "too large", head: "POST /index.html HTTP/1.1\r\nHost: t\r\nContent-Length: 2000000\r\nExpect: 100-continue\r\n\r\n",
			wantStatus: 413, wantClose: true},
	}
	forEachBackend(t, func(t *testing.T, backend string) {
		ts := startServer(t, backend, "")
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				c := ts.dial(t)
				r := bufio.NewReader(c)
				io.WriteString(c, tt.head)
				res := readResponse(t, r, false)
				if got := res.status == 100; got != tt.want100 {
					t.Fatalf("first response %d; want 100 Continue: %v", res.status, tt.want100)
				}
				if res.status == 100 {
					res = readResponse(t, r, false)
				}
				if res.status != tt.wantStatus || (res.header["connection"] == "close") != tt.wantClose {
					t.Fatalf("final response %d, Connection %q; want %d, close %v", res.status, res.header["connection"], tt.wantStatus, tt.wantClose)
				}
				if tt.wantClose {
					expectCleanEOF(t, "after the final response", r, c)
					return
				}
				io.WriteString(c, tt.body+get("/small.txt"))
				if res := readResponse(t, r, false); res.status != 200 || string(res.body) != string(smallBody) {
					t.Fatalf("next request on the connection: %d, %d body bytes", res.status, len(res.body))
				}
			})
		}
	})
}
