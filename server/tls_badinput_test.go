//go:build linux

package server_test

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	nptls "github.com/nproxy/nproxy/tls"
)

// clientHello returns the first flight of a crypto/tls client for
// serverName: a whole ClientHello record.
func clientHello(t *testing.T, serverName string) []byte {
	t.Helper()
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	go tls.Client(a, &tls.Config{ServerName: serverName}).Handshake()
	b.SetReadDeadline(time.Now().Add(5 * time.Second))
	head := make([]byte, 5)
	if _, err := io.ReadFull(b, head); err != nil {
		t.Fatal(err)
	}
	rec := make([]byte, 5+int(head[3])<<8|int(head[4]))
	copy(rec, head)
	if _, err := io.ReadFull(b, rec[5:]); err != nil {
		t.Fatal(err)
	}
	return rec
}

// TestTLSHandshakeTimeout: header_timeout bounds the handshake. A client
// that connects and sends nothing, one that sends part of a ClientHello
// and stalls, and one that trickles a ClientHello a byte at a time (each
// byte is progress, yet the whole takes longer than the bound checked)
// are closed, while another client is served meanwhile.
func TestTLSHandshakeTimeout(t *testing.T) {
	hello := clientHello(t, "a.test")
	forEachBackend(t, func(t *testing.T, backend string) {
		ts := startTLS(t, backend, []tlsSite{{names: "a.test", extra: "header_timeout = 300ms\n"}})
		dial := func() net.Conn {
			c, err := net.DialTimeout("tcp", ts.addr, 2*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			return c
		}
		silent := dial()
		partial := dial()
		if _, err := partial.Write(hello[:len(hello)/2]); err != nil {
			t.Fatal(err)
		}
		// 50 ms a byte: a ClientHello of 200+ bytes takes over 10 s,
		// twice the bound the closure is checked against.
		trickle := dial()
		stop := make(chan struct{})
		trickled := make(chan int, 1)
		go func() {
			n := 0
			defer func() { trickled <- n }()
			for ; n < len(hello)-1; n++ {
				if _, err := trickle.Write(hello[n : n+1]); err != nil {
					return
				}
				select {
				case <-stop:
					return
				case <-time.After(50 * time.Millisecond):
				}
			}
		}()
		defer close(stop)

		// Served meanwhile.
		c := ts.dialTLS(t, "a.test", nil)
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
		if res := readResponse(t, bufio.NewReader(c), false); res.status != 200 || string(res.body) != "site 0\n" {
			t.Fatalf("a client beside the stalled ones: %d %q", res.status, res.body)
		}

		for _, s := range []struct {
			name string
			c    net.Conn
		}{{"silent", silent}, {"partial ClientHello", partial}, {"trickled ClientHello", trickle}} {
			if got := readUntilClosed(t, s.c, 5*time.Second); got != nil {
				t.Errorf("%s: %v", s.name, got)
			}
		}
		if n := <-trickled; n >= len(hello)-1 {
			t.Errorf("the trickling client sent %d of %d bytes: its handshake was never cut", n, len(hello))
		}
	})
}

// TestTLSStalledHandshakesFreeSlots: more stalled handshakes than the
// worker runs at once (nptls.MaxConcurrentHandshakes; the rest wait in
// its queue) are all closed by header_timeout, and each gives its
// handshake slot or its place in the queue back: a client that comes
// after them completes its handshake and is served.
func TestTLSStalledHandshakesFreeSlots(t *testing.T) {
	hello := clientHello(t, "a.test")
	forEachBackend(t, func(t *testing.T, backend string) {
		ts := startTLS(t, backend, []tlsSite{{names: "a.test", extra: "header_timeout = 300ms\n"}})
		stalled := make([]net.Conn, nptls.MaxConcurrentHandshakes+40)
		for i := range stalled {
			c, err := net.DialTimeout("tcp", ts.addr, 2*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := c.Write(hello[:len(hello)/2]); err != nil {
				t.Fatal(err)
			}
			stalled[i] = c
		}
		for i, c := range stalled {
			if err := readUntilClosed(t, c, 10*time.Second); err != nil {
				t.Fatalf("stalled handshake %d: %v", i, err)
			}
		}
		for i := 0; i < 3; i++ {
			c := ts.dialTLS(t, "a.test", nil)
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
			if res := readResponse(t, bufio.NewReader(c), false); res.status != 200 {
				t.Fatalf("client %d after the stalled ones: %d", i, res.status)
			}
			c.Close()
		}
	})
}

// readUntilClosed reads c until the server closes it (EOF or reset) and
// returns an error if that does not happen within bound or if the server
// sent a TLS record other than an alert.
func readUntilClosed(t *testing.T, c net.Conn, bound time.Duration) error {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(bound))
	b, err := io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return errors.New("still open after " + bound.String())
	}
	if len(b) > 0 && b[0] != 0x15 { // an alert is fine
		return errors.New("the server sent " + strings.TrimSpace(string(b[:min(len(b), 40)])))
	}
	return nil
}

// TestTLSPlainRequestPipelined: after nginx's 400 for a plain request on
// a TLS port nothing else is answered: a request pipelined behind the
// first one, or sent once the 400 is read, gets nothing, and the
// connection closes.
func TestTLSPlainRequestPipelined(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		ts := startTLS(t, backend, []tlsSite{{names: "a.test"}})
		for _, tc := range []struct {
			name  string
			first string // sent at once
			after string // sent once the 400 is read
		}{
			{name: "pipelined", first: "GET / HTTP/1.1\r\nHost: a.test\r\n\r\nGET /index.html HTTP/1.1\r\nHost: a.test\r\n\r\n"},
			{name: "pipelined, no Host", first: "GET / HTTP/1.1\r\nHost: a.test\r\n\r\nGET / HTTP/1.0\r\n\r\n"},
			{name: "after the answer", first: "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n", after: "GET /index.html HTTP/1.1\r\nHost: a.test\r\n\r\n"},
		} {
			c, err := net.DialTimeout("tcp", ts.addr, 2*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			io.WriteString(c, tc.first)
			r := bufio.NewReader(c)
			res := readResponse(t, r, false)
			if res.status != 400 || res.header["connection"] != "close" {
				t.Fatalf("%s: %d %v, want 400 with Connection: close", tc.name, res.status, res.header)
			}
			if tc.after != "" {
				io.WriteString(c, tc.after) // may fail: the server may have closed already
			}
			rest, err := io.ReadAll(r)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("%s: the connection is still open after the 400", tc.name)
			}
			if len(rest) > 0 {
				t.Fatalf("%s: more after the 400: %q", tc.name, rest)
			}
			if bytes.Contains(rest, []byte("site 0")) {
				t.Fatalf("%s: the second request was served", tc.name)
			}
		}
	})
}
