//go:build linux

package http2

import (
	"strconv"
	"strings"
	"testing"

	xhttp2 "golang.org/x/net/http2"
)

// TestErrors drives each rule of RFC 9113 that a client can break and
// checks the answer: a GOAWAY with the connection error's code, or a
// RST_STREAM with the stream error's code after which the connection
// still serves (a PING after the frames must be answered).
func TestErrors(t *testing.T) {
	h := func(kv ...string) []string { return kv }
	get := h(":method", "GET", ":scheme", "https", ":authority", "a", ":path", "/")
	tests := []struct {
		name string
		cfg  *Config
		raw  bool // no preface and SETTINGS first
		send func(p *peer)
		conn ErrCode // connection error expected (GOAWAY), if stream == 0
		// stream and rst: a RST_STREAM expected on stream with code rst.
		stream uint32
		rst    ErrCode
	}{
		// Connection errors.
		{name: "bad preface", raw: true, conn: ErrCodeProtocol,
			send: func(p *peer) { p.in.WriteString("GET / HTTP/1.1\r\nHost: a\r\n\r\n") }},
		{name: "first frame not SETTINGS", raw: true, conn: ErrCodeProtocol,
			send: func(p *peer) { p.in.WriteString(Preface); p.fr.WritePing(false, [8]byte{}) }},
		{name: "DATA on stream 0", conn: ErrCodeProtocol,
			send: func(p *peer) { p.fr.WriteData(0, true, []byte("x")) }},
		{name: "DATA on idle stream", conn: ErrCodeProtocol,
			send: func(p *peer) { p.fr.WriteData(1, true, []byte("x")) }},
		{name: "HEADERS on even stream", conn: ErrCodeProtocol,
			send: func(p *peer) { p.headers(2, true, get...) }},
		{name: "HEADERS on stream 0", conn: ErrCodeProtocol,
			send: func(p *peer) { p.headers(0, true, get...) }},
		{name: "stream id going down", conn: ErrCodeProtocol,
			send: func(p *peer) { p.headers(5, true, get...); p.headers(3, true, get...) }},
		{name: "frame over max frame size", conn: ErrCodeFrameSize,
			send: func(p *peer) { p.post(1); p.fr.WriteData(1, false, make([]byte, 16385)) }},
		{name: "PING length 7", conn: ErrCodeFrameSize,
			send: func(p *peer) { p.fr.WriteRawFrame(xhttp2.FramePing, 0, 0, make([]byte, 7)) }},
		{name: "PING on a stream", conn: ErrCodeProtocol,
			send: func(p *peer) { p.fr.WriteRawFrame(xhttp2.FramePing, 0, 1, make([]byte, 8)) }},
		{name: "SETTINGS length 5", conn: ErrCodeFrameSize,
			send: func(p *peer) { p.fr.WriteRawFrame(xhttp2.FrameSettings, 0, 0, make([]byte, 5)) }},
		{name: "SETTINGS ACK with payload", conn: ErrCodeFrameSize,
			send: func(p *peer) { p.fr.WriteRawFrame(xhttp2.FrameSettings, 1, 0, make([]byte, 6)) }},
		{name: "SETTINGS on a stream", conn: ErrCodeProtocol,
			send: func(p *peer) { p.fr.WriteRawFrame(xhttp2.FrameSettings, 0, 1, nil) }},
		{name: "SETTINGS initial window 2^31", conn: ErrCodeFlowControl,
			send: func(p *peer) { p.fr.WriteSettings(xhttp2.Setting{ID: xhttp2.SettingInitialWindowSize, Val: 1 << 31}) }},
		{name: "SETTINGS max frame size 100", conn: ErrCodeProtocol,
			send: func(p *peer) { p.fr.WriteSettings(xhttp2.Setting{ID: xhttp2.SettingMaxFrameSize, Val: 100}) }},
		{name: "SETTINGS enable push 2", conn: ErrCodeProtocol,
			send: func(p *peer) { p.fr.WriteSettings(xhttp2.Setting{ID: xhttp2.SettingEnablePush, Val: 2}) }},
		{name: "WINDOW_UPDATE 0 on the connection", conn: ErrCodeProtocol,
			send: func(p *peer) { p.fr.WriteWindowUpdate(0, 0) }},
		{name: "connection window overflow", conn: ErrCodeFlowControl,
			send: func(p *peer) { p.fr.WriteWindowUpdate(0, 1<<31-1) }},
		{name: "WINDOW_UPDATE length 3", conn: ErrCodeFrameSize,
			send: func(p *peer) { p.fr.WriteRawFrame(xhttp2.FrameWindowUpdate, 0, 0, make([]byte, 3)) }},
		{name: "WINDOW_UPDATE on idle stream", conn: ErrCodeProtocol,
			send: func(p *peer) { p.fr.WriteWindowUpdate(7, 1) }},
		{name: "RST_STREAM on idle stream", conn: ErrCodeProtocol,
			send: func(p *peer) { p.fr.WriteRSTStream(1, xhttp2.ErrCodeCancel) }},
		{name: "RST_STREAM on stream 0", conn: ErrCodeProtocol,
			send: func(p *peer) { p.fr.WriteRSTStream(0, xhttp2.ErrCodeCancel) }},
		{name: "RST_STREAM length 3", conn: ErrCodeFrameSize,
			send: func(p *peer) { p.post(1); p.fr.WriteRawFrame(xhttp2.FrameRSTStream, 0, 1, make([]byte, 3)) }},
		{name: "PUSH_PROMISE from a client", conn: ErrCodeProtocol,
			send: func(p *peer) { p.fr.WriteRawFrame(xhttp2.FramePushPromise, 4, 1, make([]byte, 4)) }},
		{name: "CONTINUATION without HEADERS", conn: ErrCodeProtocol,
			send: func(p *peer) { p.fr.WriteContinuation(1, true, nil) }},
		{name: "PING inside a header block", conn: ErrCodeProtocol,
			send: func(p *peer) {
				p.fr.WriteHeaders(xhttp2.HeadersFrameParam{StreamID: 1, BlockFragment: p.block(get...), EndStream: true})
				p.fr.WritePing(false, [8]byte{})
			}},
		{name: "CONTINUATION on another stream", conn: ErrCodeProtocol,
			send: func(p *peer) {
				p.fr.WriteHeaders(xhttp2.HeadersFrameParam{StreamID: 1, BlockFragment: p.block(get...), EndStream: true})
				p.fr.WriteContinuation(3, true, nil)
			}},
		{name: "HPACK garbage", conn: ErrCodeCompression,
			send: func(p *peer) {
				p.fr.WriteHeaders(xhttp2.HeadersFrameParam{StreamID: 1, BlockFragment: []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, EndStream: true, EndHeaders: true})
			}},
		{name: "HPACK truncated block", conn: ErrCodeCompression,
			send: func(p *peer) {
				p.fr.WriteHeaders(xhttp2.HeadersFrameParam{StreamID: 1, BlockFragment: []byte{0x40, 0x05, 'a'}, EndStream: true, EndHeaders: true})
			}},
		{name: "DATA padding past the payload", conn: ErrCodeProtocol,
			send: func(p *peer) { p.post(1); p.fr.WriteRawFrame(xhttp2.FrameData, 0x8, 1, []byte{5, 'a'}) }},
		{name: "DATA past the connection window", conn: ErrCodeFlowControl,
			cfg: &Config{ConnWindow: defaultWindow},
			send: func(p *peer) {
				p.post(1)
				for range 4 {
					p.fr.WriteData(1, false, make([]byte, 16384))
				}
			}},
		{name: "header block over the limit", conn: ErrCodeEnhanceYourCalm,
			cfg:  &Config{MaxHeaderBlock: 64},
			send: func(p *peer) { p.get(1, "/", "x-long", strings.Repeat("v", 100)) }},
		{name: "CONTINUATION flood", conn: ErrCodeEnhanceYourCalm,
			send: func(p *peer) {
				p.fr.WriteHeaders(xhttp2.HeadersFrameParam{StreamID: 1, BlockFragment: p.block(get...), EndStream: true})
				for range maxContinuations + 1 {
					p.fr.WriteContinuation(1, false, nil)
				}
			}},
		{name: "PING flood", conn: ErrCodeEnhanceYourCalm,
			cfg: &Config{MaxQueuedControl: 10},
			send: func(p *peer) {
				for range 11 {
					p.fr.WritePing(false, [8]byte{})
				}
			}},
		{name: "SETTINGS flood", conn: ErrCodeEnhanceYourCalm,
			cfg: &Config{MaxQueuedControl: 10},
			send: func(p *peer) {
				for range 11 {
					p.fr.WriteSettings()
				}
			}},
		{name: "rapid reset", conn: ErrCodeEnhanceYourCalm,
			cfg: &Config{ResetBurst: 10, ResetRate: 1},
			send: func(p *peer) {
				for i := uint32(1); i < 2*12; i += 2 {
					p.post(i)
					p.fr.WriteRSTStream(i, xhttp2.ErrCodeCancel)
				}
			}},
		{name: "empty DATA flood", conn: ErrCodeEnhanceYourCalm,
			cfg: &Config{ResetBurst: 10, ResetRate: 1},
			send: func(p *peer) {
				p.post(1)
				for range 11 {
					p.fr.WriteData(1, false, nil)
				}
			}},

		// Stream errors: malformed requests (RFC 9113 §8).
		{name: "uppercase field name", stream: 1, rst: ErrCodeProtocol,
			send: func(p *peer) { p.get(1, "/", "X-Up", "1") }},
		{name: "connection field", stream: 1, rst: ErrCodeProtocol,
			send: func(p *peer) { p.get(1, "/", "connection", "close") }},
		{name: "transfer-encoding field", stream: 1, rst: ErrCodeProtocol,
			send: func(p *peer) { p.get(1, "/", "transfer-encoding", "chunked") }},
		{name: "te other than trailers", stream: 1, rst: ErrCodeProtocol,
			send: func(p *peer) { p.get(1, "/", "te", "gzip") }},
		{name: "missing :path", stream: 1, rst: ErrCodeProtocol,
			send: func(p *peer) { p.headers(1, true, ":method", "GET", ":scheme", "https") }},
		{name: "missing :method", stream: 1, rst: ErrCodeProtocol,
			send: func(p *peer) { p.headers(1, true, ":scheme", "https", ":path", "/") }},
		{name: "empty :path", stream: 1, rst: ErrCodeProtocol,
			send: func(p *peer) { p.headers(1, true, ":method", "GET", ":scheme", "https", ":path", "") }},
		{name: ":path not absolute", stream: 1, rst: ErrCodeProtocol,
			send: func(p *peer) { p.get(1, "foo") }},
		{name: ":path with a space", stream: 1, rst: ErrCodeProtocol,
			send: func(p *peer) { p.get(1, "/a b") }},
		{name: "pseudo field after a regular one", stream: 1, rst: ErrCodeProtocol,
			send: func(p *peer) { p.headers(1, true, ":method", "GET", "accept", "*/*", ":scheme", "https", ":path", "/") }},
		{name: "repeated :method", stream: 1, rst: ErrCodeProtocol,
			send: func(p *peer) {
				p.headers(1, true, ":method", "GET", ":method", "GET", ":scheme", "https", ":path", "/")
			}},
		{name: "unknown pseudo field", stream: 1, rst: ErrCodeProtocol,
			send: func(p *peer) { p.get(1, "/", ":foo", "x") }},
		{name: ":status in a request", stream: 1, rst: ErrCodeProtocol,
			send: func(p *peer) {
				p.headers(1, true, ":status", "200", ":method", "GET", ":scheme", "https", ":path", "/")
			}},
		{name: "CONNECT with :path", stream: 1, rst: ErrCodeProtocol,
			send: func(p *peer) { p.headers(1, true, ":method", "CONNECT", ":authority", "a:443", ":path", "/") }},
		{name: "userinfo in :authority", stream: 1, rst: ErrCodeProtocol,
			send: func(p *peer) {
				p.headers(1, true, ":method", "GET", ":scheme", "https", ":authority", "u@a", ":path", "/")
			}},
		{name: "value with a leading space", stream: 1, rst: ErrCodeProtocol,
			send: func(p *peer) { p.get(1, "/", "accept", " x") }},
		{name: "value with a newline", stream: 1, rst: ErrCodeProtocol,
			send: func(p *peer) { p.get(1, "/", "accept", "a\nb") }},
		{name: "content-length with END_STREAM", stream: 1, rst: ErrCodeProtocol,
			send: func(p *peer) { p.get(1, "/", "content-length", "5") }},
		{name: "content-length not a number", stream: 1, rst: ErrCodeProtocol,
			send: func(p *peer) { p.post(1, "content-length", "-1") }},
		{name: "content-length conflicting", stream: 1, rst: ErrCodeProtocol,
			send: func(p *peer) { p.post(1, "content-length", "1", "content-length", "2") }},
		{name: "DATA short of content-length", stream: 1, rst: ErrCodeProtocol,
			send: func(p *peer) { p.post(1, "content-length", "5"); p.fr.WriteData(1, true, []byte("abc")) }},
		{name: "DATA past content-length", stream: 1, rst: ErrCodeProtocol,
			send: func(p *peer) { p.post(1, "content-length", "2"); p.fr.WriteData(1, false, []byte("abc")) }},
		{name: "DATA after END_STREAM", stream: 1, rst: ErrCodeStreamClosed,
			send: func(p *peer) { p.post(1); p.fr.WriteData(1, true, nil); p.fr.WriteData(1, true, []byte("x")) }},
		{name: "trailers without END_STREAM", stream: 1, rst: ErrCodeProtocol,
			send: func(p *peer) { p.post(1); p.headers(1, false, "x-t", "1") }},
		{name: "pseudo field in trailers", stream: 1, rst: ErrCodeProtocol,
			send: func(p *peer) { p.post(1); p.headers(1, true, ":path", "/") }},
		{name: "DATA past the stream window", stream: 1, rst: ErrCodeFlowControl,
			cfg: &Config{StreamWindow: defaultWindow},
			send: func(p *peer) {
				p.post(1)
				for range 4 {
					p.fr.WriteData(1, false, make([]byte, 16384))
				}
			}},
		{name: "WINDOW_UPDATE 0 on a stream", stream: 1, rst: ErrCodeProtocol,
			send: func(p *peer) { p.post(1); p.fr.WriteWindowUpdate(1, 0) }},
		{name: "stream window overflow", stream: 1, rst: ErrCodeFlowControl,
			send: func(p *peer) { p.post(1); p.fr.WriteWindowUpdate(1, 1<<31-1) }},
		{name: "PRIORITY length 4", stream: 3, rst: ErrCodeFrameSize,
			send: func(p *peer) { p.fr.WriteRawFrame(xhttp2.FramePriority, 0, 3, make([]byte, 4)) }},
		{name: "PRIORITY on itself", stream: 3, rst: ErrCodeProtocol,
			send: func(p *peer) { p.fr.WritePriority(3, xhttp2.PriorityParam{StreamDep: 3}) }},
		{name: "HEADERS depending on itself", stream: 1, rst: ErrCodeProtocol,
			send: func(p *peer) {
				p.fr.WriteHeaders(xhttp2.HeadersFrameParam{StreamID: 1, BlockFragment: p.block(get...), EndStream: true, EndHeaders: true,
					Priority: xhttp2.PriorityParam{StreamDep: 1, Weight: 15}})
			}},
		{name: "stream over the concurrency limit", stream: 3, rst: ErrCodeRefusedStream,
			cfg:  &Config{MaxConcurrentStreams: 1},
			send: func(p *peer) { p.post(1); p.post(3) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPeer(t, tt.cfg, tt.raw)
			tt.send(p)
			if tt.stream != 0 {
				p.fr.WritePing(false, [8]byte{'a', 'l', 'i', 'v', 'e'})
			}
			lines := p.flush()
			if tt.stream == 0 {
				want := "GOAWAY last="
				last := lastLine(lines)
				if !strings.HasPrefix(last, want) || !strings.HasSuffix(last, " "+tt.conn.String()) {
					t.Fatalf("want a GOAWAY with %s last, got %q", tt.conn, lines)
				}
				ce, ok := p.err.(*ConnError)
				if !ok || ce.Code != tt.conn {
					t.Fatalf("Feed error %v, want a ConnError %s", p.err, tt.conn)
				}
				if !p.c.Done() {
					t.Error("Done is false after a connection error")
				}
				return
			}
			if p.err != nil {
				t.Fatalf("Feed: %v (frames %q)", p.err, lines)
			}
			want := "RST_STREAM " + itoa(tt.stream) + " " + tt.rst.String()
			found := false
			for _, l := range lines {
				found = found || l == want
			}
			if !found || !strings.HasPrefix(lastLine(lines), "PING ack=true") {
				t.Fatalf("want %q and a PING ack after it, got %q", want, lines)
			}
			for _, e := range p.rec.events {
				if strings.HasPrefix(e, "request ") && !strings.Contains(e, "/upload") {
					t.Errorf("malformed request reached the handler: %s", e)
				}
			}
		})
	}
}

func itoa(n uint32) string { return strconv.FormatUint(uint64(n), 10) }
