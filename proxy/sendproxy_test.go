//go:build linux

package proxy_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nproxy/nproxy/proxyproto"
	"golang.org/x/net/http2"
)

// ppBackend is a backend that reads a PROXY protocol header at the start
// of each connection (with proxyproto.Parse) and then answers HTTP/1.1
// requests on it; it records each connection's header, and counts the
// connections still open (closed by the proxy, or by a read error).
type ppBackend struct {
	addr string
	open atomic.Int64
	mu   sync.Mutex
	hdrs []ppConn // one per connection, in accept order
	live map[net.Conn]bool
	// hold, when set before the first request, keeps each request for
	// /hold waiting until it is one of hold.n waiting at once.
	hold *barrier
}

// barrier lets n requests go together, a round at a time; one that
// waits 10s without the others goes anyway and counts as missed.
type barrier struct {
	mu      sync.Mutex
	n       int
	waiting int
	round   chan struct{}
	missed  atomic.Int64
}

func (b *barrier) wait() {
	b.mu.Lock()
	if b.round == nil {
		b.round = make(chan struct{})
	}
	round := b.round
	if b.waiting++; b.waiting == b.n {
		close(round)
		b.round, b.waiting = nil, 0
	}
	b.mu.Unlock()
	select {
	case <-round:
	case <-time.After(10 * time.Second):
		b.missed.Add(1)
	}
}

type ppConn struct {
	raw      []byte     // the header as received
	src      netip.Addr // what Parse read
	requests []string   // the paths asked on the connection
}

func startPPBackend(t *testing.T) *ppBackend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	b := &ppBackend{addr: ln.Addr().String()}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b.open.Add(1)
			go func() {
				defer b.open.Add(-1)
				b.serve(c)
			}()
		}
	}()
	return b
}

func (b *ppBackend) serve(c net.Conn) {
	b.mu.Lock()
	if b.live == nil {
		b.live = map[net.Conn]bool{}
	}
	b.live[c] = true
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		delete(b.live, c)
		b.mu.Unlock()
		c.Close()
	}()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	var buf []byte
	one := make([]byte, 1)
	var n int
	var src netip.Addr
	for { // byte by byte: the header's end is the first thing to find
		if _, err := c.Read(one); err != nil {
			return
		}
		buf = append(buf, one[0])
		var err error
		if n, src, err = proxyproto.Parse(buf); err != nil {
			return
		} else if n > 0 {
			break
		}
	}
	b.mu.Lock()
	i := len(b.hdrs)
	b.hdrs = append(b.hdrs, ppConn{raw: buf[:n], src: src})
	b.mu.Unlock()
	r := bufio.NewReader(c)
	for {
		req, err := http.ReadRequest(r)
		if err != nil {
			return
		}
		io.Copy(io.Discard, req.Body)
		b.mu.Lock()
		b.hdrs[i].requests = append(b.hdrs[i].requests, req.URL.Path)
		b.mu.Unlock()
		if b.hold != nil && req.URL.Path == "/hold" {
			b.hold.wait()
		}
		body := fmt.Sprintf("conn %d", i)
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	}
}

// closeAll closes every connection open (the backend drops its idle
// keep-alive connections).
func (b *ppBackend) closeAll() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for c := range b.live {
		c.Close()
	}
}

func (b *ppBackend) conns() []ppConn {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]ppConn, len(b.hdrs))
	for i, h := range b.hdrs {
		out[i] = ppConn{raw: h.raw, src: h.src, requests: append([]string(nil), h.requests...)}
	}
	return out
}

// TestSendProxyProtocol checks proxy_send_proxy_protocol on both reactor
// backends, with a backend that parses the header: v1 from an
// [upstream] group and v2 from a [location]'s own proxy_pass name the
// client's address and port and the proxy's; the header is sent once
// per upstream connection, the requests of one client connection share
// it, another client connection gets a connection of its own; and a
// health probe's header names no client (v1 UNKNOWN).
func TestSendProxyProtocol(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		one, two := startPPBackend(t), startPPBackend(t)
		ps := startProxy(t, backend, "proxy_pass = pp\n"+
			"[location /v2/]\nproxy_pass = "+two.addr+"\nproxy_send_proxy_protocol = v2\n"+
			"[upstream pp]\nserver = "+one.addr+"\nproxy_send_proxy_protocol = v1\nhealth_check = /probe 1s\n")
		_, proxyPort, _ := net.SplitHostPort(ps.addr)
		var clients []string
		for i := 0; i < 2; i++ {
			cl := ps.client(t)
			clients = append(clients, cl.c.LocalAddr().String())
			for _, p := range []string{"/a", "/b", "/v2/c", "/v2/d"} {
				if res := cl.do(get(p)); res.status != 200 {
					t.Fatalf("%s: status %d", p, res.status)
				}
			}
		}
		var got []ppConn
		for _, c := range one.conns() {
			if len(c.requests) > 0 && c.requests[0] != "/probe" {
				got = append(got, c)
			}
		}
		if len(got) != 2 {
			t.Fatalf("v1 backend: %d connections for the two clients, want 2: %+v", len(got), got)
		}
		for i, c := range got {
			host, port, _ := net.SplitHostPort(clients[i])
			want := fmt.Sprintf("PROXY TCP4 %s 127.0.0.1 %s %s\r\n", host, port, proxyPort)
			if string(c.raw) != want || c.src.String() != host || strings.Join(c.requests, " ") != "/a /b" {
				t.Errorf("v1 connection %d: header %q (src %v), requests %v; want %q and /a /b", i, c.raw, c.src, c.requests, want)
			}
		}
		got2 := two.conns()
		if len(got2) != 2 {
			t.Fatalf("v2 backend: %d connections, want 2", len(got2))
		}
		for i, c := range got2 {
			host, _, _ := net.SplitHostPort(clients[i])
			if len(c.raw) != 16+12 || c.src.String() != host || strings.Join(c.requests, " ") != "/v2/c /v2/d" {
				t.Errorf("v2 connection %d: %d header bytes (src %v), requests %v", i, len(c.raw), c.src, c.requests)
			}
			if port := int(c.raw[24])<<8 | int(c.raw[25]); fmt.Sprint(port) != clients[i][strings.LastIndex(clients[i], ":")+1:] {
				t.Errorf("v2 connection %d: source port %d, want the client's %s", i, port, clients[i])
			}
		}
		waitFor(t, 10*time.Second, "a health probe with a PROXY header", func() bool {
			for _, c := range one.conns() {
				if len(c.requests) > 0 && c.requests[0] == "/probe" {
					return bytes.Equal(c.raw, []byte("PROXY UNKNOWN\r\n"))
				}
			}
			return false
		})
	})
}

// TestSendProxyClientsLeave checks, on both reactor backends, that an
// upstream connection that named a client is that client connection's
// alone and goes with it: 600 short clients (half asking Connection:
// close, half keep-alive that just go away) leave no connection to the
// backend open once they are gone, none of their connections served
// another client, and a keep-alive client that stays has its requests
// on one upstream connection, which closes when the client does.
func TestSendProxyClientsLeave(t *testing.T) {
	const clients = 600
	forEachBackend(t, func(t *testing.T, backend string) {
		be := startPPBackend(t)
		ps := startProxy(t, backend, "proxy_pass = pp\n"+
			"[upstream pp]\nserver = "+be.addr+"\nproxy_send_proxy_protocol = v1\nproxy_keepalive = 2\n")
		for i := 0; i < clients; i++ {
			c, err := ps.connect(2 * time.Second)
			if err != nil {
				t.Fatal(err)
			}
			c.SetDeadline(time.Now().Add(20 * time.Second))
			cl := &client{t: t, c: c, r: bufio.NewReader(c)}
			req := "GET /short HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
			if i%2 == 1 {
				req = get("/short")
			}
			if res := cl.do(req); res.status != 200 {
				t.Fatalf("client %d: status %d", i, res.status)
			}
			c.Close()
		}
		waitFor(t, 10*time.Second, "the departed clients' upstream connections to close", func() bool {
			return be.open.Load() == 0
		})
		conns := be.conns()
		if len(conns) != clients {
			t.Fatalf("%d backend connections for %d clients, want one each", len(conns), clients)
		}
		for i, c := range conns {
			if len(c.requests) != 1 {
				t.Fatalf("backend connection %d served %v, want one client's one request", i, c.requests)
			}
		}

		cl := ps.client(t)
		for i := 0; i < 5; i++ {
			if res := cl.do(get("/stay")); res.status != 200 || string(res.body) != fmt.Sprintf("conn %d", clients) {
				t.Fatalf("/stay %d: status %d, body %q; want conn %d", i, res.status, res.body, clients)
			}
		}
		if n := be.open.Load(); n != 1 {
			t.Errorf("%d upstream connections open for the keep-alive client, want 1", n)
		}
		cl.c.Close()
		waitFor(t, 10*time.Second, "the keep-alive client's upstream connection to close with it", func() bool {
			return be.open.Load() == 0
		})
		if conns := be.conns(); len(conns) != clients+1 || strings.Join(conns[clients].requests, " ") != "/stay /stay /stay /stay /stay" {
			t.Fatalf("%d backend connections, the last with %v; want %d, the last with /stay x5", len(conns), conns[len(conns)-1].requests, clients+1)
		}
	})
}

// h2cTransport is an HTTP/2 client with prior knowledge over cleartext
// TCP: its requests share one connection, whose local address it writes
// to local.
func h2cTransport(local *string) *http2.Transport {
	return &http2.Transport{
		AllowHTTP: true,
		DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			var d net.Dialer
			c, err := d.DialContext(ctx, network, addr)
			if err == nil {
				*local = c.LocalAddr().String()
			}
			return c, err
		},
	}
}

// TestSendProxyH2 checks the same over HTTP/2 on both reactor backends:
// the sequential streams of one connection share one upstream
// connection, whose header names that connection; another HTTP/2
// connection gets its own; and closing the HTTP/2 connections closes
// theirs.
func TestSendProxyH2(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		be := startPPBackend(t)
		ps := startProxy(t, backend, "http2 = on\nproxy_pass = "+be.addr+"\nproxy_send_proxy_protocol = v1\n")
		var locals []string
		var trs []*http2.Transport
		for i := 0; i < 2; i++ {
			local := ""
			tr := h2cTransport(&local)
			trs = append(trs, tr)
			cl := &http.Client{Transport: tr, Timeout: 20 * time.Second}
			for j := 0; j < 3; j++ {
				res, err := cl.Get("http://" + ps.addr + "/h2")
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != 200 || res.ProtoMajor != 2 {
					t.Fatalf("client %d: %s %d", i, res.Proto, res.StatusCode)
				}
			}
			locals = append(locals, local)
		}
		conns := be.conns()
		if len(conns) != 2 {
			t.Fatalf("%d backend connections for two HTTP/2 clients, want 2", len(conns))
		}
		for i, c := range conns {
			host, port, _ := net.SplitHostPort(locals[i])
			if !strings.Contains(string(c.raw), " "+host+" 127.0.0.1 "+port+" ") || strings.Join(c.requests, " ") != "/h2 /h2 /h2" {
				t.Errorf("connection %d: header %q, requests %v; want client %s's three", i, c.raw, c.requests, locals[i])
			}
		}
		for _, tr := range trs {
			tr.CloseIdleConnections()
		}
		waitFor(t, 10*time.Second, "the HTTP/2 clients' upstream connections to close", func() bool {
			return be.open.Load() == 0
		})
	})
}

// TestSendProxyH2Rounds checks, on both reactor backends, that an HTTP/2
// client connection keeps the upstream connections its concurrent
// streams opened: two h2c clients run rounds of concurrent streams (the
// backend holds each round's requests until all of them have arrived,
// so each round needs that many upstream connections at once). Within
// http.AffineMax streams, the backend accepts as many connections as
// streams run at once, not one per request, each named by its client
// and used by that client alone; past it, a client keeps AffineMax and
// opens the rest anew each round. Parked connections the backend closes
// are not used again; when the clients leave, their upstream
// connections close.
func TestSendProxyH2Rounds(t *testing.T) {
	const rounds = 4
	const affineMax = 16 // http.AffineMax
	tests := []struct {
		name    string
		streams int // per client and round
	}{
		{name: "within the bound", streams: 10},
		{name: "past the bound", streams: 20},
	}
	forEachBackend(t, func(t *testing.T, backend string) {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				kept := min(tc.streams, affineMax)
				wantPerClient := tc.streams + (rounds-1)*(tc.streams-kept)
				be := startPPBackend(t)
				be.hold = &barrier{n: 2 * tc.streams}
				ps := startProxy(t, backend, "http2 = on\nproxy_pass = "+be.addr+"\nproxy_send_proxy_protocol = v2\n")
				locals := make([]string, 2)
				var clients []*http.Client
				var trs []*http2.Transport
				for i := range locals {
					tr := h2cTransport(&locals[i])
					trs = append(trs, tr)
					cl := &http.Client{Transport: tr, Timeout: 20 * time.Second}
					clients = append(clients, cl)
					// One stream first: the client's one HTTP/2
					// connection is up before the rounds.
					res, err := cl.Get("http://" + ps.addr + "/warm")
					if err != nil {
						t.Fatal(err)
					}
					io.Copy(io.Discard, res.Body)
					res.Body.Close()
				}
				round := func(r int) {
					errs := make(chan error, 2*tc.streams)
					for _, cl := range clients {
						for j := 0; j < tc.streams; j++ {
							go func() {
								res, err := cl.Get("http://" + ps.addr + "/hold")
								if err == nil {
									io.Copy(io.Discard, res.Body)
									res.Body.Close()
									if res.StatusCode != 200 || res.ProtoMajor != 2 {
										err = fmt.Errorf("%s %d", res.Proto, res.StatusCode)
									}
								}
								errs <- err
							}()
						}
					}
					for j := 0; j < 2*tc.streams; j++ {
						if err := <-errs; err != nil {
							t.Fatalf("round %d: %v", r, err)
						}
					}
					waitFor(t, 10*time.Second, fmt.Sprintf("%d parked upstream connections after round %d", 2*kept, r), func() bool {
						return be.open.Load() == int64(2*kept)
					})
				}
				for r := 0; r < rounds; r++ {
					round(r)
				}
				if n := be.hold.missed.Load(); n != 0 {
					t.Fatalf("%d requests were not held with their round", n)
				}
				conns := be.conns()
				perClient := map[string]int{}
				for i, c := range conns {
					if len(c.raw) != 16+12 {
						t.Fatalf("connection %d: %d header bytes, want a v2 TCP4 header", i, len(c.raw))
					}
					port := int(c.raw[24])<<8 | int(c.raw[25])
					perClient[net.JoinHostPort(c.src.String(), fmt.Sprint(port))]++
				}
				for _, local := range locals {
					if perClient[local] != wantPerClient {
						t.Errorf("client %s: %d upstream connections for %d rounds of %d streams, want %d (all: %v)", local, perClient[local], rounds, tc.streams, wantPerClient, perClient)
					}
				}
				if len(conns) != 2*wantPerClient {
					t.Errorf("the backend accepted %d connections for %d requests, want %d", len(conns), 2*(1+rounds*tc.streams), 2*wantPerClient)
				}

				// The backend closes the parked connections: they leave
				// their slots, and the next round opens as many anew.
				be.closeAll()
				waitFor(t, 10*time.Second, "the backend's connections to close", func() bool { return be.open.Load() == 0 })
				round(rounds)
				if n := len(be.conns()) - len(conns); n != 2*tc.streams {
					t.Errorf("after the backend closed the parked connections, a round of %d streams per client opened %d, want %d", tc.streams, n, 2*tc.streams)
				}
				for _, tr := range trs {
					tr.CloseIdleConnections()
				}
				waitFor(t, 10*time.Second, "the HTTP/2 clients' upstream connections to close", func() bool {
					return be.open.Load() == 0
				})
			})
		}
	})
}

// TestSendProxyH2load runs h2load (when installed) against
// proxy_send_proxy_protocol on both reactor backends: 200 requests from
// 2 h2c clients running 10 streams each at once must all succeed on at
// most 20 upstream connections (a client connection reuses what its
// earlier streams parked, so it never holds more connections than it
// runs streams), and none stays open once h2load is done.
func TestSendProxyH2load(t *testing.T) {
	h2load, err := exec.LookPath("h2load")
	if err != nil {
		t.Skip("h2load is not installed")
	}
	const clients, streams = 2, 10
	forEachBackend(t, func(t *testing.T, backend string) {
		be := startPPBackend(t)
		ps := startProxy(t, backend, "http2 = on\nproxy_pass = "+be.addr+"\nproxy_send_proxy_protocol = v1\n")
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, h2load, "-n", "200", "-c", fmt.Sprint(clients), "-m", fmt.Sprint(streams), "http://"+ps.addr+"/load").CombinedOutput()
		if err != nil {
			t.Fatalf("h2load: %v\n%s", err, out)
		}
		if !bytes.Contains(out, []byte("200 succeeded")) {
			t.Fatalf("h2load: not every request succeeded:\n%s", out)
		}
		n := len(be.conns())
		t.Logf("%d upstream connections for 200 requests (h2load -n 200 -c %d -m %d)", n, clients, streams)
		if n > clients*streams {
			t.Errorf("%d upstream connections opened, want at most %d (streams at once)", n, clients*streams)
		}
		waitFor(t, 10*time.Second, "h2load's upstream connections to close", func() bool {
			return be.open.Load() == 0
		})
	})
}
