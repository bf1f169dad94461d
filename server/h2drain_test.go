//go:build linux

package server_test

import (
	"bytes"
	"net"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// rawH2 is a hand-driven HTTP/2 client (x/net's Framer on a loopback
// socket) for tests that need to see and time frames themselves.
type rawH2 struct {
	t    *testing.T
	nc   net.Conn
	fr   *http2.Framer
	enc  *hpack.Encoder
	hbuf bytes.Buffer
}

// dialRawH2 connects to addr with prior knowledge and exchanges
// SETTINGS. Every read and write is bounded by a 10 s deadline.
func dialRawH2(t *testing.T, addr string) *rawH2 {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	c := &rawH2{t: t, nc: nc, fr: http2.NewFramer(nc, nc)}
	c.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	c.enc = hpack.NewEncoder(&c.hbuf)
	if _, err := nc.Write([]byte(http2.ClientPreface)); err != nil {
		t.Fatal(err)
	}
	if err := c.fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	return c
}

// get opens stream id with a GET of path.
func (c *rawH2) get(id uint32, path string) {
	c.t.Helper()
	c.hbuf.Reset()
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "http"}, {":authority", "localhost"}, {":path", path}} {
		c.enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	if err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: c.hbuf.Bytes(), EndStream: true, EndHeaders: true}); err != nil {
		c.t.Fatal(err)
	}
}

// h2Exchange collects what a rawH2 client read: responses by stream and
// the GOAWAYs and PINGs in order.
type h2Exchange struct {
	status  map[uint32]string
	body    map[uint32][]byte
	ended   map[uint32]bool
	goAways []uint32 // last-stream-ids
	ping    *[8]byte // the server's PING, not acknowledged by read
	eof     bool
}

// read reads frames until until reports true or the connection ends,
// answering SETTINGS (and returning WINDOW_UPDATEs for DATA so that a
// body is never held up).
func (c *rawH2) read(x *h2Exchange, until func() bool) {
	c.t.Helper()
	for !until() {
		f, err := c.fr.ReadFrame()
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				c.t.Fatalf("no frame within the deadline: %+v", x)
			}
			x.eof = true
			return
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				c.fr.WriteSettingsAck()
			}
		case *http2.MetaHeadersFrame:
			x.status[f.StreamID] = f.PseudoValue("status")
			x.ended[f.StreamID] = x.ended[f.StreamID] || f.StreamEnded()
		case *http2.DataFrame:
			x.body[f.StreamID] = append(x.body[f.StreamID], f.Data()...)
			x.ended[f.StreamID] = x.ended[f.StreamID] || f.StreamEnded()
			if n := uint32(len(f.Data())); n > 0 {
				c.fr.WriteWindowUpdate(0, n)
			}
		case *http2.GoAwayFrame:
			if f.ErrCode != http2.ErrCodeNo {
				c.t.Fatalf("GOAWAY %v", f.ErrCode)
			}
			x.goAways = append(x.goAways, f.LastStreamID)
		case *http2.PingFrame:
			if !f.IsAck() {
				d := f.Data
				x.ping = &d
			}
		case *http2.RSTStreamFrame:
			c.t.Fatalf("RST_STREAM %d %v", f.StreamID, f.ErrCode)
		}
	}
}

// TestH2cDrainTwoStep drains a worker holding an HTTP/2 connection: the
// server sends GOAWAY(2^31-1) and a PING; a stream the client opens before
// answering the PING (a request in flight when the drain began) gets its
// full response; the final GOAWAY names it, once the PING's ACK arrives
// or, from a client that never answers, at the server's bound. Then the
// connection ends and the worker stops.
func TestH2cDrainTwoStep(t *testing.T) {
	for _, tc := range []struct {
		name string
		ack  bool
	}{
		{name: "ack", ack: true},
		{name: "no-ack", ack: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			forEachBackend(t, func(t *testing.T, backend string) {
				ts := startServer(t, backend, "http2 = on\n")
				c := dialRawH2(t, ts.addr)
				x := &h2Exchange{status: map[uint32]string{}, body: map[uint32][]byte{}, ended: map[uint32]bool{}}
				c.get(1, "/small.txt")
				c.read(x, func() bool { return x.ended[1] || x.eof })
				if x.status[1] != "200" || !bytes.Equal(x.body[1], smallBody) {
					t.Fatalf("stream 1: status %q, %d bytes", x.status[1], len(x.body[1]))
				}

				ts.w.Drain(20 * time.Second)
				c.read(x, func() bool { return (len(x.goAways) > 0 && x.ping != nil) || x.eof })
				if len(x.goAways) != 1 || x.goAways[0] != 1<<31-1 || x.ping == nil {
					t.Fatalf("first step: GOAWAYs %v, PING %v, eof %v", x.goAways, x.ping, x.eof)
				}
				c.get(3, "/small.txt") // on the wire before the client saw the GOAWAY
				if tc.ack {
					c.fr.WritePing(true, [8]byte{'o', 't', 'h', 'e', 'r'}) // not the server's: ignored
					c.fr.WritePing(true, *x.ping)
				}
				c.read(x, func() bool { return (x.ended[3] && len(x.goAways) == 2) || x.eof })
				if x.status[3] != "200" || !bytes.Equal(x.body[3], smallBody) || !x.ended[3] {
					t.Fatalf("stream 3, opened between the GOAWAYs: status %q, %d bytes, ended %v", x.status[3], len(x.body[3]), x.ended[3])
				}
				if len(x.goAways) != 2 || x.goAways[1] != 3 {
					t.Fatalf("GOAWAYs %v, want [2147483647 3]", x.goAways)
				}
				c.read(x, func() bool { return x.eof })
				c.nc.Close() // the server lingers until the client's EOF
				select {
				case err := <-ts.done:
					ts.done <- err // for the cleanup
					if err != nil {
						t.Fatalf("worker: %v", err)
					}
				case <-time.After(10 * time.Second):
					t.Fatal("the worker did not stop once the connection ended")
				}
			})
		})
	}
}
