//go:build linux

package http2

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	nethttp "net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	xhttp2 "golang.org/x/net/http2"
)

// The end-to-end tests put x/net's HTTP/2 client (the reference
// implementation) in front of a Conn on a loopback TCP socket, h2c with
// prior knowledge. A test loop stands in for the server's conn: one
// goroutine reads the socket and calls Feed, one writes what Output
// gives; a mutex makes the Conn single-threaded as a loop thread would.

// testLoop drives one Conn over one socket.
type testLoop struct {
	mu   sync.Mutex
	c    *Conn
	nc   net.Conn
	kick chan struct{}
	done chan struct{}
}

// do runs f on the "loop" and flushes its output.
func (l *testLoop) do(f func(c *Conn)) {
	l.mu.Lock()
	f(l.c)
	l.mu.Unlock()
	l.wake()
}

func (l *testLoop) wake() {
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

func (l *testLoop) read() {
	buf := make([]byte, 32<<10)
	for {
		n, err := l.nc.Read(buf)
		l.mu.Lock()
		if err != nil {
			l.c.Close()
			l.mu.Unlock()
			close(l.done)
			return
		}
		ferr := l.c.Feed(buf[:n])
		l.mu.Unlock()
		l.wake()
		if ferr != nil {
			return
		}
	}
}

func (l *testLoop) write() {
	out := make([]byte, 0, 64<<10)
	for {
		select {
		case <-l.kick:
		case <-l.done:
			return
		}
		for {
			l.mu.Lock()
			out = l.c.Output(out[:0])
			done := l.c.Done()
			l.mu.Unlock()
			if len(out) == 0 {
				if done {
					l.nc.Close()
					return
				}
				break
			}
			if _, err := l.nc.Write(out); err != nil {
				return
			}
		}
	}
}

// testServer accepts connections and serves each with a Conn and a new
// app.
type testServer struct {
	t     *testing.T
	ln    net.Listener
	cfg   *Config
	dials atomic.Int32

	mu   sync.Mutex
	apps []*app
}

func startServer(t *testing.T, cfg *Config) *testServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &testServer{t: t, ln: ln, cfg: cfg}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			l := &testLoop{nc: nc, kick: make(chan struct{}, 1), done: make(chan struct{})}
			a := &app{l: l, streams: make(map[uint32]*appStream), events: make(chan string, 1024)}
			l.c = NewConn(a, cfg)
			s.mu.Lock()
			s.apps = append(s.apps, a)
			s.mu.Unlock()
			t.Cleanup(func() { nc.Close() })
			go l.read()
			go l.write()
			l.wake()
		}
	}()
	return s
}

// client returns an HTTP client speaking h2c to s through x/net's
// Transport; streamWindow, when not 0, is the client's receive window
// per stream (x/net takes that setting only from a net/http Transport
// it is configured on, whose pool then does not dial: a pool of our own
// does).
func (s *testServer) client(streamWindow int) *nethttp.Client {
	if streamWindow == 0 {
		t2 := &xhttp2.Transport{
			AllowHTTP: true,
			DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
				s.dials.Add(1)
				return (&net.Dialer{}).DialContext(ctx, "tcp", s.ln.Addr().String())
			},
		}
		s.t.Cleanup(t2.CloseIdleConnections)
		return &nethttp.Client{Transport: t2, Timeout: 20 * time.Second}
	}
	t1 := &nethttp.Transport{}
	if streamWindow != 0 {
		t1.HTTP2 = &nethttp.HTTP2Config{MaxReceiveBufferPerStream: streamWindow}
	}
	// ConfigureTransports links t2 to t1's HTTP2 settings (the stream
	// window); the pool dials the test server itself.
	t2, err := xhttp2.ConfigureTransports(t1)
	if err != nil {
		s.t.Fatal(err)
	}
	t2.AllowHTTP = true
	pool := &onePool{t: t2, s: s}
	t2.ConnPool = pool
	s.t.Cleanup(pool.close)
	return &nethttp.Client{Transport: t2, Timeout: 20 * time.Second}
}

// onePool is a ClientConnPool with one connection at a time, dialing a
// new one when the current one takes no more requests (after GOAWAY).
type onePool struct {
	mu  sync.Mutex
	t   *xhttp2.Transport
	s   *testServer
	cc  *xhttp2.ClientConn
	all []*xhttp2.ClientConn
}

func (p *onePool) GetClientConn(req *nethttp.Request, addr string) (*xhttp2.ClientConn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cc != nil && p.cc.CanTakeNewRequest() {
		return p.cc, nil
	}
	nc, err := net.Dial("tcp", p.s.ln.Addr().String())
	if err != nil {
		return nil, err
	}
	p.s.dials.Add(1)
	cc, err := p.t.NewClientConn(nc)
	if err != nil {
		nc.Close()
		return nil, err
	}
	p.cc = cc
	p.all = append(p.all, cc)
	return cc, nil
}

func (p *onePool) MarkDead(cc *xhttp2.ClientConn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cc == cc {
		p.cc = nil
	}
}

func (p *onePool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, cc := range p.all {
		cc.Close()
	}
}

// app is the test Handler: it answers by path.
//
//	/hello       200, echoes x-test as x-echo, body "hello"
//	/echo        echoes the request body (POST)
//	/big?n=N     N bytes of a pattern, with backpressure
//	/hold        held in app.held until the test answers it
//	/slow        head and 1 KiB, then nothing until reset
type app struct {
	l       *testLoop
	streams map[uint32]*appStream
	events  chan string // "reset ID CODE", "request /path"
	// wantOpen, if set, holds /hold responses until that many streams
	// are open at once, then answers them all.
	wantOpen int
	held     []uint32
}

type appStream struct {
	path string
	body []byte // the request body so far (/echo)
	resp []byte // the response body not yet taken
}

func (a *app) OnRequest(id uint32, h *RequestHead, end bool) {
	path := string(h.Req.Path.Bytes(h.Buf))
	st := &appStream{path: path}
	a.streams[id] = st
	a.events <- "request " + path
	c := a.l.c
	switch path {
	case "/hello":
		v, _ := h.Req.Header(h.Buf, "x-test")
		c.Respond(id, 200, []byte("Content-Type: text/plain\r\nX-Echo: "+string(v)+"\r\nContent-Length: 5\r\n"), false)
		st.resp = []byte("hello")
		a.send(id)
	case "/big":
		var n int
		fmt.Sscanf(string(h.Req.Query.Bytes(h.Buf)), "n=%d", &n)
		st.resp = bytes.Repeat([]byte("0123456789abcdef"), n/16)
		c.Respond(id, 200, []byte(fmt.Sprintf("Content-Length: %d\r\n", len(st.resp))), false)
		a.send(id)
	case "/hold":
		a.held = append(a.held, id)
		if a.wantOpen > 0 && c.Streams() >= a.wantOpen {
			for _, hid := range a.held {
				c.Respond(hid, 200, nil, false)
				a.streams[hid].resp = []byte("held")
				a.send(hid)
			}
			a.held = nil
		}
	case "/slow":
		c.Respond(id, 200, nil, false)
		c.WriteData(id, make([]byte, 1024), false)
	case "/echo":
	default:
		c.Respond(id, 404, nil, true)
	}
}

// send writes what is left of the stream's response.
func (a *app) send(id uint32) {
	st := a.streams[id]
	n, err := a.l.c.WriteData(id, st.resp, true)
	if err != nil {
		return
	}
	st.resp = st.resp[n:]
}

func (a *app) OnData(id uint32, p []byte, end bool) {
	st := a.streams[id]
	st.body = append(st.body, p...)
	a.l.c.Consume(id, len(p))
	if end && st.path == "/echo" {
		a.l.c.Respond(id, 200, nil, false)
		st.resp = st.body
		a.send(id)
	}
}

func (a *app) OnTrailers(id uint32, h *RequestHead) {}

func (a *app) OnReset(id uint32, code ErrCode) {
	a.events <- fmt.Sprintf("reset %s %s", a.streams[id].path, code)
}

func (a *app) OnWritable(id uint32) { a.send(id) }

// waitEvent waits for an app event with the given prefix.
func waitEvent(t *testing.T, a *app, prefix string) string {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case e := <-a.events:
			if strings.HasPrefix(e, prefix) {
				return e
			}
		case <-timeout:
			t.Fatalf("no event %q", prefix)
		}
	}
}

func (s *testServer) app(i int) *app {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		s.mu.Lock()
		if len(s.apps) > i {
			a := s.apps[i]
			s.mu.Unlock()
			return a
		}
		s.mu.Unlock()
	}
	s.t.Fatalf("no connection %d", i)
	return nil
}

func get(t *testing.T, c *nethttp.Client, url string, hdr ...string) (*nethttp.Response, []byte) {
	t.Helper()
	req, _ := nethttp.NewRequest("GET", url, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func TestE2EGet(t *testing.T) {
	s := startServer(t, nil)
	c := s.client(0)
	url := "http://" + s.ln.Addr().String()
	for range 3 {
		resp, body := get(t, c, url+"/hello", "X-Test", "value 1")
		if resp.ProtoMajor != 2 || resp.StatusCode != 200 || string(body) != "hello" ||
			resp.Header.Get("X-Echo") != "value 1" || resp.Header.Get("Content-Type") != "text/plain" || resp.ContentLength != 5 {
			t.Fatalf("%s %d %q %v", resp.Proto, resp.StatusCode, body, resp.Header)
		}
	}
	resp, _ := get(t, c, url+"/nothing")
	if resp.StatusCode != 404 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if n := s.dials.Load(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
}

func TestE2EPost(t *testing.T) {
	s := startServer(t, &Config{StreamWindow: 65535, ConnWindow: 65535})
	c := s.client(0)
	body := bytes.Repeat([]byte("post body "), 50000) // 500 KB: many window updates
	resp, err := c.Post("http://"+s.ln.Addr().String()+"/echo", "text/plain", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("echo: %d bytes, err %v", len(got), err)
	}
}

// TestE2EDownload1MiB fetches 1 MiB with a client window of 64 KiB per
// stream, so the download waits for WINDOW_UPDATEs many times over.
func TestE2EDownload1MiB(t *testing.T) {
	s := startServer(t, nil)
	c := s.client(64 << 10)
	resp, body := get(t, c, "http://"+s.ln.Addr().String()+"/big?n=1048576")
	want := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
	if resp.StatusCode != 200 || !bytes.Equal(body, want) {
		t.Fatalf("status %d, %d bytes", resp.StatusCode, len(body))
	}
}

// TestE2EConcurrentStreams opens 100 streams on one connection; the app
// answers none until all 100 are open at once.
func TestE2EConcurrentStreams(t *testing.T) {
	s := startServer(t, nil)
	c := s.client(0)
	url := "http://" + s.ln.Addr().String()
	get(t, c, url+"/hello") // the connection, and its SETTINGS, first
	a := s.app(0)
	s.app(0).l.do(func(*Conn) { a.wantOpen = 100 })
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := c.Get(url + "/hold")
			if err != nil {
				errs <- err
				return
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || string(b) != "held" {
				errs <- fmt.Errorf("body %q, %v", b, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := s.dials.Load(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
}

// TestE2EShutdown checks that GOAWAY lets an open stream finish and that
// the client moves on to a new connection.
func TestE2EShutdown(t *testing.T) {
	s := startServer(t, nil)
	c := s.client(0)
	url := "http://" + s.ln.Addr().String()
	release := make(chan struct{})
	got := make(chan string, 1)
	go func() {
		resp, err := c.Get(url + "/hold")
		if err != nil {
			got <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- string(b)
	}()
	a := s.app(0)
	waitEvent(t, a, "request /hold")
	s.app(0).l.do(func(c *Conn) {
		c.Shutdown()
		for _, id := range a.held {
			go func() {
				<-release
				a.l.do(func(c *Conn) {
					c.Respond(id, 200, nil, false)
					a.streams[id].resp = []byte("released")
					a.send(id)
				})
			}()
		}
		a.held = nil
	})
	// The GOAWAY reaches the client; a new request takes a new connection.
	deadline := time.Now().Add(10 * time.Second)
	for s.dials.Load() < 2 && time.Now().Before(deadline) {
		resp, err := c.Get(url + "/hello")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	if s.dials.Load() < 2 {
		t.Fatal("the client kept using the draining connection")
	}
	close(release)
	select {
	case b := <-got:
		if b != "released" {
			t.Fatalf("held request: %q", b)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the held request did not finish")
	}
	select {
	case <-s.app(0).l.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the drained connection was not closed")
	}
}

// TestE2EClientReset cancels a request mid-response: the app must hear
// OnReset(CANCEL), and the connection go on.
func TestE2EClientReset(t *testing.T) {
	s := startServer(t, nil)
	c := s.client(0)
	url := "http://" + s.ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := nethttp.NewRequestWithContext(ctx, "GET", url+"/slow", nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(resp.Body, make([]byte, 1024)); err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := resp.Body.Read(make([]byte, 1)); !errors.Is(err, context.Canceled) {
		t.Logf("read after cancel: %v", err)
	}
	resp.Body.Close()
	a := s.app(0)
	if e := waitEvent(t, a, "reset"); e != "reset /slow CANCEL" {
		t.Fatalf("event %q", e)
	}
	if resp, body := get(t, c, url+"/hello"); string(body) != "hello" || resp.StatusCode != 200 {
		t.Fatalf("after the reset: %d %q", resp.StatusCode, body)
	}
	if n := s.dials.Load(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
}
