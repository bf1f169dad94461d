//go:build linux && !race

package proxy

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/nproxy/nproxy/http"
	"github.com/nproxy/nproxy/reactor"
	"golang.org/x/sys/unix"
)

// affineClient is the part of a client connection an affine upstream
// connection meets: its slot (the rest of http.Client is not called).
type affineClient struct {
	http.Client
	slot http.AffineSlot
}

func (a *affineClient) Affine() *http.AffineSlot { return &a.slot }

// TestAffineAllocs proves that with proxy_send_proxy_protocol the end of
// a response (putIdle parks the connection with its client connection)
// and the next request of that client connection (takeIdle takes it
// back) allocate nothing, and that the client connection's end closes
// what is parked.
func TestAffineAllocs(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	loop := reactor.NewLoop(reactor.NewEpoll(), reactor.Options{})
	ran := make(chan error, 1)
	go func() { ran <- loop.Run() }()
	defer func() {
		loop.Stop()
		select {
		case <-ran:
		case <-time.After(5 * time.Second):
			t.Error("the loop did not stop")
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	report := make(chan string, 1)
	loop.Post(func() { report <- affineOnLoop(loop, port) }) // the proxy runs on the loop thread
	select {
	case msg := <-report:
		if msg != "" {
			t.Error(msg)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the loop did not run the test")
	}
}

// affineOnLoop is TestAffineAllocs on the loop thread; it returns what
// went wrong, or "".
func affineOnLoop(loop *reactor.Loop, port int) string {
	g := &Group{loop: loop, sendProxy: 1, keepalive: 8}
	b := &backend{}
	u := &upConn{g: g, b: b}
	var err error
	if u.rc, err = loop.Dial(&unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}, u); err != nil {
		return err.Error()
	}
	cl := &affineClient{}
	s := &session{cl: cl}
	took := true
	exchange := func() {
		u.s = s
		g.putIdle(u)                         // the response ended
		took = took && g.takeIdle(b, s) == u // the client connection's next request
	}
	exchange()
	if a := testing.AllocsPerRun(1000, exchange); a != 0 || !took {
		return fmt.Sprintf("parking and taking back an affine connection: %v allocs (want 0), taken back each time: %v", a, took)
	}
	u.s = s
	g.putIdle(u)
	if !u.parked || cl.slot.Conn() != u {
		return "the connection was not parked"
	}
	cl.slot.Close() // the client connection closes
	if u.parked || u.rc != nil || cl.slot.Conn() != nil {
		return fmt.Sprintf("after the client connection closed: parked %v, open %v", u.parked, u.rc != nil)
	}
	return ""
}
