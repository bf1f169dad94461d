//go:build linux

package server_test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	nethttp "net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// How HTTP/1.1 features map onto proxied HTTP/2 streams: expect:
// 100-continue, trailers both ways.

// h2Raw is an h2c client that writes frames by hand, one connection.
type h2Raw struct {
	t   *testing.T
	c   net.Conn
	fr  *http2.Framer
	buf bytes.Buffer
	enc *hpack.Encoder
	dec *hpack.Decoder
}

func dialH2Raw(t *testing.T, addr string) *h2Raw {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() { c.Close() })
	r := &h2Raw{t: t, c: c, fr: http2.NewFramer(c, c)}
	r.enc = hpack.NewEncoder(&r.buf)
	r.dec = hpack.NewDecoder(4096, nil)
	io.WriteString(c, http2.ClientPreface)
	r.fr.WriteSettings()
	return r
}

// headers sends a header block (name, value pairs) on stream id.
func (r *h2Raw) headers(id uint32, end bool, kv ...string) {
	r.t.Helper()
	r.buf.Reset()
	for i := 0; i < len(kv); i += 2 {
		r.enc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
	}
	if err := r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: r.buf.Bytes(), EndStream: end, EndHeaders: true}); err != nil {
		r.t.Fatal(err)
	}
}

// h2Event is one thing the server said on a stream.
type h2Event struct {
	fields map[string]string // a header block
	data   []byte            // a DATA frame's payload
	end    bool
	reset  http2.ErrCode
	isRST  bool
}

// next reads frames until one for stream id that carries a header
// block, data or a reset (control frames are answered or skipped).
func (r *h2Raw) next(id uint32) h2Event {
	r.t.Helper()
	for {
		f, err := r.fr.ReadFrame()
		if err != nil {
			r.t.Fatalf("reading frames: %v", err)
		}
		if f.Header().StreamID != id {
			if s, ok := f.(*http2.SettingsFrame); ok && !s.IsAck() {
				r.fr.WriteSettingsAck()
			}
			if g, ok := f.(*http2.GoAwayFrame); ok {
				r.t.Fatalf("GOAWAY %v", g.ErrCode)
			}
			continue
		}
		switch f := f.(type) {
		case *http2.HeadersFrame:
			if !f.HeadersEnded() {
				r.t.Fatal("CONTINUATION not handled by this client")
			}
			fields, err := r.dec.DecodeFull(f.HeaderBlockFragment())
			if err != nil {
				r.t.Fatal(err)
			}
			m := map[string]string{}
			for _, hf := range fields {
				m[hf.Name] = hf.Value
			}
			return h2Event{fields: m, end: f.StreamEnded()}
		case *http2.DataFrame:
			if len(f.Data()) > 0 {
				r.fr.WriteWindowUpdate(0, uint32(len(f.Data())))
				r.fr.WriteWindowUpdate(id, uint32(len(f.Data())))
			}
			return h2Event{data: append([]byte(nil), f.Data()...), end: f.StreamEnded()}
		case *http2.RSTStreamFrame:
			return h2Event{isRST: true, reset: f.ErrCode}
		}
	}
}

// response reads a whole response on stream id: its final head, body and
// trailer fields (nil when none).
func (r *h2Raw) response(id uint32) (head map[string]string, body []byte, trailers map[string]string) {
	r.t.Helper()
	for {
		ev := r.next(id)
		switch {
		case ev.isRST:
			r.t.Fatalf("stream %d reset: %v", id, ev.reset)
		case ev.fields != nil && head == nil:
			if strings.HasPrefix(ev.fields[":status"], "1") {
				continue
			}
			head = ev.fields
		case ev.fields != nil:
			trailers = ev.fields
			if !ev.end {
				r.t.Fatal("trailing HEADERS without END_STREAM")
			}
		default:
			body = append(body, ev.data...)
		}
		if ev.end {
			return head, body, trailers
		}
	}
}

// startMapUpstream serves /echo (the request body back, and how it came:
// X-Framing, X-Trailers, X-Expect), /refuse (417 without reading the
// body) and /trailers (a chunked body with trailer fields, the trailer
// section split across writes). Go's server answers Expect: 100-continue
// with a 100 when the handler reads the body.
func startMapUpstream(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &nethttp.Server{Handler: nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		switch r.URL.Path {
		case "/echo":
			body, _ := io.ReadAll(r.Body)
			w.Header().Set("X-Framing", strings.Join(r.TransferEncoding, ",")+"/"+fmt.Sprint(r.ContentLength))
			w.Header().Set("X-Trailers", fmt.Sprint(len(r.Trailer)))
			w.Header().Set("X-Expect", r.Header.Get("Expect"))
			w.Header().Set("Content-Length", fmt.Sprint(len(body)))
			w.Write(body)
		case "/refuse":
			w.Header().Set("Content-Length", "4")
			w.WriteHeader(417)
			io.WriteString(w, "nope")
		case "/trailers":
			// By hand, to split the trailer section: Go's server writes
			// it in one piece.
			c, rw, err := nethttp.NewResponseController(w).Hijack()
			if err != nil {
				return
			}
			defer c.Close()
			for _, part := range []string{
				"HTTP/1.1 200 OK\r\nTrailer: X-Sum, X-Other\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n",
				"6\r\n world\r\n0\r\nX-Su", "m: 42\r\nX-Oth", "er: y\r\n", "\r\n",
			} {
				rw.WriteString(part)
				rw.Flush()
				time.Sleep(20 * time.Millisecond)
			}
		}
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// TestH2ProxyTrailers: a backend's chunked response with trailer fields
// reaches an HTTP/2 client as DATA, then trailing HEADERS with
// END_STREAM (for Go's client and frame by frame); a request's trailer
// fields end its body and are dropped, the body forwarded chunked (no
// content-length) or as it was announced.
func TestH2ProxyTrailers(t *testing.T) {
	up := startMapUpstream(t)
	forEachBackend(t, func(t *testing.T, backend string) {
		ts := startServer(t, backend, "http2 = on\nproxy_pass = "+up+"\n")
		res, body := h2Do(t, h2cClient(), "GET", "http://"+ts.addr+"/trailers", nil)
		if res.StatusCode != 200 || string(body) != "hello world" {
			t.Fatalf("Go's client: %d %q", res.StatusCode, body)
		}
		if res.Trailer.Get("X-Sum") != "42" || res.Trailer.Get("X-Other") != "y" {
			t.Fatalf("Go's client: trailers %v", res.Trailer)
		}

		r := dialH2Raw(t, ts.addr)
		r.headers(1, true, ":method", "GET", ":scheme", "http", ":authority", "x", ":path", "/trailers")
		head, body, tr := r.response(1)
		if head[":status"] != "200" || string(body) != "hello world" || tr["x-sum"] != "42" || tr["x-other"] != "y" || len(tr) != 2 {
			t.Fatalf("frames: head %v body %q trailers %v", head, body, tr)
		}
		if _, ok := head["transfer-encoding"]; ok {
			t.Fatalf("transfer-encoding in an HTTP/2 head: %v", head)
		}

		r.headers(3, false, ":method", "POST", ":scheme", "http", ":authority", "x", ":path", "/echo")
		r.fr.WriteData(3, false, []byte("abc"))
		r.fr.WriteData(3, false, []byte("def"))
		r.headers(3, true, "x-checksum", "1")
		head, body, _ = r.response(3)
		if head[":status"] != "200" || string(body) != "abcdef" || head["x-framing"] != "chunked/-1" || head["x-trailers"] != "0" {
			t.Fatalf("request trailers, no length: head %v body %q", head, body)
		}

		r.headers(5, false, ":method", "PUT", ":scheme", "http", ":authority", "x", ":path", "/echo", "content-length", "3")
		r.fr.WriteData(5, false, []byte("xyz"))
		r.headers(5, true, "x-checksum", "1")
		head, body, _ = r.response(5)
		if head[":status"] != "200" || string(body) != "xyz" || head["x-framing"] != "/3" || head["x-trailers"] != "0" {
			t.Fatalf("request trailers, content-length: head %v body %q", head, body)
		}
	})
}

// TestH2ProxyExpectContinue: a stream with expect: 100-continue gets the
// backend's 100 as an interim HEADERS before it sends its body, then the
// final response; a backend that answers without reading the body
// answers the stream at once (no 100), and the stream stays usable to
// the end of its request.
func TestH2ProxyExpectContinue(t *testing.T) {
	up := startMapUpstream(t)
	forEachBackend(t, func(t *testing.T, backend string) {
		ts := startServer(t, backend, "http2 = on\nproxy_pass = "+up+"\n")
		r := dialH2Raw(t, ts.addr)
		r.headers(1, false, ":method", "POST", ":scheme", "http", ":authority", "x", ":path", "/echo",
			"content-length", "5", "expect", "100-continue")
		ev := r.next(1)
		if ev.fields == nil || ev.fields[":status"] != "100" || ev.end {
			t.Fatalf("first answer %+v, want an interim :status 100", ev)
		}
		r.fr.WriteData(1, true, []byte("hello"))
		head, body, _ := r.response(1)
		if head[":status"] != "200" || string(body) != "hello" || head["x-expect"] != "100-continue" || head["x-framing"] != "/5" {
			t.Fatalf("final: head %v body %q", head, body)
		}

		r.headers(3, false, ":method", "POST", ":scheme", "http", ":authority", "x", ":path", "/refuse",
			"content-length", "5", "expect", "100-continue")
		head, body, _ = r.response(3)
		if head[":status"] != "417" || string(body) != "nope" {
			t.Fatalf("refused: head %v body %q", head, body)
		}
		// The request is not over for the client: ending it is no error.
		r.fr.WriteData(3, true, []byte("hello"))
		r.headers(5, true, ":method", "GET", ":scheme", "http", ":authority", "x", ":path", "/echo")
		if head, _, _ := r.response(5); head[":status"] != "200" {
			t.Fatalf("next stream: %v", head)
		}

		// Go's client over TLS-less h2c, waiting for the 100 as browsers
		// and curl do.
		req, _ := nethttp.NewRequest("POST", "http://"+ts.addr+"/echo", strings.NewReader("payload"))
		req.Header.Set("Expect", "100-continue")
		res, err := h2cClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || string(b) != "payload" {
			t.Fatalf("Go's client: %d %q", res.StatusCode, b)
		}
	})
}

// TestH2AnswerBeforeBody: a stream answered at its head (a static file
// refuses POST) while the client is still sending its body: the body is
// read and dropped within the stream window, or stopped with
// RST_STREAM(NO_ERROR) past it; either way the client gets the answer
// and the connection goes on.
func TestH2AnswerBeforeBody(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		ts := startServer(t, backend, "http2 = on\n")
		r := dialH2Raw(t, ts.addr)
		// Within the window: the rest of the body is taken and dropped.
		r.headers(1, false, ":method", "POST", ":scheme", "http", ":authority", "x", ":path", "/small.txt", "content-length", "6")
		head, _, _ := r.response(1)
		if head[":status"] != "405" {
			t.Fatalf("POST to a file: %v", head)
		}
		r.fr.WriteData(1, false, []byte("abc"))
		r.fr.WriteData(1, true, []byte("def"))
		// Past it (content-length says so): RST_STREAM(NO_ERROR) at once.
		r.headers(3, false, ":method", "POST", ":scheme", "http", ":authority", "x", ":path", "/small.txt", "content-length", "500000")
		if head, _, _ := r.response(3); head[":status"] != "405" {
			t.Fatalf("big POST to a file: %v", head)
		}
		if ev := r.next(3); !ev.isRST || ev.reset != http2.ErrCodeNo {
			t.Fatalf("big POST: %+v, want RST_STREAM(NO_ERROR)", ev)
		}
		r.fr.WriteData(3, false, []byte("late")) // in flight: ignored
		r.headers(5, true, ":method", "GET", ":scheme", "http", ":authority", "x", ":path", "/small.txt")
		if head, body, _ := r.response(5); head[":status"] != "200" || string(body) != string(smallBody) {
			t.Fatalf("next stream: %v, %d bytes", head, len(body))
		}
	})
}
