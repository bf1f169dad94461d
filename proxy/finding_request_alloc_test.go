//go:build linux && !race

package proxy

import (
	"regexp"
	"testing"

	"github.com/nproxy/nproxy/http"
	"github.com/nproxy/nproxy/vars"
)

// TestAppendRequestHeadAllocs checks that rewriting a request head for
// upstream allocates nothing once the destination has room, on the paths
// the findings of issue 9 added: several Connection lines, a long
// option name, underscores, an absolute-form target.
func TestAppendRequestHeadAllocs(t *testing.T) {
	in := []byte("POST http://x/a?b HTTP/1.1\r\nHost: y\r\nConnection: x-a-very-long-option-name-over-thirty-two-bytes\r\n" +
		"X-A-Very-Long-Option-Name-Over-Thirty-Two-Bytes: 1\r\nConnection: keep-alive\r\nX_U: 1\r\n" +
		"X-Forwarded-For: 10.0.0.1\r\nContent-Length: 3\r\n\r\nabc")
	var p http.Parser
	var req http.Request
	req.Reset()
	if done, err := p.Parse(in, &req); !done || err != nil {
		t.Fatalf("done=%v err=%v", done, err)
	}
	x := &http.Exchange{Req: &req, Buf: in}
	dst := make([]byte, 0, 4096)
	peer := []byte(testPeer)
	if n := testing.AllocsPerRun(100, func() {
		dst = appendRequestHead(dst[:0], x, peer, testBackend, false, false, nil, nil)
	}); n != 0 {
		t.Errorf("appendRequestHead allocates %v per request", n)
	}
}

// TestSetHeadersAllocs proves that proxy_set_header with variables adds
// no allocation to building the upstream head.
func TestSetHeadersAllocs(t *testing.T) {
	in := []byte("GET /a HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n")
	var p http.Parser
	req := new(http.Request)
	req.Reset()
	if done, err := p.Parse(in, req); !done || err != nil {
		t.Fatal(err)
	}
	x := &http.Exchange{Req: req, Buf: in, Vars: &vars.Values{RemoteAddr: []byte(testPeer), Host: []byte("x")}}
	set := setHeaders(t, "Host $host", "X-Real-IP $remote_addr", `Accept-Encoding ""`)
	dst := make([]byte, 0, 1024)
	peer := []byte(testPeer)
	if n := testing.AllocsPerRun(100, func() {
		dst = appendRequestHead(dst[:0], x, peer, testBackend, false, false, set, nil)
	}); n != 0 {
		t.Errorf("appendRequestHead with proxy_set_header allocates %v per request", n)
	}
}

// TestForwardedAllocs proves that proxy_forwarded = on adds no
// allocation to building the upstream head, with a client Forwarded to
// merge and a Host to quote.
func TestForwardedAllocs(t *testing.T) {
	in := []byte("GET /a HTTP/1.1\r\nHost: x:8080\r\nForwarded: for=10.0.0.1\r\n\r\n")
	var p http.Parser
	req := new(http.Request)
	req.Reset()
	if done, err := p.Parse(in, req); !done || err != nil {
		t.Fatal(err)
	}
	x := &http.Exchange{Req: req, Buf: in}
	dst := make([]byte, 0, 1024)
	peer := []byte("2001:db8::1")
	if n := testing.AllocsPerRun(100, func() {
		dst = appendRequestHead(dst[:0], x, peer, testBackend, false, true, nil, nil)
	}); n != 0 {
		t.Errorf("appendRequestHead with proxy_forwarded allocates %v per request", n)
	}
}

// TestProxyURIAllocs proves that a request target built from captures
// (proxy_pass = http://b/$1$is_args$args) allocates nothing.
func TestProxyURIAllocs(t *testing.T) {
	re := regexp.MustCompile(`^/api/v1/(.*)$`)
	uri, err := vars.ParseCaptures("/$1$is_args$args", re.NumSubexp())
	if err != nil {
		t.Fatal(err)
	}
	x := uriExchange(t, "/api/v1/a%20b?id=1", "/api/v1/a b", re)
	dst := make([]byte, 0, 1024)
	peer := []byte(testPeer)
	if n := testing.AllocsPerRun(100, func() {
		dst = appendRequestHead(dst[:0], x, peer, testBackend, false, false, nil, &uri)
	}); n != 0 {
		t.Errorf("appendRequestHead with a URI part allocates %v per request", n)
	}
}
