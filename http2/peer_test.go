//go:build linux

package http2

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/nproxy/nproxy/http"
	xhttp2 "golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// peer is a scripted client for table tests: it writes frames with x/net's
// Framer (the reference implementation, illegal frames allowed), feeds
// them to a Conn, and reads what the Conn sent back with another Framer,
// summarized as one line per frame.
type peer struct {
	t   testing.TB
	c   *Conn
	rec *recorder

	in   bytes.Buffer // frames for the Conn
	fr   *xhttp2.Framer
	enc  *hpack.Encoder
	hbuf bytes.Buffer

	outBuf bytes.Buffer // what the Conn sent, not read yet
	rfr    *xhttp2.Framer
	err    error // the last Feed's
}

// newPeer returns a peer whose Conn has cfg; the preface and an empty
// SETTINGS are queued (not fed) unless raw.
func newPeer(t testing.TB, cfg *Config, raw bool) *peer {
	p := &peer{t: t, rec: &recorder{}}
	p.c = NewConn(p.rec, cfg)
	p.rec.c = p.c
	p.fr = xhttp2.NewFramer(&p.in, nil)
	p.fr.AllowIllegalWrites = true
	p.enc = hpack.NewEncoder(&p.hbuf)
	p.rfr = xhttp2.NewFramer(nil, &p.outBuf)
	p.rfr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	p.rfr.MaxHeaderListSize = 1 << 20
	if !raw {
		p.in.WriteString(Preface)
		p.fr.WriteSettings()
	}
	return p
}

// flush feeds what was written and collects the output as frame lines.
func (p *peer) flush() []string {
	p.err = p.c.Feed(p.in.Bytes())
	p.in.Reset()
	p.outBuf.Write(p.c.Output(nil))
	var lines []string
	for {
		f, err := p.rfr.ReadFrame()
		if err == io.EOF {
			return lines
		}
		if err != nil {
			p.t.Fatalf("reading the Conn's output: %v (after %q)", err, lines)
		}
		lines = append(lines, summarize(f))
	}
}

// block HPACK-encodes name/value pairs.
func (p *peer) block(kv ...string) []byte {
	p.hbuf.Reset()
	for i := 0; i+1 < len(kv); i += 2 {
		p.enc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
	}
	return bytes.Clone(p.hbuf.Bytes())
}

// headers writes a HEADERS frame with the fields kv.
func (p *peer) headers(id uint32, end bool, kv ...string) {
	p.fr.WriteHeaders(xhttp2.HeadersFrameParam{StreamID: id, BlockFragment: p.block(kv...), EndStream: end, EndHeaders: true})
}

// get writes a GET request on stream id.
func (p *peer) get(id uint32, path string, extra ...string) {
	p.headers(id, true, append([]string{":method", "GET", ":scheme", "https", ":authority", "example.com", ":path", path}, extra...)...)
}

// post opens a POST on stream id, its body to follow.
func (p *peer) post(id uint32, extra ...string) {
	p.headers(id, false, append([]string{":method", "POST", ":scheme", "https", ":authority", "example.com", ":path", "/upload"}, extra...)...)
}

// summarize renders one frame the Conn sent.
func summarize(f xhttp2.Frame) string {
	h := f.Header()
	switch f := f.(type) {
	case *xhttp2.SettingsFrame:
		if f.IsAck() {
			return "SETTINGS ACK"
		}
		var b strings.Builder
		b.WriteString("SETTINGS")
		f.ForeachSetting(func(s xhttp2.Setting) error {
			fmt.Fprintf(&b, " %s=%d", s.ID, s.Val)
			return nil
		})
		return b.String()
	case *xhttp2.PingFrame:
		return fmt.Sprintf("PING ack=%v %q", f.IsAck(), f.Data[:])
	case *xhttp2.GoAwayFrame:
		return fmt.Sprintf("GOAWAY last=%d %s", f.LastStreamID, f.ErrCode)
	case *xhttp2.RSTStreamFrame:
		return fmt.Sprintf("RST_STREAM %d %s", h.StreamID, f.ErrCode)
	case *xhttp2.WindowUpdateFrame:
		return fmt.Sprintf("WINDOW_UPDATE %d +%d", h.StreamID, f.Increment)
	case *xhttp2.DataFrame:
		return fmt.Sprintf("DATA %d len=%d end=%v", h.StreamID, len(f.Data()), f.StreamEnded())
	case *xhttp2.MetaHeadersFrame:
		var b strings.Builder
		fmt.Fprintf(&b, "HEADERS %d end=%v", h.StreamID, f.StreamEnded())
		for _, hf := range f.Fields {
			fmt.Fprintf(&b, " %s=%s", hf.Name, hf.Value)
		}
		return b.String()
	}
	return fmt.Sprintf("%s %d", h.Type, h.StreamID)
}

// recorder is a Handler that logs events; respond, when set, answers
// requests.
type recorder struct {
	c        *Conn
	events   []string
	heads    []headCopy
	body     map[uint32][]byte
	consume  bool // Consume body bytes as they arrive
	respond  func(id uint32, h *RequestHead, end bool)
	onData   func(id uint32, p []byte, end bool)
	writable func(id uint32)
}

// headCopy is what a test checks of a RequestHead.
type headCopy struct {
	method, scheme, host, uri, path, query string
	contentLength                          int64
	fields                                 []string
	expect100                              bool
}

func copyHead(h *RequestHead) headCopy {
	r, buf := &h.Req, h.Buf
	hc := headCopy{
		method: string(r.MethodSpan.Bytes(buf)), scheme: string(h.Scheme.Bytes(buf)),
		host: string(r.Host.Bytes(buf)), uri: string(r.URI.Bytes(buf)),
		path: string(r.Path.Bytes(buf)), query: string(r.Query.Bytes(buf)),
		contentLength: r.ContentLength, expect100: r.Expect100,
	}
	for i := 0; i < r.NumHeaders; i++ {
		hc.fields = append(hc.fields, string(r.Headers[i].Name.Bytes(buf))+": "+string(r.Headers[i].Value.Bytes(buf)))
	}
	return hc
}

func (r *recorder) OnRequest(id uint32, h *RequestHead, end bool) {
	r.events = append(r.events, fmt.Sprintf("request %d %s %s end=%v", id, h.Req.MethodSpan.Bytes(h.Buf), h.Req.URI.Bytes(h.Buf), end))
	r.heads = append(r.heads, copyHead(h))
	if r.respond != nil {
		r.respond(id, h, end)
	}
}

func (r *recorder) OnData(id uint32, p []byte, end bool) {
	r.events = append(r.events, fmt.Sprintf("data %d len=%d end=%v", id, len(p), end))
	if r.body == nil {
		r.body = make(map[uint32][]byte)
	}
	r.body[id] = append(r.body[id], p...)
	if r.consume {
		r.c.Consume(id, len(p))
	}
	if r.onData != nil {
		r.onData(id, p, end)
	}
}

func (r *recorder) OnTrailers(id uint32, h *RequestHead) {
	r.events = append(r.events, fmt.Sprintf("trailers %d %v", id, copyHead(h).fields))
}

func (r *recorder) OnReset(id uint32, code ErrCode) {
	r.events = append(r.events, fmt.Sprintf("reset %d %s", id, code))
}

func (r *recorder) OnWritable(id uint32) {
	r.events = append(r.events, fmt.Sprintf("writable %d", id))
	if r.writable != nil {
		r.writable(id)
	}
}

var _ Handler = (*recorder)(nil)

// lastLine returns the last of lines, or "".
func lastLine(lines []string) string {
	if len(lines) == 0 {
		return ""
	}
	return lines[len(lines)-1]
}

// headerSpan is a helper for tests that build http.Request expectations.
func headerSpan(h *RequestHead, name string) string {
	v, _ := h.Req.Header(h.Buf, name)
	return string(v)
}

var _ = http.MaxHeaders
