//go:build linux && !race

package server

import (
	"testing"

	"github.com/nproxy/nproxy/config"
	"github.com/nproxy/nproxy/http"
)

// TestMapAllocs proves that a return naming a map's result allocates
// nothing per request for an exact key, a regex whose value names no
// capture, a regex that matches in one way only whose value names its
// captures, and the default, and for a map of a header field ($http_NAME); another regex whose value names captures
// costs the regexp engine's slice of group indexes (logged, not
// asserted).
func TestMapAllocs(t *testing.T) {
	cfg, err := config.Parse("t.ini", []byte(`[map $uri $route]
/a = exact:$http_host
~^/static/ = static
~^/u/(\d+)$ = user:$1
~\.(png|gif)$ = image:$1
default = other

[map $http_x_k $k]
a = A:$http_x_k

[server]
listen = 127.0.0.1:1
return = 200 $route $route $k
`))
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{}
	buf := []byte("GET /a HTTP/1.1\r\nHost: example.com\r\nX-K: a\r\n\r\n")
	req := new(http.Request)
	req.Reset()
	var p http.Parser
	p.Reset()
	if done, err := p.Parse(buf, req); !done || err != nil {
		t.Fatalf("parse: %v %v", done, err)
	}
	st := newReturnStep(s, cfg.Servers[0].Return)
	hdr := make([]byte, 0, 1024)
	for _, tt := range []struct {
		path, body string
		allocs     float64
	}{
		{"/a", "exact:example.com exact:example.com A:a", 0},
		{"/static/x.css", "static static A:a", 0},
		{"/nothing", "other other A:a", 0},
		{"/u/42", "user:42 user:42 A:a", 0},
		{"/a/b.png", "image:png image:png A:a", -1},
	} {
		x := &http.Exchange{Req: req, Buf: buf, Path: []byte(tt.path)}
		serve := func() {
			x.Resp.Reset(hdr)
			st.Serve(x)
		}
		serve()
		if string(x.Resp.Body) != tt.body {
			t.Errorf("%s: body %q, want %q", tt.path, x.Resp.Body, tt.body)
		}
		n := testing.AllocsPerRun(1000, serve)
		if tt.allocs < 0 {
			t.Logf("%s (a regex with captures, no scan plan): %v allocs per request", tt.path, n)
			continue
		}
		if n != tt.allocs {
			t.Errorf("%s: %v allocs, want %v", tt.path, n, tt.allocs)
		}
	}
}
