//go:build linux

package server_test

import (
	"bufio"
	"bytes"
	"io"
	"strings"
	"testing"
	"time"
)

// TestKeepaliveRequests checks keepalive_requests = 3 (nginx's
// keepalive_requests): one after another, the third response carries
// Connection: close and the connection ends; pipelined, the third is the
// last answered, the requests after it are dropped; a connection of
// fewer requests stays open; HTTP/2 gets GOAWAY after its third stream,
// whose answer is whole, and ends.
func TestKeepaliveRequests(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		ts := startServer(t, backend, "keepalive_requests = 3\nhttp2 = on\n")

		c := ts.dial(t)
		r := bufio.NewReader(c)
		for i := 1; i <= 3; i++ {
			io.WriteString(c, get("/small.txt"))
			res := readResponse(t, r, false)
			if res.status != 200 || !bytes.Equal(res.body, smallBody) {
				t.Fatalf("request %d: status %d, %d bytes", i, res.status, len(res.body))
			}
			closing := strings.EqualFold(res.header["connection"], "close")
			if closing != (i == 3) {
				t.Fatalf("request %d: Connection %q", i, res.header["connection"])
			}
		}
		expectClosed(t, c, 5*time.Second)

		p := ts.dial(t)
		io.WriteString(p, strings.Repeat(get("/small.txt"), 5))
		pr := bufio.NewReader(p)
		for i := 1; i <= 3; i++ {
			if res := readResponse(t, pr, false); res.status != 200 {
				t.Fatalf("pipelined %d: status %d", i, res.status)
			}
		}
		p.SetReadDeadline(time.Now().Add(5 * time.Second))
		if rest, err := io.ReadAll(pr); err != nil || len(rest) != 0 {
			t.Fatalf("after the third pipelined response: %q, %v (want the end)", rest, err)
		}

		o := ts.dial(t)
		or := bufio.NewReader(o)
		for i := 1; i <= 2; i++ {
			io.WriteString(o, get("/small.txt"))
			if res := readResponse(t, or, false); res.status != 200 || res.header["connection"] != "" {
				t.Fatalf("open connection, request %d: status %d, Connection %q", i, res.status, res.header["connection"])
			}
		}

		h := dialRawH2(t, ts.addr)
		x := &h2Exchange{status: map[uint32]string{}, body: map[uint32][]byte{}, ended: map[uint32]bool{}}
		for id := uint32(1); id <= 5; id += 2 {
			h.get(id, "/small.txt")
			h.read(x, func() bool { return x.ended[id] || x.eof })
			if x.status[id] != "200" || !bytes.Equal(x.body[id], smallBody) {
				t.Fatalf("h2 stream %d: status %q, %d bytes", id, x.status[id], len(x.body[id]))
			}
		}
		h.read(x, func() bool { return (len(x.goAways) > 0 && x.ping != nil) || x.eof })
		if len(x.goAways) == 0 || x.goAways[0] != 1<<31-1 {
			t.Fatalf("after 3 streams: GOAWAYs %v, eof %v", x.goAways, x.eof)
		}
		h.get(7, "/small.txt") // sent before the client saw the GOAWAY
		h.fr.WritePing(true, *x.ping)
		h.read(x, func() bool { return (x.ended[7] && len(x.goAways) == 2) || x.eof })
		if x.status[7] != "200" || !bytes.Equal(x.body[7], smallBody) {
			t.Fatalf("h2 stream 7, opened between the GOAWAYs: status %q, %d bytes", x.status[7], len(x.body[7]))
		}
		if len(x.goAways) != 2 || x.goAways[1] != 7 {
			t.Fatalf("GOAWAYs %v, want [2147483647 7]", x.goAways)
		}
		h.read(x, func() bool { return x.eof })
	})
}
