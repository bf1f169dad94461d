//go:build linux

package server

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nproxy/nproxy/accesslog"
	"github.com/nproxy/nproxy/config"
	"github.com/nproxy/nproxy/http"
	"github.com/nproxy/nproxy/metrics"
	"github.com/nproxy/nproxy/reactor"
)

// observeFixture is a connection of a server with metrics and an access
// log, and a parsed request, without sockets.
func observeFixture(t testing.TB) (*conn, *http.Request, []byte, *accesslog.Log) {
	al, err := accesslog.Open(filepath.Join(t.TempDir(), "access.log"))
	if err != nil {
		t.Fatal(err)
	}
	tb := metrics.New()
	s := &Server{table: tb, counters: tb.Attach(0)}
	vh := &vhost{alog: al, alogFmt: accesslog.Combined, cfg: &config.Server{}, rt: &router{root: &route{}}}
	i := tb.Register("_", "", "-")
	tb.UseRoute(i)
	vh.rt.root.m = s.counters.Route(i)
	c := &conn{s: s, vh: vh, g: &addrGroup{addr: "127.0.0.1:80"}, obsv: &observed{peer: netip.MustParseAddr("192.0.2.1"), peerKnown: true}}
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

// streamFixture is observeFixture for a streamed (proxied) exchange: the
// server has a loop, whose clock times the exchange, and the proxy's
// handler.
func streamFixture(t testing.TB) (*conn, *http.Request, []byte, *accesslog.Log) {
	c, req, buf, al := observeFixture(t)
	be, _, err := reactor.New("epoll")
	if err != nil {
		t.Fatal(err)
	}
	c.s.loop = reactor.NewLoop(be, reactor.Options{MaxConns: 8})
	c.s.handler = metrics.HandlerProxy
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
