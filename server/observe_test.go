//go:build linux

package server

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nproxy/nproxy/accesslog"
	"github.com/nproxy/nproxy/http"
	"github.com/nproxy/nproxy/metrics"
)

// TestStreamSent feeds streamed responses to the observer in pieces and
// checks the status and body bytes it records.
func TestStreamSent(t *testing.T) {
	tests := []struct {
		name   string
		sends  []string
		status int
		body   int64
	}{
		{name: "one send", sends: []string{"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"}, status: 200, body: 5},
		{name: "head then body", sends: []string{"HTTP/1.1 404 Not Found\r\nX: y\r\n\r\n", "abc", "de"}, status: 404, body: 5},
		{name: "head end split", sends: []string{"HTTP/1.1 200 OK\r\nA: b\r", "\n\r", "\nxyz"}, status: 200, body: 3},
		{name: "100 continue first", sends: []string{"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\n\r\nok"}, status: 201, body: 2},
		{name: "100 continue apart", sends: []string{"HTTP/1.1 100 Continue\r\n\r\n", "HTTP/1.1 502 Bad Gateway\r\n\r\n", "x"}, status: 502, body: 1},
		{name: "101 is final", sends: []string{"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", "frame"}, status: 101, body: 5},
		{name: "nothing sent", sends: nil, status: 0, body: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := &streamObs{atHead: true}
			c := &conn{obsv: &observed{stream: o}}
			for _, b := range tt.sends {
				c.streamSent([]byte(b))
			}
			if o.status != tt.status || o.body != tt.body {
				t.Errorf("status %d body %d, want %d and %d", o.status, o.body, tt.status, tt.body)
			}
		})
	}
}

// observeFixture is a connection of a server with metrics and an access
// log, and a parsed request, without sockets.
func observeFixture(t testing.TB) (*conn, *http.Request, []byte, *accesslog.Log) {
	al, err := accesslog.Open(filepath.Join(t.TempDir(), "access.log"))
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{counters: metrics.New().Attach(0)}
	c := &conn{s: s, vh: &vhost{alog: al}, obsv: &observed{peer: netip.MustParseAddr("192.0.2.1"), peerKnown: true}}
	buf := []byte("GET /a HTTP/1.1\r\nHost: x\r\nUser-Agent: t\r\nReferer: http://r/\r\n\r\n")
	req := new(http.Request)
	req.Reset()
	var p http.Parser
	p.Reset()
	if done, err := p.Parse(buf, req); !done || err != nil {
		t.Fatalf("parse: %v %v", done, err)
	}
	return c, req, buf, al
}

func TestObserveLine(t *testing.T) {
	c, req, buf, al := observeFixture(t)
	var r http.Response
	r.Reset(nil)
	r.SetBody(200, "", []byte("hello"))
	c.observe(req, buf, &r, false)
	al.Close()
	b, _ := os.ReadFile(al.Path())
	if line := string(b); !strings.HasPrefix(line, "192.0.2.1 - - [") || !strings.HasSuffix(line, `] "GET /a HTTP/1.1" 200 5 "http://r/" "t"`+"\n") {
		t.Errorf("line %q", line)
	}
}
