package tls

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

// FuzzServerFirstFlight feeds arbitrary bytes to a new server connection
// in arbitrary pieces and drives its handshake until it fails, completes
// or waits for more: nothing may panic or hang, a failure must wrap one
// of the package's errors, and Close must leave no handshake running.
func FuzzServerFirstFlight(f *testing.F) {
	f.Add(clientHello(f, "example.com"), []byte{40, 3})
	f.Add([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), []byte{})
	f.Add([]byte{0x16, 0x03, 0x01, 0x00, 0x06, 0x01, 0x00, 0x00, 0x02, 0x03, 0x03}, []byte{1})
	ctx, _ := testContext(f)
	lim := newHandshakeLimiter(4)
	ctx.lim = lim
	f.Fuzz(func(t *testing.T, input, cuts []byte) {
		w := newWaker()
		c := ctx.Server(w.fn())
		defer func() {
			c.Close()
			waitSlotsFree(t, lim)
		}()
		deadline := time.After(testTimeout)
		for _, piece := range split(input, cuts) {
			c.Feed(piece)
			for {
				done, err := c.Handshake()
				c.Output(nil)
				if err != nil {
					if !errors.Is(err, ErrHandshake) && !errors.Is(err, ErrPlainHTTP) && !errors.Is(err, ErrNotTLS) {
						t.Fatalf("unexpected error %v", err)
					}
					return
				}
				if done {
					t.Fatal("handshake done without a client") // a valid flight still needs the client's Finished
				}
				if c.state == stateNew || c.p.awaitingInput() {
					break // needs the next piece
				}
				select {
				case <-w:
				case <-time.After(time.Millisecond):
				case <-deadline:
					t.Fatal("handshake neither failed nor waited for input")
				}
			}
		}
	})
}

// FuzzRecordChunks writes data as records on an established connection
// and feeds them to the peer cut at arbitrary places, with arbitrary bytes
// after them: the peer must read exactly data, answering ErrWouldBlock
// while a record is incomplete, and then fail on the garbage (or wait for
// more of it) without panicking.
func FuzzRecordChunks(f *testing.F) {
	f.Add([]byte("hello"), []byte{1, 5, 2}, []byte{})
	f.Add(bytes.Repeat([]byte("x"), 40000), []byte{200, 17, 255, 3}, []byte{0x17, 3, 3, 0, 20, 1, 2})
	f.Add([]byte{}, []byte{}, []byte{0x15, 3, 3, 0, 2, 1, 0})
	ctx, ca := testContext(f)
	cc := NewClientConfig("example.com", ca.pool, true)
	f.Fuzz(func(t *testing.T, data, cuts, garbage []byte) {
		p := newMemPair(t, ctx, cc)
		p.mustHandshake()
		p.server.Write(data)
		stream := append(p.server.Output(nil), garbage...)
		got := make([]byte, 0, len(data))
		buf := make([]byte, 5000)
		for _, piece := range split(stream, cuts) {
			p.client.Feed(piece)
			for {
				n, err := p.client.Read(buf)
				got = append(got, buf[:n]...)
				if len(got) > len(data) {
					t.Fatalf("read %d bytes, more than the %d written", len(got), len(data))
				}
				if errors.Is(err, ErrWouldBlock) {
					break
				}
				if err != nil {
					if len(got) < len(data) {
						t.Fatalf("error %v after %d of %d bytes", err, len(got), len(data))
					}
					return // the garbage
				}
			}
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("read %d bytes that differ from the %d written", len(got), len(data))
		}
	})
}

// split cuts b into pieces whose lengths come from cuts (each byte, plus
// one), the last piece taking the rest.
func split(b, cuts []byte) [][]byte {
	var pieces [][]byte
	for _, c := range cuts {
		n := int(c) + 1
		if n >= len(b) {
			break
		}
		pieces = append(pieces, b[:n])
		b = b[n:]
	}
	return append(pieces, b)
}
