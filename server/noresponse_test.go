//go:build linux

package server_test

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// TestReturn444 checks return = 444 (nginx's): the connection ends with
// no response; responses queued for earlier pipelined requests still go
// out whole; a request with a body unread ends without a reset; the
// access log records 444; over HTTP/2 the stream is reset
// (INTERNAL_ERROR) and the connection serves the next stream.
func TestReturn444(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		logFile := filepath.Join(t.TempDir(), "access.log")
		ts := startServer(t, backend, "http2 = on\naccess_log = "+logFile+"\n[location /drop/]\nreturn = 444\n")

		c := ts.dial(t)
		io.WriteString(c, get("/drop/x"))
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if got, err := io.ReadAll(c); err != nil || len(got) != 0 {
			t.Fatalf("444: read %q, %v; want nothing, then the end", got, err)
		}

		p := ts.dial(t)
		io.WriteString(p, get("/small.txt")+get("/drop/y")+get("/small.txt"))
		r := bufio.NewReader(p)
		if res := readResponse(t, r, false); res.status != 200 || !bytes.Equal(res.body, smallBody) {
			t.Fatalf("pipelined before the 444: %d, %d bytes", res.status, len(res.body))
		}
		p.SetReadDeadline(time.Now().Add(5 * time.Second))
		if rest, err := io.ReadAll(r); err != nil || len(rest) != 0 {
			t.Fatalf("after the 444: %q, %v; want the end", rest, err)
		}

		b := ts.dial(t)
		io.WriteString(b, "POST /drop/z HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n"+strings.Repeat("x", 50000))
		b.SetReadDeadline(time.Now().Add(5 * time.Second))
		b.Write([]byte(strings.Repeat("y", 50000)))
		if got, err := io.ReadAll(b); err != nil || len(got) != 0 {
			t.Fatalf("444 with a body: read %q, %v; want nothing, then the end (no reset)", got, err)
		}

		h := dialRawH2(t, ts.addr)
		x := &h2Exchange{status: map[uint32]string{}, body: map[uint32][]byte{}, ended: map[uint32]bool{}}
		h.get(1, "/drop/h2")
		var reset *http2.RSTStreamFrame
		for reset == nil {
			f, err := h.fr.ReadFrame()
			if err != nil {
				t.Fatalf("h2: %v before RST_STREAM", err)
			}
			switch f := f.(type) {
			case *http2.RSTStreamFrame:
				reset = f
			case *http2.SettingsFrame:
				if !f.IsAck() {
					h.fr.WriteSettingsAck()
				}
			case *http2.MetaHeadersFrame:
				t.Fatalf("h2: a response to a 444: %v", f.PseudoValue("status"))
			}
		}
		if reset.StreamID != 1 || reset.ErrCode != http2.ErrCodeInternal {
			t.Fatalf("h2: RST_STREAM %d %v, want 1 INTERNAL_ERROR", reset.StreamID, reset.ErrCode)
		}
		h.get(3, "/small.txt")
		h.read(x, func() bool { return x.ended[3] || x.eof })
		if x.status[3] != "200" || !bytes.Equal(x.body[3], smallBody) {
			t.Fatalf("h2 stream after the reset: %q, %d bytes", x.status[3], len(x.body[3]))
		}

		deadline := time.Now().Add(10 * time.Second)
		for {
			logged, _ := os.ReadFile(logFile)
			if n := strings.Count(string(logged), `" 444 0 `); n == 4 {
				break
			} else if time.Now().After(deadline) {
				t.Fatalf("access log: %d lines with 444, want 4:\n%s", n, logged)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}
