//go:build linux

package proxy_test

// Resets at the points only TLS has. The differential tests run over TLS
// as well as plain (see transports), and there a cut is in the plaintext:
// the bytes of a cut travel in one whole record. Here the TCP socket is
// reset inside the handshake and inside a record, where the worker holds
// bytes it cannot decrypt yet.

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// clientHello returns the first flight of a TLS client with cfg: one
// ClientHello record, as it would be written to a fresh connection.
func clientHello(t *testing.T, cfg *tls.Config) []byte {
	t.Helper()
	client, server := net.Pipe()
	defer server.Close()
	go func() {
		tls.Client(client, cfg).Handshake() // fails when server closes
		client.Close()
	}()
	server.SetDeadline(time.Now().Add(5 * time.Second))
	head := make([]byte, 5)
	if _, err := io.ReadFull(server, head); err != nil {
		t.Fatalf("ClientHello: %v", err)
	}
	if head[0] != 22 { // handshake
		t.Fatalf("ClientHello: record type %d, want 22 (handshake)", head[0])
	}
	body := make([]byte, int(head[3])<<8|int(head[4]))
	if _, err := io.ReadFull(server, body); err != nil {
		t.Fatalf("ClientHello: %v", err)
	}
	return append(head, body...)
}

// cutConn lets writes through whole until cut is set; then the next
// write (a TLS record, as tls.Conn writes one record per call when the
// handshake is done) goes out only up to cut(len) bytes, and everything
// after it is dropped, while the writer is told it all went.
type cutConn struct {
	*net.TCPConn
	cut func(record int) int
	got int // the length of the record that was cut, for messages
}

func (c *cutConn) Write(p []byte) (int, error) {
	if c.cut == nil {
		return c.TCPConn.Write(p)
	}
	if c.got > 0 {
		return len(p), nil
	}
	c.got = len(p)
	if n := min(c.cut(len(p)), len(p)); n > 0 {
		if _, err := c.TCPConn.Write(p[:n]); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// TestDifferentialTLSResets resets connections to a TLS worker inside the
// ClientHello, right after it (the server's flight unread), right after
// the handshake, and inside the one record that carries a pipeline of
// local and proxied requests. The worker must survive each, and no byte
// of a record it never got whole may reach the backend.
func TestDifferentialTLSResets(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		rb := startRecBackend(t, nil)
		sc := newScope(t)
		ps := startProxy(sc, backend, proxyConf(rb.addr, "/api/"), withTLS())
		hello := clientHello(t, ps.tlsConfig)
		for _, n := range []int{1, 5, 6, len(hello) / 2, len(hello) - 1, len(hello)} {
			c, err := net.DialTimeout("tcp", ps.addr, 2*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			c.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := c.Write(hello[:n]); err != nil {
				t.Fatalf("ClientHello: %v", err)
			}
			if err := resetConn(c); err != nil {
				t.Fatal(err)
			}
			alive(t, ps, fmt.Sprintf("a reset after %d of the ClientHello's %d bytes", n, len(hello)))
		}

		// A record is a 5-byte header, then the encrypted plaintext and
		// its tag: cut before the header ends, right after it, in the
		// middle, and one byte short of the whole.
		cuts := []struct {
			name string
			at   func(record int) int
		}{
			{"nothing", func(int) int { return 0 }},
			{"1 byte", func(int) int { return 1 }},
			{"the header", func(int) int { return 5 }},
			{"the header and 1 byte", func(int) int { return 6 }},
			{"half", func(r int) int { return r / 2 }},
			{"all but 1 byte", func(r int) int { return r - 1 }},
		}
		var tags []string
		for i, cut := range cuts {
			tag := fmt.Sprintf("t=%d000", i)
			tags = append(tags, tag)
			tcp, err := net.DialTimeout("tcp", ps.addr, 2*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			tcp.SetDeadline(time.Now().Add(5 * time.Second))
			cc := &cutConn{TCPConn: tcp.(*net.TCPConn)}
			tc := tls.Client(cc, ps.tlsConfig)
			if err := tc.Handshake(); err != nil {
				tcp.Close()
				t.Fatalf("TLS handshake: %v", err)
			}
			cc.cut = cut.at
			io.WriteString(tc, resetInput(tag))
			if err := resetConn(tcp); err != nil {
				t.Fatal(err)
			}
			alive(t, ps, fmt.Sprintf("a reset after %s of a %d-byte record", cut.name, cc.got))
		}
		sc.stop()
		rb.waitQuiet(t, 5*time.Second)
		for _, s := range rb.since(0) {
			for i, tag := range tags {
				if strings.Contains(s.head, tag) || strings.Contains(string(s.body), tag) {
					t.Errorf("the backend got %s from a record cut after %s", &s, cuts[i].name)
				}
			}
		}
	})
}
