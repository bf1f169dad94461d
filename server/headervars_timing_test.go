//go:build linux

package server

import (
	"net/netip"
	"testing"

	"github.com/nproxy/nproxy/config"
	"github.com/nproxy/nproxy/http"
)

// BenchmarkAddHeader times routing a return's request whose route adds
// three headers: literal values (built once at load, as before variables
// were allowed), and values with variables ($request_id, $host $status,
// $remote_addr), expanded per response.
//
//	go test -run '^$' -bench AddHeader -count 5 ./server
func BenchmarkAddHeader(b *testing.B) {
	for _, bb := range []struct{ name, lines string }{
		{"literal", "add_header = X-Request-ID 0123456789abcdef0123456789abcdef always\nadd_header = X-Served \"example.com 200\"\nadd_header = X-Addr 192.0.2.1\n"},
		{"vars", "add_header = X-Request-ID $request_id always\nadd_header = X-Served \"$host $status\"\nadd_header = X-Addr $remote_addr\n"},
	} {
		b.Run(bb.name, func(b *testing.B) {
			cfg, err := config.Parse("t.ini", []byte("[server]\nlisten = 127.0.0.1:1\nreturn = 200 ok\n"+bb.lines))
			if err != nil {
				b.Fatal(err)
			}
			sc := cfg.Servers[0]
			s := &Server{}
			r := &route{cfg: sc, ret: newReturnStep(s, sc.Return), headers: new(http.ExtraHeaders)}
			for _, h := range sc.AddHeaders {
				r.headers.AddValue(h.Name, h.Vars, h.Always)
			}
			rt := &router{s: s, root: r}
			c := &conn{s: s, vh: &vhost{cfg: sc}, g: &addrGroup{addr: "127.0.0.1:80"}, obsv: &observed{peer: netip.MustParseAddr("192.0.2.1"), peerKnown: true}}
			buf := []byte("GET /r HTTP/1.1\r\nHost: example.com\r\n\r\n")
			req := new(http.Request)
			req.Reset()
			var p http.Parser
			p.Reset()
			if done, err := p.Parse(buf, req); !done || err != nil {
				b.Fatalf("parse: %v %v", done, err)
			}
			x := &http.Exchange{Req: req, Buf: buf, Takeover: c}
			hdr := make([]byte, 0, 1024)
			path := []byte("/r")
			b.ReportAllocs()
			for b.Loop() {
				s.reqIDSet = false
				x.Resp.Reset(hdr)
				x.Path = path
				rt.Serve(x)
			}
		})
	}
}
