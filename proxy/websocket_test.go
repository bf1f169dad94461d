//go:build linux

package proxy_test

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/nproxy/nproxy/internal/servertest"
)

// A minimal RFC 6455 implementation: enough for the handshake, one-frame
// messages of any size, ping/pong and close.

const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

const (
	opText  = 0x1
	opBin   = 0x2
	opClose = 0x8
	opPing  = 0x9
	opPong  = 0xA
)

func wsAccept(key string) string {
	h := sha1.Sum([]byte(key + wsGUID))
	return base64.StdEncoding.EncodeToString(h[:])
}

// writeFrame writes one final frame, masked when mask (client side).
func writeFrame(w io.Writer, op byte, payload []byte, mask bool) error {
	var hdr [14]byte
	hdr[0] = 0x80 | op
	n := 2
	m := byte(0)
	if mask {
		m = 0x80
	}
	switch l := len(payload); {
	case l < 126:
		hdr[1] = m | byte(l)
	case l < 1<<16:
		hdr[1] = m | 126
		binary.BigEndian.PutUint16(hdr[2:], uint16(l))
		n = 4
	default:
		hdr[1] = m | 127
		binary.BigEndian.PutUint64(hdr[2:], uint64(l))
		n = 10
	}
	data := payload
	if mask {
		var key [4]byte
		rand.Read(key[:])
		copy(hdr[n:], key[:])
		n += 4
		data = make([]byte, len(payload))
		for i := range payload {
			data[i] = payload[i] ^ key[i&3]
		}
	}
	if _, err := w.Write(hdr[:n]); err != nil {
		return err
	}
	_, err := w.Write(data)
	return err
}

// readFrame reads one frame (unmasking it) and reports whether it was
// masked.
func readFrame(r io.Reader) (op byte, payload []byte, masked bool, err error) {
	var hdr [2]byte
	if _, err = io.ReadFull(r, hdr[:]); err != nil {
		return
	}
	op = hdr[0] & 0x0f
	masked = hdr[1]&0x80 != 0
	l := uint64(hdr[1] & 0x7f)
	switch l {
	case 126:
		var b [2]byte
		if _, err = io.ReadFull(r, b[:]); err != nil {
			return
		}
		l = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err = io.ReadFull(r, b[:]); err != nil {
			return
		}
		l = binary.BigEndian.Uint64(b[:])
	}
	var key [4]byte
	if masked {
		if _, err = io.ReadFull(r, key[:]); err != nil {
			return
		}
	}
	payload = make([]byte, l)
	if _, err = io.ReadFull(r, payload); err != nil {
		return
	}
	if masked {
		for i := range payload {
			payload[i] ^= key[i&3]
		}
	}
	return
}

// wsEchoServer echoes messages, answers pings and closes; closed receives
// nil after an orderly end (or the error).
func wsEchoServer(t *testing.T, closed chan<- error) string {
	return servertest.RawBackend(t, wsEcho(closed))
}

// wsEcho serves one WebSocket connection for wsEchoServer.
func wsEcho(closed chan<- error) func(c net.Conn) {
	return func(c net.Conn) {
		r := bufio.NewReader(c)
		req, err := http.ReadRequest(r)
		if err != nil {
			closed <- err
			return
		}
		if req.Header.Get("Upgrade") != "websocket" || req.Header.Get("Connection") != "upgrade" {
			closed <- fmt.Errorf("handshake headers: %v", req.Header)
			return
		}
		fmt.Fprintf(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
			wsAccept(req.Header.Get("Sec-WebSocket-Key")))
		for {
			op, p, masked, err := readFrame(r)
			if err == io.EOF {
				closed <- nil // the client went away without a close frame
				return
			}
			if err != nil {
				closed <- err
				return
			}
			if !masked {
				closed <- fmt.Errorf("unmasked client frame")
				return
			}
			switch op {
			case opPing:
				writeFrame(c, opPong, p, false)
			case opClose:
				writeFrame(c, opClose, p, false)
				closed <- nil
				return
			default:
				writeFrame(c, op, p, false)
			}
		}
	}
}

func TestWebSocket(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		closed := make(chan error, 4)
		ps := startProxy(t, backend, "proxy_pass = "+wsEchoServer(t, closed)+"\nproxy_timeout = 5s\n")
		for _, ending := range []string{"close frame", "client EOF"} {
			t.Run(ending, func(t *testing.T) { wsExercise(t, ps, closed, ending) })
		}
	})
}

// wsExercise upgrades a connection through ps to a wsEcho backend, echoes
// 1 MiB both ways at once, a ping and a text message, and ends the
// exchange with a close frame or the client's EOF (ending); closed is the
// backend's.
func wsExercise(t *testing.T, ps *proxyServer, closed <-chan error, ending string) {
	t.Helper()
	c := ps.dial(t)
	key := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef"))
	fmt.Fprintf(c, "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: %s\r\n\r\n", key)
	r := bufio.NewReader(c)
	res := readResponse(t, r, true)
	if res.status != 101 || res.header["sec-websocket-accept"] != wsAccept(key) ||
		res.header["upgrade"] != "websocket" || res.header["connection"] != "upgrade" {
		t.Fatalf("handshake: %d %v", res.status, res.header)
	}
	msg := make([]byte, 1<<20)
	rand.Read(msg)
	go writeFrame(c, opBin, msg, true) // 1 MiB: both ways at once
	op, p, masked, err := readFrame(r)
	if err != nil || op != opBin || masked || !bytes.Equal(p, msg) {
		t.Fatalf("echo: op %x, %d bytes, masked %v, err %v, equal %v", op, len(p), masked, err, bytes.Equal(p, msg))
	}
	time.Sleep(10 * time.Millisecond) // let the writer finish
	writeFrame(c, opPing, []byte("are you there"), true)
	if op, p, _, err := readFrame(r); err != nil || op != opPong || string(p) != "are you there" {
		t.Fatalf("pong: op %x %q %v", op, p, err)
	}
	writeFrame(c, opText, []byte("small"), true)
	if op, p, _, err := readFrame(r); err != nil || op != opText || string(p) != "small" {
		t.Fatalf("text: op %x %q %v", op, p, err)
	}
	if ending == "close frame" {
		writeFrame(c, opClose, []byte{0x03, 0xe8}, true)
		if op, _, _, err := readFrame(r); err != nil || op != opClose {
			t.Fatalf("close: op %x %v", op, err)
		}
	} else {
		c.(*net.TCPConn).CloseWrite()
	}
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("backend: %v", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("backend did not see the end")
	}
	// The proxy closes the client side once the backend is done.
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	if n, err := r.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("after close: %d bytes, %v; want EOF", n, err)
	}
}
