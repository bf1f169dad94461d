//go:build linux && !race

package server

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nproxy/nproxy/config"
	"github.com/nproxy/nproxy/http"
	"github.com/nproxy/nproxy/static"
)

// TestAddHeaderVarsAllocs proves that add_header lines with variables
// ($request_id, $status, $host, a map's result, a request header) add no
// allocation to a static file's response and to a return's, once the
// server's scratch buffers have grown. (A proxied response's lines are
// the proxy's: proxy.TestAddHeaderVarsAllocs.)
func TestAddHeaderVarsAllocs(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.txt"), []byte("a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse("t.ini", []byte("[map $http_x_k $plan]\na = gold\n[server]\nlisten = 127.0.0.1:1\nstatic_root = "+dir+"\n"+
		"add_header = X-Request-ID $request_id always\n"+
		"add_header = X-Served \"$host $status $uri\"\n"+
		"add_header = X-Plan $plan\n"+
		"add_header = X-None $http_x_none\n"+
		"add_header = X-Fixed yes\n"+
		"add_header = X-Addr $remote_addr\n"+
		"[location = /r]\nreturn = 200 ok\n"))
	if err != nil {
		t.Fatal(err)
	}
	sc := cfg.Servers[0]
	st, err := static.New(sc)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s := &Server{}
	rt := &router{s: s}
	c := &conn{s: s, vh: &vhost{cfg: sc}, g: &addrGroup{addr: "127.0.0.1:80"}, obsv: &observed{peer: netip.MustParseAddr("192.0.2.1"), peerKnown: true}}
	for _, tt := range []struct {
		path string
		r    *route
		want string
	}{
		{"/a.txt", &route{cfg: sc, static: st}, "X-Served: example.com 200 /a.txt\r\n"},
		{"/r", &route{cfg: sc, ret: newReturnStep(s, sc.Locations[0].Server.Return)}, "X-Served: example.com 200 /r\r\n"},
	} {
		tt.r.headers = new(http.ExtraHeaders)
		for _, h := range sc.AddHeaders {
			tt.r.headers.AddValue(h.Name, h.Vars, h.Always)
		}
		rt.root = tt.r
		buf := []byte("GET " + tt.path + " HTTP/1.1\r\nHost: Example.com\r\nX-K: a\r\n\r\n")
		req := new(http.Request)
		req.Reset()
		var p http.Parser
		p.Reset()
		if done, err := p.Parse(buf, req); !done || err != nil {
			t.Fatalf("parse: %v %v", done, err)
		}
		x := &http.Exchange{Req: req, Buf: buf, Takeover: c}
		hdr := make([]byte, 0, 1024)
		path := []byte(tt.path)
		serve := func() {
			s.reqIDSet = false // a new exchange: a new $request_id
			x.Resp.Reset(hdr)
			x.Path = path
			rt.Serve(x)
			if x.Resp.Release != nil {
				x.Resp.Release.Release()
			}
		}
		serve()
		for _, want := range []string{tt.want, "X-Plan: gold\r\n", "X-Fixed: yes\r\n", "X-Addr: 192.0.2.1\r\n", "X-Request-ID: " + string(s.requestID()) + "\r\n"} {
			if !strings.Contains(string(x.Resp.Header), want) {
				t.Errorf("%s: header lines without %q:\n%s", tt.path, want, x.Resp.Header)
			}
		}
		if strings.Contains(string(x.Resp.Header), "X-None") {
			t.Errorf("%s: an empty value's header is sent:\n%s", tt.path, x.Resp.Header)
		}
		if n := testing.AllocsPerRun(1000, serve); n != 0 {
			t.Errorf("%s: %v allocs, want 0", tt.path, n)
		}
	}
}
