//go:build linux

package proxy_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nproxy/nproxy/proxyproto"
)

// ppBackend is a backend that reads a PROXY protocol header at the start
// of each connection (with proxyproto.Parse) and then answers HTTP/1.1
// requests on it; it records each connection's header.
type ppBackend struct {
	addr string
	mu   sync.Mutex
	hdrs []ppConn // one per connection, in accept order
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
			go b.serve(c)
		}
	}()
	return b
}

func (b *ppBackend) serve(c net.Conn) {
	defer c.Close()
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
		body := fmt.Sprintf("conn %d", i)
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
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

// TestSendProxyFullPool checks, on both reactor backends, that a pool
// full of idle connections opened for clients that have left (each
// named by its own PROXY header, so never reused) does not stop a
// keep-alive client from reusing its own: with proxy_keepalive = 2 and
// two clients gone, a third client's requests share one upstream
// connection; the pool's oldest connection is closed to make room.
func TestSendProxyFullPool(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		be := startPPBackend(t)
		ps := startProxy(t, backend, "proxy_pass = pp\n"+
			"[upstream pp]\nserver = "+be.addr+"\nproxy_send_proxy_protocol = v1\nproxy_keepalive = 2\n")
		for _, p := range []string{"/gone1", "/gone2"} {
			cl := ps.client(t)
			if res := cl.do(get(p)); res.status != 200 {
				t.Fatalf("%s: status %d", p, res.status)
			}
			cl.c.Close()
		}
		cl := ps.client(t)
		for i := 0; i < 3; i++ {
			if res := cl.do(get("/stay")); res.status != 200 {
				t.Fatalf("/stay %d: status %d", i, res.status)
			}
		}
		conns := be.conns()
		var paths []string
		for _, c := range conns {
			paths = append(paths, strings.Join(c.requests, " "))
		}
		if len(conns) != 3 || paths[2] != "/stay /stay /stay" {
			t.Fatalf("backend connections' requests %q, want [/gone1 /gone2 \"/stay /stay /stay\"]", paths)
		}
	})
}
