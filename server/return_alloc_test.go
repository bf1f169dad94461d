//go:build linux && !race

package server

import (
	"testing"

	"github.com/nproxy/nproxy/config"
	"github.com/nproxy/nproxy/http"
)

// TestReturnAllocs proves that answering with return (a redirect with
// variables, a fixed text) allocates nothing.
func TestReturnAllocs(t *testing.T) {
	cfg, err := config.Parse("t.ini", []byte("[server]\nlisten = 127.0.0.1:1\n[location /r/]\nreturn = 301 https://$host$request_uri\n[location /t/]\nreturn = 403 no\n"))
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{}
	buf := []byte("GET /r/a?b=c HTTP/1.1\r\nHost: Example.com\r\n\r\n")
	req := new(http.Request)
	req.Reset()
	var p http.Parser
	p.Reset()
	if done, err := p.Parse(buf, req); !done || err != nil {
		t.Fatalf("parse: %v %v", done, err)
	}
	x := &http.Exchange{Req: req, Buf: buf, Path: []byte("/r/a")}
	hdr := make([]byte, 0, 1024)
	for _, loc := range cfg.Servers[0].Locations {
		st := newReturnStep(s, loc.Server.Return)
		serve := func() {
			x.Resp.Reset(hdr)
			st.Serve(x)
		}
		serve()
		if n := testing.AllocsPerRun(1000, serve); n != 0 {
			t.Errorf("return %d: %v allocs, want 0", loc.Server.Return.Code, n)
		}
	}
	if string(x.Resp.Body) != "no" {
		t.Errorf("body %q", x.Resp.Body)
	}
}
