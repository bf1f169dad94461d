package tls

import (
	"bytes"
	ctls "crypto/tls"
	"runtime"
	"testing"
)

// versionContext returns a Context serving only one version, with the
// shared ECDSA P-256 certificate and session tickets.
func versionContext(tb testing.TB, version uint16) (*Context, *ClientContext) {
	tb.Helper()
	_, ca := testContext(tb)
	ctx, err := NewContext([]Site{{
		Names: []string{"example.com"}, Certs: []ctls.Certificate{sharedLeaf(tb)},
		MinVersion: version, MaxVersion: version, SessionTickets: true,
	}})
	if err != nil {
		tb.Fatal(err)
	}
	return ctx, NewClientConfig("example.com", ca.pool, true)
}

// keepAliveExchange is one keep-alive request of a small GET and a 1 KiB
// response, both sides through Write, Output, Feed and Read.
type keepAliveExchange struct {
	p               *memPair
	req, resp       []byte
	reqBuf, respBuf []byte
}

func newKeepAliveExchange(tb testing.TB, version uint16) *keepAliveExchange {
	ctx, cc := versionContext(tb, version)
	p := newMemPair(tb, ctx, cc)
	p.mustHandshake()
	x := &keepAliveExchange{
		p:       p,
		req:     []byte(testRequest),
		resp:    append([]byte("HTTP/1.1 200 OK\r\nContent-Length: 1024\r\n\r\n"), bytes.Repeat([]byte{'x'}, 1024)...),
		reqBuf:  make([]byte, 4<<10),
		respBuf: make([]byte, 4<<10),
	}
	for range 10 {
		x.run() // tickets, pools and crypto/tls's buffers warm
	}
	return x
}

func (x *keepAliveExchange) run() {
	x.p.roundTrip(x.req, x.resp, x.reqBuf, x.respBuf)
}

// BenchmarkKeepAlive1KiB measures a keep-alive request and 1 KiB response
// through both ends' record layers (client and server crypto together).
func BenchmarkKeepAlive1KiB(b *testing.B) {
	for _, v := range versions {
		b.Run(v.name, func(b *testing.B) {
			x := newKeepAliveExchange(b, v.version)
			b.ReportAllocs()
			b.SetBytes(int64(len(x.resp)))
			for b.Loop() {
				x.run()
			}
		})
	}
}

// BenchmarkHandshake measures full and resumed handshakes, both ends in
// memory (client and server CPU together), ECDSA P-256 and X25519.
func BenchmarkHandshake(b *testing.B) {
	for _, v := range versions {
		for _, resume := range []bool{false, true} {
			name := v.name + "/full"
			if resume {
				name = v.name + "/resumed"
			}
			b.Run(name, func(b *testing.B) {
				ctx, cc := versionContext(b, v.version)
				if !resume {
					cc.config.ClientSessionCache = nil
				}
				one := func() {
					p := newMemPairNoCleanup(b, ctx, cc)
					p.mustHandshake()
					p.ping()
					if p.client.State().DidResume != resume {
						b.Fatalf("DidResume = %v", !resume)
					}
					p.close()
				}
				if resume {
					p := newMemPairNoCleanup(b, ctx, cc)
					p.mustHandshake()
					p.ping()
					p.close()
				}
				b.ReportAllocs()
				for b.Loop() {
					one()
				}
			})
		}
	}
}

// BenchmarkIdleConnMemory measures the heap one idle server connection
// holds after a keep-alive request, over 1,000 connections: handshake, a
// small request, a 1 KiB response, then the clients are closed and the
// servers kept, idle. It reports bytes per idle connection.
func BenchmarkIdleConnMemory(b *testing.B) {
	const conns = 1000
	for _, v := range versions {
		b.Run(v.name, func(b *testing.B) {
			ctx, cc := versionContext(b, v.version)
			resp := bytes.Repeat([]byte{'x'}, 1024)
			reqBuf, respBuf := make([]byte, 4<<10), make([]byte, 4<<10)
			var perConn float64
			for b.Loop() {
				servers := make([]*Conn, 0, conns)
				var before, after runtime.MemStats
				runtime.GC()
				runtime.GC()
				runtime.ReadMemStats(&before)
				for range conns {
					p := newMemPairNoCleanup(b, ctx, cc)
					p.mustHandshake()
					p.roundTrip([]byte(testRequest), resp, reqBuf, respBuf)
					p.client.Close()
					servers = append(servers, p.server)
				}
				runtime.GC()
				runtime.GC() // the second empties sync.Pool's victim cache
				runtime.ReadMemStats(&after)
				perConn = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / conns
				for _, s := range servers {
					s.Close()
				}
				runtime.KeepAlive(servers)
			}
			b.ReportMetric(perConn, "B/idle-conn")
		})
	}
}
