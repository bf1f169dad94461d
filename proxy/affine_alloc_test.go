//go:build linux && !race

package proxy

import (
	"fmt"
	"net"
	"net/netip"
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
// back) allocate nothing, with one connection parked (HTTP/1.1) and with
// several (the concurrent streams of an HTTP/2 connection); that a
// parked connection closing (dropIdle: the backend closed it, or it was
// idle too long) leaves the slot, a request naming another client takes
// none, and the client connection's end closes what is parked.
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
	for _, streams := range []int{1, 4} {
		report := make(chan string, 1)
		loop.Post(func() { report <- affineOnLoop(loop, port, streams) }) // the proxy runs on the loop thread
		select {
		case msg := <-report:
			if msg != "" {
				t.Errorf("%d at once: %s", streams, msg)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the loop did not run the test")
		}
	}
}

// affineOnLoop is TestAffineAllocs on the loop thread, for a client
// connection running streams exchanges at once; it returns what went
// wrong, or "".
func affineOnLoop(loop *reactor.Loop, port, streams int) string {
	g := &Group{loop: loop, sendProxy: 1, keepalive: 8}
	b := &backend{}
	us := make([]*upConn, streams)
	for i := range us {
		us[i] = &upConn{g: g, b: b}
		var err error
		if us[i].rc, err = loop.Dial(&unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}, us[i]); err != nil {
			return err.Error()
		}
	}
	cl := &affineClient{}
	cl.slot.SetLimit(streams)
	s := &session{cl: cl}
	took := true
	exchange := func() {
		for _, u := range us {
			u.s = s
			g.putIdle(u) // the response ended
		}
		for i := range us { // the client connection's next requests: the newest first
			took = took && g.takeIdle(b, s) == us[len(us)-1-i]
		}
	}
	exchange()
	if a := testing.AllocsPerRun(1000, exchange); a != 0 || !took {
		return fmt.Sprintf("parking and taking back affine connections: %v allocs (want 0), taken back each time: %v", a, took)
	}
	for _, u := range us {
		u.s = s
		g.putIdle(u)
	}
	if !us[0].parked || cl.slot.Len() != streams || cl.slot.At(0) != us[0] {
		return "the connections were not parked"
	}
	other := &session{cl: cl, ppClient: netip.MustParseAddrPort("192.0.2.1:1")}
	if u := g.takeIdle(b, other); u != nil {
		return "a request naming another client took a parked connection"
	}
	g.dropIdle(us[0]) // the backend closed it
	if us[0].parked || us[0].rc != nil || cl.slot.Len() != streams-1 {
		return fmt.Sprintf("a parked connection that closed: parked %v, open %v, %d left in the slot (want %d)", us[0].parked, us[0].rc != nil, cl.slot.Len(), streams-1)
	}
	cl.slot.Close() // the client connection closes
	for i, u := range us {
		if u.parked || u.rc != nil || cl.slot.Len() != 0 {
			return fmt.Sprintf("after the client connection closed: connection %d parked %v, open %v", i, u.parked, u.rc != nil)
		}
	}
	return ""
}
