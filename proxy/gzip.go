//go:build linux

package proxy

import (
	"bytes"
	"compress/gzip"
	"strconv"

	"github.com/nproxy/nproxy/config"
	"github.com/nproxy/nproxy/http"
	"github.com/nproxy/nproxy/reactor"
)

// gzip = on for proxied responses, as nginx's gzip filter: a response is
// compressed on its way to the client when the client accepts gzip, its
// status is 200, 403 or 404, the backend did not encode it already
// (Content-Encoding), it is not a part (Content-Range), it announces no
// trailer fields (Trailer), its type is one
// of gzip_types and its Content-Length, when it has one, is at least
// gzip_min_length. Its Content-Length and Accept-Ranges go (they
// describe the backend's bytes), its ETag becomes weak, Content-Encoding:
// gzip and Vary: Accept-Encoding come, and the body goes chunked
// (close-delimited to an HTTP/1.0 client).
//
// It streams: each read from the backend is compressed and flushed to
// the client as it comes, never the whole body first. Memory is bounded
// per connection and per worker: a compressing session holds one
// compressor (its tables and the compressed bytes not yet in the
// client buffer) from the worker's pool, and the pool has at most
// maxCompressors; a response that finds none free goes out as the
// backend sent it. A response that is not compressed pays one check of
// the head and keeps its splice path.

// maxCompressors bounds the compressors of a worker: a compress/flate
// writer holds about 800 KiB of tables.
const maxCompressors = 16

// gzipFeed bounds the body bytes compressed in one step, so that one
// step's output stays within a client buffer or two.
const gzipFeed = 16 << 10

// Compressors is a worker's pool of gzip compressors for proxied
// responses, shared by its routes (SetCompressors). Loop thread only.
type Compressors struct {
	free []*compressor
	live int
}

// NewCompressors returns an empty pool.
func NewCompressors() *Compressors { return new(Compressors) }

// compressor is one gzip stream: its writer and, as the writer's
// destination, the compressed bytes not yet framed into the client
// buffer.
type compressor struct {
	w      *gzip.Writer
	level  int
	out    []byte
	dirty  bool // bytes written since the last flush
	closed bool // the stream's end is in out
}

// Write collects the writer's output.
func (z *compressor) Write(p []byte) (int, error) {
	z.out = append(z.out, p...)
	return len(p), nil
}

// get returns a compressor at level, or nil when the pool is spent.
func (p *Compressors) get(level int) *compressor {
	var z *compressor
	if n := len(p.free); n > 0 {
		z = p.free[n-1]
		p.free = p.free[:n-1]
	} else if p.live < maxCompressors {
		z = new(compressor)
		p.live++
	} else {
		return nil
	}
	if z.w == nil || z.level != level {
		w, err := gzip.NewWriterLevel(z, level)
		if err != nil {
			w = gzip.NewWriter(z)
		}
		z.w, z.level = w, level
	} else {
		z.w.Reset(z)
	}
	z.out, z.dirty, z.closed = z.out[:0], false, false
	return z
}

// put gives z back.
func (p *Compressors) put(z *compressor) {
	p.free = append(p.free, z)
}

// gzipConfig is a route's gzip settings, read once.
type gzipConfig struct {
	pool  *Compressors
	types [][]byte
	min   int64
	level int
	// headers are the route's add_header lines with Content-Encoding
	// and Vary after them; chunked adds Transfer-Encoding: chunked, for
	// a body the backend did not send chunked.
	headers, chunked http.ExtraHeaders
	hide             []string // hide_header's names, ETag (made weak) and Accept-Ranges
}

// SetCompressors turns gzip = on of h's route on for proxied responses,
// with compressors from p (the worker's pool).
func (h *Handler) SetCompressors(p *Compressors) {
	cfg := h.cfg
	if !cfg.Gzip || p == nil {
		return
	}
	g := &gzipConfig{pool: p, min: cfg.GzipMinLength, level: cfg.GzipLevel}
	if g.level == 0 {
		g.level = gzip.BestSpeed
	}
	types := cfg.GzipTypes
	if types == nil {
		types = config.DefaultGzipTypes
	}
	for _, t := range types {
		g.types = append(g.types, []byte(t))
	}
	for _, e := range []*http.ExtraHeaders{&g.headers, &g.chunked} {
		for _, a := range cfg.AddHeaders {
			e.AddValue(a.Name, a.Vars, a.Always)
		}
		e.Add("Content-Encoding", "gzip", true)
		e.Add("Vary", "Accept-Encoding", true)
	}
	g.chunked.Add("Transfer-Encoding", "chunked", true)
	g.hide = append(append(g.hide, cfg.HideHeaders...), "etag", "accept-ranges")
	h.gzip = g
}

// startGzip decides, from the backend's head h (with the mode and
// framing readHead chose), whether the response is compressed, and
// takes a compressor if so.
func (s *session) startGzip(h *respHead) {
	g := s.h.gzip
	if !s.acceptGzip || h.status != 200 && h.status != 403 && h.status != 404 {
		return
	}
	switch s.mode {
	case modeLength:
		if s.respLeft < g.min || s.respLeft == 0 {
			return
		}
	case modeChunked, modeClose:
	case modeNone:
		// A HEAD gets the head its GET would get, as nginx's: the
		// backend's Content-Length, when it sends one, is the GET's.
		if !s.headReq || h.contentLength >= 0 && (h.contentLength < g.min || h.contentLength == 0) {
			return
		}
	default:
		return
	}
	r, buf := &h.head, s.rbuf
	if v, ok := r.Header(buf, "Content-Encoding"); ok && len(bytes.TrimSpace(v)) > 0 {
		return
	}
	if _, ok := r.Header(buf, "Content-Range"); ok {
		return
	}
	if _, ok := r.Header(buf, "Trailer"); ok {
		// Trailer fields follow the backend's chunked body, which
		// compression re-frames without them: a response that announces
		// some goes out as sent, its trailers with it (HTTP/2 carries
		// them as a trailing HEADERS frame).
		return
	}
	ct, ok := r.Header(buf, "Content-Type")
	if !ok || !g.typeMatches(ct) {
		return
	}
	if s.headReq {
		// No body to compress, so no compressor and no chunked
		// framing (nginx sends neither Transfer-Encoding nor
		// Content-Length on such a HEAD).
		s.gzHead = true
		h.head.ContentLength, h.contentLength = -1, -1
		return
	}
	z := g.pool.get(g.level)
	if z == nil {
		return
	}
	s.gz = z
	s.spliceBody = false
	h.head.ContentLength, h.contentLength = -1, -1
	s.gzChunk = !s.client10
	if s.client10 {
		s.keepClient = false // the body ends with the connection
	}
}

// typeMatches reports whether a Content-Type value's media type is one
// of gzip_types.
func (g *gzipConfig) typeMatches(ct []byte) bool {
	if i := bytes.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	ct = bytes.TrimSpace(ct)
	for _, t := range g.types {
		if http.EqualFold(ct, string(t)) {
			return true
		}
	}
	return false
}

// respExtra returns the add_header lines of the response being sent,
// with gzip's when it is compressed.
func (s *session) respExtra(upChunked bool) *http.ExtraHeaders {
	switch {
	case s.gzHead:
		return &s.h.gzip.headers
	case s.gz == nil:
		return &s.h.respHeaders
	case s.gzChunk && !upChunked:
		return &s.h.gzip.chunked
	default:
		return &s.h.gzip.headers
	}
}

// respHide returns the hide_header names of the response being sent.
func (s *session) respHide() []string {
	if s.gz == nil && !s.gzHead {
		return s.h.cfg.HideHeaders
	}
	return s.h.gzip.hide
}

// appendWeakETag puts the backend's ETag, made weak, at the end of the
// client's head in dst (before its blank line): a compressed body is not
// the backend's bytes, but it means the same (nginx does the same).
func appendWeakETag(dst, upHead []byte, h *respHead) []byte {
	v, ok := h.head.Header(upHead, "ETag")
	if !ok || len(v) == 0 || len(dst) < 2 {
		return dst
	}
	dst = append(dst[:len(dst)-2], "ETag: "...)
	if !bytes.HasPrefix(v, []byte("W/")) {
		dst = append(dst, "W/"...)
	}
	dst = append(dst, v...)
	return append(dst, "\r\n\r\n"...)
}

// gzipMove is moveBody for a compressed response: it compresses up to
// gzipFeed body bytes from rbuf (flushing when rbuf is drained, so that
// the client gets what the backend sent so far; closing the stream at
// the body's end) and frames what the compressor made into cbuf as far
// as it has room; once the stream's end is out it queues the last chunk
// and gives the compressor back.
func (s *session) gzipMove() {
	z := s.gz
	if len(z.out) == 0 && !z.closed {
		if len(s.rbuf) > 0 && (!s.respDone || s.mode == modeClose) {
			s.gzipFeed(z)
			if s.cl == nil {
				return
			}
		}
		switch {
		case s.respDone && len(s.rbuf) == 0:
			z.w.Close()
			z.closed = true
		case len(s.rbuf) == 0 && z.dirty:
			z.w.Flush()
			z.dirty = false
		}
	}
	if s.cbuf == nil {
		s.cbuf = s.loop().GetBuf(reactor.LargeBuf)
	}
	before := len(s.cbuf)
	if room := cap(s.cbuf) - len(s.cbuf) - 16; room > 0 && len(z.out) > 0 {
		n := min(room, len(z.out))
		if s.gzChunk {
			s.cbuf = strconv.AppendInt(s.cbuf, int64(n), 16)
			s.cbuf = append(s.cbuf, "\r\n"...)
		}
		s.cbuf = append(s.cbuf, z.out[:n]...)
		if s.gzChunk {
			s.cbuf = append(s.cbuf, "\r\n"...)
		}
		z.out = z.out[:copy(z.out, z.out[n:])]
	}
	if z.closed && len(z.out) == 0 && cap(s.cbuf)-len(s.cbuf) >= 5 {
		if s.gzChunk {
			s.cbuf = append(s.cbuf, "0\r\n\r\n"...)
		}
		s.endGzip()
	}
	s.bodyOut += int64(len(s.cbuf) - before)
}

// gzipFeed compresses up to gzipFeed body bytes of rbuf, within the
// framing, and sets respDone at the body's end.
func (s *session) gzipFeed(z *compressor) {
	switch s.mode {
	case modeLength, modeClose:
		n := min(len(s.rbuf), gzipFeed)
		if s.mode == modeLength {
			n = int(min(int64(n), s.respLeft))
			s.respLeft -= int64(n)
			s.respDone = s.respLeft == 0
		}
		z.w.Write(s.rbuf[:n])
		s.consumeR(n)
		z.dirty = z.dirty || n > 0
	case modeChunked:
		if !s.takeChunks(s.rbuf, gzipFeed, chunkGzip) {
			return
		}
	}
	s.dropAfterResponse()
}

// gzipPending reports whether compressed bytes wait to go into cbuf.
func (s *session) gzipPending() bool {
	return s.gz != nil && (len(s.gz.out) > 0 || s.gz.closed || s.respDone)
}

// endGzip gives the session's compressor back.
func (s *session) endGzip() {
	if s.gz != nil {
		s.h.gzip.pool.put(s.gz)
		s.gz = nil
	}
}
