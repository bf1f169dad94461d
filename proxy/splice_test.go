//go:build linux

package proxy_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/nproxy/nproxy/internal/servertest"
	"github.com/nproxy/nproxy/proxy"
)

// patternBytes is the first n bytes of the test pattern.
func patternBytes(n int64) []byte {
	b, _ := io.ReadAll(newPattern(n))
	return b
}

// TestSpliceKeepAlive sends responses on both sides of the splice
// threshold over one keep-alive client connection (and one pooled
// upstream connection): the large ones are spliced, the small ones
// copied, and every one arrives intact, as does the request after them.
func TestSpliceKeepAlive(t *testing.T) {
	var spliced atomic.Int64
	t.Cleanup(proxy.OnSplice(func() { spliced.Add(1) }))
	forEachBackend(t, func(t *testing.T, backend string) {
		var conns atomic.Int64
		b := startBackend(t, "b", func(w http.ResponseWriter, r *http.Request) {
			n, _ := strconv.ParseInt(strings.TrimPrefix(r.URL.Path, "/size/"), 10, 64)
			w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
			io.Copy(w, newPattern(n))
		}, func(s *http.Server) {
			s.ConnState = func(c net.Conn, st http.ConnState) {
				if st == http.StateNew {
					conns.Add(1)
				}
			}
		})
		ps := startProxy(t, backend, "proxy_pass = "+b.addr+"\n")
		cl := ps.client(t)
		tests := []struct {
			size    int64
			spliced bool
		}{
			{300 << 10, true},
			{200 << 10, false},
			{3<<20 + 5, true}, // several pieces
			{300 << 10, true},
			{10, false},
		}
		for _, tt := range tests {
			before := spliced.Load()
			res := cl.do(get(fmt.Sprintf("/size/%d", tt.size)))
			if res.status != 200 || res.header["connection"] == "close" {
				t.Fatalf("%d bytes: %d %v", tt.size, res.status, res.header)
			}
			if !bytes.Equal(res.body, patternBytes(tt.size)) {
				t.Fatalf("%d bytes: body of %d bytes differs", tt.size, len(res.body))
			}
			if got := spliced.Load() - before; got != map[bool]int64{true: 1}[tt.spliced] {
				t.Errorf("%d bytes: spliced %d times, want spliced=%v", tt.size, got, tt.spliced)
			}
		}
		if n := conns.Load(); n != 1 {
			t.Errorf("the backend saw %d connections, want 1 (the pooled one reused)", n)
		}
	})
}

// TestSpliceTruncated: a backend that closes before the Content-Length it
// announced is complete, past the splice threshold, leaves the client
// with a closed connection and fewer bytes, as on the copy path.
func TestSpliceTruncated(t *testing.T) {
	const announced, sent = 2 << 20, 700 << 10
	forEachBackend(t, func(t *testing.T, backend string) {
		addr := servertest.RawBackend(t, func(c net.Conn) {
			bufio.NewReader(c).ReadString('\n')
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", announced)
			c.Write(patternBytes(sent))
		})
		ps := startProxy(t, backend, "proxy_pass = "+addr+"\n")
		c := ps.dial(t)
		io.WriteString(c, get("/"))
		r := bufio.NewReader(c)
		res := &response{header: map[string]string{}}
		if _, err := fmt.Fscanf(r, "%s %d", &res.proto, &res.status); err != nil || res.status != 200 {
			t.Fatalf("status: %d %v", res.status, err)
		}
		r.ReadString('\n')
		if err := readFields(r, res.header); err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("reading the body: %v", err)
		}
		if len(body) != sent || !bytes.Equal(body, patternBytes(sent)) {
			t.Fatalf("got %d bytes before the close, want the %d sent", len(body), sent)
		}
	})
}
