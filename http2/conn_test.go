//go:build linux

package http2

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	xhttp2 "golang.org/x/net/http2"
)

func TestServerPreface(t *testing.T) {
	p := newPeer(t, nil, false)
	lines := p.flush()
	want := []string{
		"SETTINGS MAX_CONCURRENT_STREAMS=128 INITIAL_WINDOW_SIZE=262144 MAX_HEADER_LIST_SIZE=65536 ENABLE_PUSH=0",
		"WINDOW_UPDATE 0 +983041",
		"SETTINGS ACK",
	}
	if !slices.Equal(lines, want) {
		t.Fatalf("got %q\nwant %q", lines, want)
	}
}

func TestPrefaceInPieces(t *testing.T) {
	p := newPeer(t, nil, true)
	p.c.Output(nil)
	for i := 0; i < len(Preface); i++ {
		if err := p.c.Feed([]byte{Preface[i]}); err != nil {
			t.Fatalf("byte %d: %v", i, err)
		}
	}
	p.fr.WriteSettings()
	p.fr.WritePing(false, [8]byte{1, 2, 3, 4, 5, 6, 7, 8})
	// Every byte on its own: frames split anywhere must still parse.
	b := bytes.Clone(p.in.Bytes())
	p.in.Reset()
	for i := range b {
		if err := p.c.Feed(b[i : i+1]); err != nil {
			t.Fatalf("byte %d: %v", i, err)
		}
	}
	got := p.flush()
	want := []string{"SETTINGS ACK", "PING ack=true \"\\x01\\x02\\x03\\x04\\x05\\x06\\a\\b\""}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestLooksLikePreface(t *testing.T) {
	tests := []struct {
		in              string
		match, complete bool
	}{
		{"", true, false},
		{"PRI * HTTP/2", true, false},
		{Preface, true, true},
		{Preface + "\x00\x00", true, true},
		{"GET / HTTP/1.1\r\n", false, false},
		{"PRI * HTTP/1.1\r\n", false, false},
	}
	for _, tt := range tests {
		m, c := LooksLikePreface([]byte(tt.in))
		if m != tt.match || c != tt.complete {
			t.Errorf("LooksLikePreface(%q) = %v, %v; want %v, %v", tt.in, m, c, tt.match, tt.complete)
		}
	}
}

func TestRequestHead(t *testing.T) {
	p := newPeer(t, nil, false)
	p.headers(1, true, ":method", "GET", ":scheme", "https", ":authority", "example.com:8443",
		":path", "/a/b?x=1&y", "accept", "*/*", "cookie", "a=1", "x_under", "u",
		"cookie", "b=2", "if-none-match", `"e"`, "range", "bytes=0-9", "expect", "100-Continue")
	p.headers(3, false, ":method", "PUT", ":scheme", "http", ":path", "/up", "host", "h.example", "content-length", "12")
	p.headers(5, true, ":method", "OPTIONS", ":scheme", "https", ":authority", "a", ":path", "*")
	p.headers(7, true, ":method", "CONNECT", ":authority", "backend:443")
	p.flush()
	if p.err != nil {
		t.Fatal(p.err)
	}
	want := []headCopy{
		{method: "GET", scheme: "https", host: "example.com:8443", uri: "/a/b?x=1&y", path: "/a/b", query: "x=1&y",
			contentLength: -1, expect100: true,
			fields: []string{"accept: */*", "cookie: a=1; b=2", "x_under: u", `if-none-match: "e"`, "range: bytes=0-9", "expect: 100-Continue"}},
		{method: "PUT", scheme: "http", host: "h.example", uri: "/up", path: "/up", contentLength: 12,
			fields: []string{"host: h.example", "content-length: 12"}},
		{method: "OPTIONS", scheme: "https", host: "a", uri: "*", path: "*", contentLength: -1},
		{method: "CONNECT", host: "backend:443", contentLength: -1},
	}
	if len(p.rec.heads) != len(want) {
		t.Fatalf("got %d heads (%q), want %d", len(p.rec.heads), p.rec.events, len(want))
	}
	for i, w := range want {
		g := p.rec.heads[i]
		if g.method != w.method || g.scheme != w.scheme || g.host != w.host || g.uri != w.uri ||
			g.path != w.path || g.query != w.query || g.contentLength != w.contentLength ||
			g.expect100 != w.expect100 || !slices.Equal(g.fields, w.fields) {
			t.Errorf("head %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
}

// TestRequestHeadMapsOntoHTTPRequest checks the fields of http.Request the
// routing chain reads, beyond the spans.
func TestRequestHeadMapsOntoHTTPRequest(t *testing.T) {
	p := newPeer(t, nil, false)
	var checked bool
	p.rec.respond = func(id uint32, h *RequestHead, end bool) {
		r := &h.Req
		if r.Major != 2 || r.Minor != 0 || !r.KeepAlive || r.Chunked || r.Upgrade {
			t.Errorf("version and framing: %+v", r)
		}
		if r.Method.String() != "DELETE" || !r.HasUnderscoreHeader {
			t.Errorf("method %v, underscore %v", r.Method, r.HasUnderscoreHeader)
		}
		if headerSpan(h, "X-Custom") != "v" || string(r.Range.Bytes(h.Buf)) != "bytes=1-" ||
			string(r.IfModifiedSince.Bytes(h.Buf)) != "Sun, 06 Nov 1994 08:49:37 GMT" {
			t.Errorf("fields: %+v", copyHead(h))
		}
		if r.HeadLen != len(h.Buf) {
			t.Errorf("HeadLen %d, buffer %d", r.HeadLen, len(h.Buf))
		}
		checked = true
	}
	p.headers(1, true, ":method", "DELETE", ":scheme", "https", ":authority", "a", ":path", "/x",
		"x-custom", "v", "range", "bytes=1-", "if-modified-since", "Sun, 06 Nov 1994 08:49:37 GMT", "a_b", "1")
	p.flush()
	if !checked {
		t.Fatalf("no request: %q", p.rec.events)
	}
}

func TestRespond(t *testing.T) {
	p := newPeer(t, nil, false)
	p.rec.respond = func(id uint32, h *RequestHead, end bool) {
		lines := "Content-Type: text/plain\r\nConnection: keep-alive\r\nX-Multi:  a b \r\nTransfer-Encoding: chunked\r\nbogus line\r\nContent-Length: 5\r\n"
		if err := p.c.Respond(id, 200, []byte(lines), false); err != nil {
			t.Fatal(err)
		}
		if err := p.c.Respond(id, 200, nil, false); err != ErrHeadersSent {
			t.Errorf("second Respond: %v", err)
		}
		if n, err := p.c.WriteData(id, []byte("hello"), false); n != 5 || err != nil {
			t.Fatalf("WriteData = %d, %v", n, err)
		}
		if err := p.c.WriteTrailers(id, []byte("X-Checksum: 1\r\n")); err != nil {
			t.Fatal(err)
		}
		if _, err := p.c.WriteData(id, nil, true); err != ErrStreamClosed {
			t.Errorf("WriteData after the end: %v", err)
		}
	}
	p.get(1, "/")
	got := p.flush()[3:]
	want := []string{
		"HEADERS 1 end=false :status=200 content-type=text/plain x-multi=a b content-length=5",
		"DATA 1 len=5 end=false",
		"HEADERS 1 end=true x-checksum=1",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	if p.c.Streams() != 0 {
		t.Errorf("%d streams left", p.c.Streams())
	}
}

func TestRespondErrors(t *testing.T) {
	p := newPeer(t, nil, false)
	p.get(1, "/")
	p.flush()
	c := p.c
	if err := c.Respond(3, 200, nil, true); err != ErrStreamClosed {
		t.Errorf("unknown stream: %v", err)
	}
	if _, err := c.WriteData(1, []byte("x"), false); err != ErrNoHeaders {
		t.Errorf("data before head: %v", err)
	}
	for _, st := range []int{0, 99, 101, 1000} {
		if err := c.Respond(1, st, nil, false); err != ErrBadStatus {
			t.Errorf("status %d: %v", st, err)
		}
	}
	if err := c.Respond(1, 100, nil, true); err != ErrBadStatus {
		t.Errorf("1xx ending the stream: %v", err)
	}
	if err := c.Respond(1, 103, []byte("Link: </a>; rel=preload\r\n"), false); err != nil {
		t.Errorf("103: %v", err)
	}
	if err := c.Respond(1, 204, nil, true); err != nil {
		t.Errorf("final after 1xx: %v", err)
	}
	got := p.flush()
	want := []string{"HEADERS 1 end=false :status=103 link=</a>; rel=preload", "HEADERS 1 end=true :status=204"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// TestLargeHeadUsesContinuation checks that a response head larger than
// the client's frame size is split into CONTINUATION frames.
func TestLargeHeadUsesContinuation(t *testing.T) {
	p := newPeer(t, nil, false)
	p.flush()
	big := strings.Repeat("v", 40000)
	p.rec.respond = func(id uint32, h *RequestHead, end bool) {
		p.c.Respond(id, 200, []byte("X-Big: "+big+"\r\n"), true)
	}
	p.get(1, "/")
	p.c.Feed(p.in.Bytes())
	p.in.Reset()
	var types []string
	for b := p.c.Output(nil); len(b) >= frameHeaderLen; {
		fh := readFrameHeader(b)
		types = append(types, strconvType(fh))
		b = b[frameHeaderLen+int(fh.length):]
	}
	want := []string{"HEADERS", "CONTINUATION", "CONTINUATION+END_HEADERS"}
	if !slices.Equal(types, want) {
		t.Fatalf("frames of the head: %q, want %q", types, want)
	}
}

func strconvType(fh frameHeader) string {
	s := map[frameType]string{frameHeaders: "HEADERS", frameContinuation: "CONTINUATION"}[fh.typ]
	if fh.flags&flagEndHeaders != 0 {
		s += "+END_HEADERS"
	}
	return s
}

func TestHeaderListTooLarge(t *testing.T) {
	p := newPeer(t, &Config{MaxHeaderListSize: 200}, false)
	p.get(1, "/", "x-a", strings.Repeat("a", 100), "x-b", strings.Repeat("b", 100))
	p.get(3, "/small")
	got := p.flush()[3:]
	want := []string{"HEADERS 1 end=true :status=431"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	if want := []string{"request 3 GET /small end=true"}; !slices.Equal(p.rec.events, want) {
		t.Fatalf("events %q, want %q (the decoder must stay in sync)", p.rec.events, want)
	}
}

func TestTooManyFields(t *testing.T) {
	p := newPeer(t, nil, false)
	var kv []string
	for i := range 65 {
		kv = append(kv, "x-f"+itoa(uint32(i)), "v")
	}
	p.get(1, "/", kv...)
	got := p.flush()[3:]
	if want := "HEADERS 1 end=true :status=431"; lastLine(got) != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestRequestBodyAndTrailers(t *testing.T) {
	p := newPeer(t, nil, false)
	p.post(1, "content-length", "6", "te", "trailers")
	p.fr.WriteData(1, false, []byte("abc"))
	p.fr.WriteDataPadded(1, false, []byte("def"), make([]byte, 10))
	p.headers(1, true, "x-sum", "6")
	p.flush()
	want := []string{
		"request 1 POST /upload end=false",
		"data 1 len=3 end=false",
		"data 1 len=3 end=false",
		"trailers 1 [x-sum: 6]",
	}
	if !slices.Equal(p.rec.events, want) || string(p.rec.body[1]) != "abcdef" {
		t.Fatalf("events %q body %q", p.rec.events, p.rec.body[1])
	}
}

// TestReceiveFlowControl checks that credit comes back only as the
// Handler consumes, in WINDOW_UPDATEs of at least half a window, and that
// a stream's unconsumed bytes return to the connection when it closes.
func TestReceiveFlowControl(t *testing.T) {
	p := newPeer(t, &Config{StreamWindow: 65536, ConnWindow: 131072}, false)
	p.flush()
	p.post(1)
	p.fr.WriteData(1, false, make([]byte, 16384))
	p.fr.WriteData(1, false, make([]byte, 16384))
	if got := p.flush(); len(got) != 0 {
		t.Fatalf("credit returned before Consume: %q", got)
	}
	p.c.Consume(1, 16384)
	if got := p.flush(); len(got) != 0 {
		t.Fatalf("credit for less than half a window: %q", got)
	}
	p.c.Consume(1, 16384)
	if got, want := p.flush(), []string{"WINDOW_UPDATE 1 +32768"}; !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	// 32768 more held, then the stream is reset: the connection's
	// credit must come back (32768 consumed + 32768 returned at close).
	p.fr.WriteData(1, false, make([]byte, 16384))
	p.fr.WriteData(1, false, make([]byte, 16384))
	p.fr.WriteRSTStream(1, xhttp2.ErrCodeCancel)
	if got, want := p.flush(), []string{"WINDOW_UPDATE 0 +65536"}; !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	if want := "reset 1 CANCEL"; lastLine(p.rec.events) != want {
		t.Fatalf("events %q", p.rec.events)
	}
}

// TestSendFlowControl checks that DATA waits for the client's windows
// and for output room, and that OnWritable comes when they open.
func TestSendFlowControl(t *testing.T) {
	p := newPeer(t, &Config{MaxOutput: 64 << 10}, false)
	p.fr.WriteSettings(xhttp2.Setting{ID: xhttp2.SettingInitialWindowSize, Val: 10000})
	body := make([]byte, 100000)
	sent := 0
	write := func(id uint32) {
		n, err := p.c.WriteData(id, body[sent:], true)
		if err != nil {
			t.Fatal(err)
		}
		sent += n
	}
	p.rec.respond = func(id uint32, h *RequestHead, end bool) {
		p.c.Respond(id, 200, nil, false)
		write(id)
	}
	p.rec.writable = write
	p.get(1, "/")
	got := p.flush()
	if sent != 10000 || lastLine(got) != "DATA 1 len=10000 end=false" {
		t.Fatalf("sent %d, frames %q", sent, got)
	}
	// The stream window opens, the connection window (65535) does not.
	p.fr.WriteWindowUpdate(1, 200000)
	got = p.flush()
	if sent != 65535 {
		t.Fatalf("sent %d after the stream window opened (%q)", sent, got)
	}
	p.fr.WriteWindowUpdate(0, 200000)
	got = p.flush()
	if sent != len(body) || lastLine(got) != "DATA 1 len=1697 end=true" {
		t.Fatalf("sent %d, frames %q", sent, got)
	}
	writables := 0
	for _, e := range p.rec.events {
		if e == "writable 1" {
			writables++
		}
	}
	if writables != 2 {
		t.Errorf("%d OnWritable, want 2: %q", writables, p.rec.events)
	}
}

// TestOutputBackpressure checks that WriteData stops at MaxOutput and
// resumes through OnWritable once Output drained.
func TestOutputBackpressure(t *testing.T) {
	p := newPeer(t, &Config{MaxOutput: 32 << 10}, false)
	p.fr.WriteWindowUpdate(0, 1<<30)
	p.fr.WriteSettings(xhttp2.Setting{ID: xhttp2.SettingInitialWindowSize, Val: 1 << 30})
	body := make([]byte, 1<<20)
	sent := 0
	write := func(id uint32) {
		n, _ := p.c.WriteData(id, body[sent:], true)
		sent += n
	}
	p.rec.respond = func(id uint32, h *RequestHead, end bool) {
		p.c.Respond(id, 200, nil, false)
		write(id)
	}
	p.rec.writable = write
	p.get(1, "/")
	p.c.Feed(p.in.Bytes())
	p.in.Reset()
	if sent > 32<<10 || p.c.Pending() > 33<<10 {
		t.Fatalf("sent %d, pending %d: MaxOutput not respected", sent, p.c.Pending())
	}
	total := 0
	buf := make([]byte, 0, 16<<10)
	for i := 0; i < 1000 && !(sent == len(body) && p.c.Pending() == 0); i++ {
		out := p.c.Output(buf[:0])
		if len(out) > cap(buf) {
			t.Fatalf("Output appended %d bytes to a buffer of %d", len(out), cap(buf))
		}
		total += len(out)
	}
	if sent != len(body) {
		t.Fatalf("sent %d of %d", sent, len(body))
	}
}

// TestShutdown checks the two-step graceful close (RFC 9113 §6.8):
// GOAWAY(2^31-1) and a PING; a stream opened before the PING's ACK is
// served; an ACK with other data is ignored; the ACK brings the final
// GOAWAY naming that stream, after which a new stream is ignored.
func TestShutdown(t *testing.T) {
	p := newPeer(t, nil, false)
	p.get(1, "/")
	p.get(3, "/")
	p.flush()
	p.c.Shutdown()
	p.c.Shutdown() // a second call (every input while draining) adds nothing
	got := p.flush()
	if want := []string{"GOAWAY last=2147483647 NO_ERROR", `PING ack=false "npxdrain"`}; !slices.Equal(got, want) {
		t.Fatalf("first step: got %q, want %q", got, want)
	}
	p.get(5, "/in-flight") // sent before the client saw the GOAWAY
	p.fr.WritePing(true, [8]byte{'s', 'o', 'm', 'e', 'p', 'i', 'n', 'g'})
	if got := p.flush(); len(got) != 0 {
		t.Fatalf("stream 5 and a foreign PING ACK: got %q, want nothing", got)
	}
	if len(p.rec.heads) != 3 || p.c.Done() || p.c.ShutdownDue().IsZero() {
		t.Fatalf("events %q, done %v, due %v", p.rec.events, p.c.Done(), p.c.ShutdownDue())
	}
	p.fr.WritePing(true, [8]byte{'n', 'p', 'x', 'd', 'r', 'a', 'i', 'n'})
	got = p.flush()
	if want := []string{"GOAWAY last=5 NO_ERROR"}; !slices.Equal(got, want) {
		t.Fatalf("after the ACK: got %q, want %q", got, want)
	}
	if !p.c.ShutdownDue().IsZero() {
		t.Fatal("ShutdownDue set after the final GOAWAY")
	}
	p.get(7, "/late")
	p.flush()
	if len(p.rec.heads) != 3 {
		t.Fatalf("stream 7 after the final GOAWAY was served: %q", p.rec.events)
	}
	for _, id := range []uint32{1, 3} {
		p.c.Respond(id, 200, nil, true)
	}
	if p.c.Done() {
		t.Fatal("Done with stream 5 still open")
	}
	p.c.Respond(5, 200, nil, true)
	if !p.c.Done() {
		t.Fatal("not Done after the last stream")
	}
	got = p.flush()
	if want := []string{"HEADERS 1 end=true :status=200", "HEADERS 3 end=true :status=200", "HEADERS 5 end=true :status=200"}; !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// TestShutdownNoAck: a client that does not answer the PING gets the
// final GOAWAY once ShutdownDue has passed (a fake clock: nothing waits).
func TestShutdownNoAck(t *testing.T) {
	now := time.Unix(1000, 0)
	p := newPeer(t, &Config{Now: func() time.Time { return now }, ShutdownPingTimeout: time.Second}, false)
	p.get(1, "/")
	p.flush()
	p.c.Shutdown()
	p.flush()
	if due := p.c.ShutdownDue(); !due.Equal(now.Add(time.Second)) {
		t.Fatalf("ShutdownDue %v, want %v", due, now.Add(time.Second))
	}
	p.get(3, "/")
	now = now.Add(time.Second - 1)
	p.c.Expire()
	if got := p.flush(); len(got) != 0 {
		t.Fatalf("Expire before the bound: got %q", got)
	}
	now = now.Add(1)
	p.c.Expire()
	if got, want := p.flush(), []string{"GOAWAY last=3 NO_ERROR"}; !slices.Equal(got, want) {
		t.Fatalf("Expire at the bound: got %q, want %q", got, want)
	}
	p.c.Expire()
	if got := p.flush(); len(got) != 0 {
		t.Fatalf("a second Expire: got %q", got)
	}
	p.c.Respond(1, 200, nil, true)
	p.c.Respond(3, 200, nil, true)
	if !p.c.Done() {
		t.Fatal("not Done after the last stream")
	}
}

// TestShutdownAfterClientGoAway: a client that sent GOAWAY opens no more
// streams, so Shutdown sends the final GOAWAY at once, without a PING;
// and a client GOAWAY during the first step ends the wait.
func TestShutdownAfterClientGoAway(t *testing.T) {
	for _, tc := range []struct {
		name        string
		goAwayFirst bool
		want        []string
	}{
		{name: "before", goAwayFirst: true, want: []string{"GOAWAY last=1 NO_ERROR"}},
		{name: "during", want: []string{"GOAWAY last=2147483647 NO_ERROR", `PING ack=false "npxdrain"`, "GOAWAY last=1 NO_ERROR"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPeer(t, nil, false)
			p.get(1, "/")
			if tc.goAwayFirst {
				p.fr.WriteGoAway(1, xhttp2.ErrCodeNo, nil)
				p.flush()
				p.c.Shutdown()
			} else {
				p.flush()
				p.c.Shutdown()
				p.fr.WriteGoAway(1, xhttp2.ErrCodeNo, nil)
			}
			if got := p.flush(); !slices.Equal(got, tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			if !p.c.ShutdownDue().IsZero() {
				t.Fatal("still waiting for the PING's ACK")
			}
		})
	}
}

func TestClientGoAway(t *testing.T) {
	p := newPeer(t, nil, false)
	p.get(1, "/")
	p.fr.WriteGoAway(0, xhttp2.ErrCodeNo, nil)
	p.flush()
	if p.c.Done() {
		t.Fatal("Done with a stream open")
	}
	p.c.Respond(1, 200, nil, true)
	if !p.c.Done() {
		t.Fatal("not Done after the client's GOAWAY and the last stream")
	}
}

// TestResponseEndsBeforeBody checks RFC 9113 §8.1 and §5.1: a response
// that ends while the request body is still coming leaves the stream
// half-closed (local). The rest of the body is read and dropped (no
// event), still checked (content-length, trailers), and its END_STREAM
// closes the stream; the Handler hears nothing more of it.
func TestResponseEndsBeforeBody(t *testing.T) {
	p := newPeer(t, nil, false)
	p.rec.respond = func(id uint32, h *RequestHead, end bool) { p.c.Respond(id, 413, nil, true) }
	p.post(1)
	p.fr.WriteData(1, false, []byte("late"))
	got := p.flush()[3:]
	want := []string{"HEADERS 1 end=true :status=413"}
	if !slices.Equal(got, want) || p.err != nil {
		t.Fatalf("got %q (err %v), want %q", got, p.err, want)
	}
	if p.c.Streams() != 0 {
		t.Fatalf("Streams() = %d for a stream whose response ended", p.c.Streams())
	}
	p.fr.WriteData(1, true, []byte("end"))
	p.flush()
	if len(p.c.streams) != 0 {
		t.Fatal("the stream is kept after the request's END_STREAM")
	}
	// Closed by both ends now: more DATA is a stream error.
	p.fr.WriteData(1, true, []byte("more"))
	if got := p.flush(); !slices.Equal(got, []string{"RST_STREAM 1 STREAM_CLOSED"}) {
		t.Fatalf("DATA after both ends: got %q", got)
	}
	if len(p.rec.events) != 1 {
		t.Fatalf("events after the response ended: %q", p.rec.events)
	}
}

// TestHalfClosedLocalChecks: a half-closed (local) stream's request is
// still held to the rules (§8.1.1 content-length, §8.1 trailers), and a
// client's RST_STREAM of it is neither an event nor charged.
func TestHalfClosedLocalChecks(t *testing.T) {
	cases := []struct {
		name string
		send func(p *peer)
		want []string
	}{
		{"content-length exceeded", func(p *peer) { p.fr.WriteData(1, false, []byte("12345")) }, []string{"RST_STREAM 1 PROTOCOL_ERROR"}},
		{"content-length short", func(p *peer) { p.fr.WriteData(1, true, []byte("1")) }, []string{"RST_STREAM 1 PROTOCOL_ERROR"}},
		{"trailers without END_STREAM", func(p *peer) { p.headers(1, false, "x-t", "1") }, []string{"RST_STREAM 1 PROTOCOL_ERROR"}},
		{"pseudo-header in trailers", func(p *peer) { p.headers(1, true, ":path", "/") }, []string{"RST_STREAM 1 PROTOCOL_ERROR"}},
		{"window update of 0", func(p *peer) { p.fr.WriteWindowUpdate(1, 0) }, []string{"RST_STREAM 1 PROTOCOL_ERROR"}},
		{"window overflow", func(p *peer) { p.fr.WriteWindowUpdate(1, 1<<31-1) }, []string{"RST_STREAM 1 FLOW_CONTROL_ERROR"}},
		{"trailers end it", func(p *peer) { p.fr.WriteData(1, false, []byte("ab")); p.headers(1, true, "x-t", "1") }, nil},
		{"client reset", func(p *peer) { p.fr.WriteRSTStream(1, xhttp2.ErrCodeCancel) }, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := newPeer(t, nil, false)
			p.rec.respond = func(id uint32, h *RequestHead, end bool) { p.c.Respond(id, 200, nil, true) }
			p.post(1, "content-length", "2")
			p.flush()
			tc.send(p)
			if got := p.flush(); !slices.Equal(got, tc.want) || p.err != nil {
				t.Fatalf("got %q (err %v), want %q", got, p.err, tc.want)
			}
			if len(p.c.streams) != 0 {
				t.Fatal("stream still in the table")
			}
			if len(p.rec.events) != 1 {
				t.Fatalf("events after the response ended: %q", p.rec.events)
			}
		})
	}
}

// TestResponseEndsBeforeLargeBody: a body the stream's window cannot
// hold is refused with RST_STREAM(NO_ERROR): at once when content-length
// says so, when the window runs out otherwise. DATA the client had in
// flight is then ignored.
func TestResponseEndsBeforeLargeBody(t *testing.T) {
	p := newPeer(t, &Config{StreamWindow: 65535}, false)
	p.rec.respond = func(id uint32, h *RequestHead, end bool) { p.c.Respond(id, 413, nil, true) }
	p.post(1, "content-length", "1000000")
	p.fr.WriteData(1, false, []byte("late"))
	got := p.flush()[3:]
	want := []string{"HEADERS 1 end=true :status=413", "RST_STREAM 1 NO_ERROR"}
	if !slices.Equal(got, want) || p.err != nil {
		t.Fatalf("got %q (err %v), want %q", got, p.err, want)
	}
	p.post(3)
	chunk := make([]byte, 16384)
	for range 3 {
		p.fr.WriteData(3, false, chunk)
	}
	if got := p.flush(); !slices.Equal(got, []string{"HEADERS 3 end=true :status=413"}) {
		t.Fatalf("within the window: got %q", got)
	}
	p.fr.WriteData(3, false, chunk[:65535-3*16384])
	p.fr.WriteData(3, false, nil)
	if got := p.flush(); !slices.Equal(got, []string{"RST_STREAM 3 NO_ERROR"}) || p.err != nil {
		t.Fatalf("window spent: got %q (err %v)", got, p.err)
	}
	if len(p.rec.events) != 2 {
		t.Fatalf("events after the responses ended: %q", p.rec.events)
	}
}

func TestHandlerReset(t *testing.T) {
	p := newPeer(t, nil, false)
	p.rec.respond = func(id uint32, h *RequestHead, end bool) {
		p.c.Respond(id, 200, nil, false)
		p.c.Reset(id, ErrCodeInternal)
	}
	p.get(1, "/")
	got := p.flush()[3:]
	want := []string{"HEADERS 1 end=false :status=200", "RST_STREAM 1 INTERNAL_ERROR"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestClose(t *testing.T) {
	p := newPeer(t, nil, false)
	p.get(1, "/")
	p.get(3, "/")
	p.flush()
	p.c.Close()
	slices.Sort(p.rec.events)
	want := []string{"request 1 GET / end=true", "request 3 GET / end=true", "reset 1 CANCEL", "reset 3 CANCEL"}
	if !slices.Equal(p.rec.events, want) {
		t.Fatalf("events %q", p.rec.events)
	}
	if err := p.c.Respond(1, 200, nil, true); err != ErrStreamClosed {
		t.Errorf("Respond after Close: %v", err)
	}
}

// TestPeerSettingsApply checks that the client's INITIAL_WINDOW_SIZE
// changes open streams' windows (§6.9.2) and MAX_FRAME_SIZE our frames.
func TestPeerSettingsApply(t *testing.T) {
	p := newPeer(t, &Config{MaxOutput: 1 << 20}, false)
	p.fr.WriteWindowUpdate(0, 1<<20)
	var id1 uint32
	p.rec.respond = func(id uint32, h *RequestHead, end bool) { id1 = id; p.c.Respond(id, 200, nil, false) }
	p.get(1, "/")
	p.flush()
	p.fr.WriteSettings(xhttp2.Setting{ID: xhttp2.SettingInitialWindowSize, Val: 100000}, xhttp2.Setting{ID: xhttp2.SettingMaxFrameSize, Val: 20000})
	p.flush()
	n, _ := p.c.WriteData(id1, make([]byte, 200000), false)
	if n != 100000 {
		t.Fatalf("took %d, want the new window 100000", n)
	}
	b := p.c.Output(nil)
	if fh := readFrameHeader(b); fh.typ != frameData || fh.length != 20000 {
		t.Fatalf("first DATA frame %+v, want 20000 bytes", fh)
	}
}

// TestResetBucketRefills checks that the rapid-reset bucket refills with
// time: a client that cancels streams at a browser's pace is never cut
// off, one that cancels faster than ResetRate for longer than ResetBurst
// is.
func TestResetBucketRefills(t *testing.T) {
	now := time.Unix(1000, 0)
	p := newPeer(t, &Config{ResetBurst: 4, ResetRate: 2, Now: func() time.Time { return now }}, false)
	id := uint32(1)
	cancel := func(n int) {
		for range n {
			p.post(id)
			p.fr.WriteRSTStream(id, xhttp2.ErrCodeCancel)
			id += 2
		}
		p.flush()
	}
	cancel(4)
	if p.err != nil {
		t.Fatalf("within the burst: %v", p.err)
	}
	now = now.Add(time.Second) // two tokens back
	cancel(2)
	if p.err != nil {
		t.Fatalf("within the refill: %v", p.err)
	}
	cancel(1)
	if ce, ok := p.err.(*ConnError); !ok || ce.Code != ErrCodeEnhanceYourCalm {
		t.Fatalf("past the bucket: %v", p.err)
	}
}
