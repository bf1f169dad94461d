//go:build linux && !race

package server

import (
	"bytes"
	"testing"

	"github.com/nproxy/nproxy/http"
	"github.com/nproxy/nproxy/http2"
	"github.com/nproxy/nproxy/reactor"
	xhttp2 "golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// TestH2ProxyStreamAllocs proves that a proxied HTTP/2 stream on a warm
// connection allocates nothing on the server's side of the seam: the
// stream's http.Client (h2proxy) and its access log record are
// recycled, and the response's head, body and end (a chunked body with
// trailer fields, the richest case) are framed from pooled buffers. The
// step is a stand-in for the proxy (its own costs are the proxy's
// tests'): it takes the stream over in Serve, sends an HTTP/1.1
// response and releases it, as the proxy's session does.
func TestH2ProxyStreamAllocs(t *testing.T) {
	c, _, _, al := observeFixture(t) // access log and metrics on
	defer al.Close()
	s := c.s
	s.loop = reactor.NewLoop(reactor.NewEpoll(), reactor.Options{})
	c.depth = 1 // as inside a conn method: kick leaves the settling to the test
	h := &h2conn{c: c, bodies: make(map[uint32]*h2body), proxies: make(map[uint32]*h2proxy)}
	c.h2 = h
	st := &allocStep{h: h, resp: []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTrailer: X-Sum\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"5\r\nhello\r\n0\r\nX-Sum: 42\r\n\r\n")}
	h.hc = http2.NewConn(st, nil)

	// The client's side, encoded beforehand: the preface, SETTINGS, then
	// one request per run on streams 1, 3, 5, ...
	const runs = 200
	var wire bytes.Buffer
	fr := xhttp2.NewFramer(&wire, nil)
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	wire.WriteString(xhttp2.ClientPreface)
	fr.WriteSettings()
	frames := make([][]byte, runs+2)
	for i := range frames {
		off := wire.Len()
		hb.Reset()
		for _, f := range [][2]string{{":method", "GET"}, {":scheme", "https"}, {":authority", "example.com"}, {":path", "/api/x"}, {"user-agent", "t"}} {
			enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
		}
		fr.WriteHeaders(xhttp2.HeadersFrameParam{StreamID: uint32(2*i + 1), BlockFragment: hb.Bytes(), EndStream: true, EndHeaders: true})
		frames[i] = wire.Bytes()[off:]
	}
	out := make([]byte, 0, 64<<10)
	n := 0
	exchange := func() {
		if err := h.hc.Feed(frames[n]); err != nil {
			t.Fatal(err)
		}
		n++
		h.settleProxies()
		out = h.hc.Output(out[:0])
	}
	all := wire.Bytes()
	pre := all[:len(all)-totalLen(frames)]
	if err := h.hc.Feed(pre); err != nil {
		t.Fatal(err)
	}
	exchange()
	if !bytes.Contains(out, []byte("hello")) || st.served != 1 || len(h.proxies) != 0 || h.hc.Streams() != 0 {
		t.Fatalf("first exchange: served %d, proxies %d, streams %d, out %q", st.served, len(h.proxies), h.hc.Streams(), out)
	}
	if a := testing.AllocsPerRun(runs, exchange); a != 0 {
		t.Errorf("a proxied stream allocates %v", a)
	}
	if st.served != runs+2 {
		t.Fatalf("served %d streams, want %d", st.served, runs+2)
	}
}

func totalLen(b [][]byte) int {
	n := 0
	for _, x := range b {
		n += len(x)
	}
	return n
}

// allocStep is the connection's http2.Handler with OnRequest routed to a
// step that takes every stream over (the part of h2conn.OnRequest past
// routing) and answers it with a whole HTTP/1.1 response.
type allocStep struct {
	h      *h2conn
	resp   []byte
	served int
}

func (a *allocStep) OnRequest(id uint32, rh *http2.RequestHead, end bool) {
	h := a.h
	x := &h.c.s.x
	x.Req, x.Buf = &rh.Req, rh.Buf
	h.serving = id
	cl := h.hijack(a)
	h.taking = nil
	h.takeOver(id, cl.(*h2proxy), end)
	cl.SetResult(200, 5)
	if done, err := cl.Send(a.resp); !done || err != nil {
		panic("send did not finish")
	}
	cl.Release(true)
	a.served++
}

func (a *allocStep) OnData(id uint32, p []byte, end bool)        { a.h.OnData(id, p, end) }
func (a *allocStep) OnTrailers(id uint32, rh *http2.RequestHead) { a.h.OnTrailers(id, rh) }
func (a *allocStep) OnReset(id uint32, code http2.ErrCode)       { a.h.OnReset(id, code) }
func (a *allocStep) OnWritable(id uint32)                        { a.h.OnWritable(id) }

// The step's side of the seam: nothing arrives (the request has no body).
func (a *allocStep) ClientData(b []byte) int { return len(b) }
func (a *allocStep) ClientClosed(error)      {}
func (a *allocStep) ClientSent(error)        {}
func (a *allocStep) ClientTimeout()          {}

var _ http.Stream = (*allocStep)(nil)
