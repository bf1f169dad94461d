//go:build linux && !race

package proxy

import (
	"strings"
	"testing"

	"github.com/nproxy/nproxy/config"
	"github.com/nproxy/nproxy/http"
	"github.com/nproxy/nproxy/vars"
)

// TestAddHeaderVarsAllocs proves that add_header lines with variables
// add no allocation to a proxied response once a session's buffers have
// grown: their request's parts expanded when the session starts
// (prepareHeaders), the response's head written with $status and the
// attempts ($upstream_addr, $upstream_status) when the backend answers,
// and the head of an error the proxy answers itself.
func TestAddHeaderVarsAllocs(t *testing.T) {
	cfg, err := config.Parse("t.ini", []byte("[map $http_x_k $plan]\na = gold\n[server]\nlisten = 127.0.0.1:1\nproxy_pass = 127.0.0.1:2\n"+
		"add_header = X-Request-ID $request_id always\n"+
		"add_header = X-Up \"$upstream_addr $upstream_status $status $host\"\n"+
		"add_header = X-Plan $plan\n"+
		"add_header = X-Fixed yes\n"))
	if err != nil {
		t.Fatal(err)
	}
	h := &Handler{cfg: cfg.Servers[0]}
	h.initHeaders()
	in := []byte("GET /a HTTP/1.1\r\nHost: example.com\r\nX-K: a\r\n\r\n")
	var p http.Parser
	req := new(http.Request)
	req.Reset()
	if done, err := p.Parse(in, req); !done || err != nil {
		t.Fatal(err)
	}
	var maps vars.MapCache
	x := &http.Exchange{Req: req, Buf: in, Vars: &vars.Values{Host: []byte("example.com"), RequestID: []byte("0123456789abcdef0123456789abcdef"),
		Maps: &maps, Headers: headerSource{req, in}}}
	up := []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\n")
	rh, ok, err := parseRespHead(up)
	if !ok || err != nil {
		t.Fatalf("head: %v %v", ok, err)
	}
	s := &session{h: h}
	dst := make([]byte, 0, 1024)
	var errHead []byte
	exchange := func() {
		maps.Reset()
		s.slog = nil
		s.prepareHeaders(x)
		s.slog.Start("127.0.0.1:2")
		s.slog.Try().Status = 200
		var vals vars.Values
		s.responseVars(&vals, rh.status)
		dst = appendClientHead(dst[:0], up, &rh, []byte("date"), false, false, false, false, &h.respHeaders, &s.addVars, &vals, nil, false)
		errHead = s.errorHeaders(502)
	}
	exchange()
	for _, want := range []string{"X-Request-ID: 0123456789abcdef0123456789abcdef\r\n", "X-Up: 127.0.0.1:2 200 200 example.com\r\n", "X-Plan: gold\r\n", "X-Fixed: yes\r\n"} {
		if !strings.Contains(string(dst), want) {
			t.Errorf("head without %q:\n%s", want, dst)
		}
	}
	if string(errHead) != "X-Request-ID: 0123456789abcdef0123456789abcdef\r\n" {
		t.Errorf("502's lines %q, want only the always one", errHead)
	}
	if n := testing.AllocsPerRun(1000, exchange); n != 0 {
		t.Errorf("add_header with variables: %v allocs per proxied response, want 0", n)
	}
}
