//go:build linux

package server

import (
	"bytes"
	"compress/gzip"

	"github.com/nproxy/nproxy/config"
	"github.com/nproxy/nproxy/http"
	"github.com/nproxy/nproxy/reactor"
	"golang.org/x/sys/unix"
)

// Compression of the responses the server makes itself (gzip = on), and
// precompressed files (gzip_static = on). Proxied responses are
// compressed as they stream, by the proxy (proxy/gzip.go).
//
// A response is compressed whole, on the loop thread, when the client
// accepts gzip, its status is 200, its type is one of gzip_types, it is
// at least gzip_min_length and at most maxGzipBody long, and it is not
// encoded already. The worker has one gzip.Writer, reset for each
// response: a compressor holds about 800 KiB of tables, so one per
// connection would cost more than every buffer of an idle server, and
// a response is compressed whole within one call on the loop thread, so
// one at a time is all there ever is. The compressed body goes out of a
// pooled buffer given back when it is sent.

// maxGzipBody bounds what is compressed on the fly: a larger file would
// hold the loop for milliseconds (serve it precompressed: gzip_static).
const maxGzipBody = 256 << 10

// gzipStep holds a route's compression settings.
type gzipStep struct {
	s      *Server
	types  [][]byte
	min    int64
	level  int
	onFly  bool
	static bool
}

func newGzipStep(s *Server, cfg *config.Server) *gzipStep {
	if !cfg.Gzip && !cfg.GzipStatic {
		return nil
	}
	g := &gzipStep{s: s, min: cfg.GzipMinLength, level: cfg.GzipLevel, onFly: cfg.Gzip, static: cfg.GzipStatic}
	for _, t := range cfg.GzipTypes {
		g.types = append(g.types, []byte(t))
	}
	return g
}

// accepts reports whether the request's Accept-Encoding names coding
// with a non-zero q.
func accepts(x *http.Exchange, coding string) bool {
	v, ok := x.Req.Header(x.Buf, "Accept-Encoding")
	return ok && http.AcceptsCoding(v, coding)
}

// variantServer is what gzip_static needs of the static handler.
type variantServer interface {
	ServeVariant(x *http.Exchange, variant, orig []byte) bool
}

// serveStatic tries a precompressed variant of x.Path (FILE.br for a
// client that accepts brotli, then FILE.gz) with st; it reports whether
// it answered.
func (g *gzipStep) serveStatic(x *http.Exchange, st variantServer) bool {
	if m := x.Req.Method; m != http.MethodGet && m != http.MethodHead {
		return false
	}
	s := g.s
	for _, v := range [...]struct{ coding, ext string }{{"br", ".br"}, {"gzip", ".gz"}} {
		if !accepts(x, v.coding) {
			continue
		}
		s.gzPath = append(append(s.gzPath[:0], x.Path...), v.ext...)
		if st.ServeVariant(x, s.gzPath, x.Path) {
			x.Resp.AddHeaderString("Content-Encoding", v.coding)
			x.Resp.AddHeaderString("Vary", "Accept-Encoding")
			return true
		}
	}
	return false
}

// compress compresses x's response in place when it qualifies.
func (g *gzipStep) compress(x *http.Exchange) {
	r := &x.Resp
	if !g.onFly || r.Status != 200 || (r.Kind != http.BodyBytes && r.Kind != http.BodyFile) {
		return
	}
	n := int64(len(r.Body))
	if r.Kind == http.BodyFile {
		n = r.FileLen
	}
	if n < g.min || !g.compressible(r.Header) || headerValue(r.Header, "Content-Encoding") != nil {
		return
	}
	r.AddHeaderString("Vary", "Accept-Encoding")
	if n > maxGzipBody || x.Req.Method == http.MethodHead || !accepts(x, "gzip") {
		return
	}
	s := g.s
	in := r.Body
	if r.Kind == http.BodyFile {
		if cap(s.gzIn) < int(n) {
			s.gzIn = make([]byte, n)
		}
		in = s.gzIn[:n]
		for got := 0; got < len(in); {
			k, err := unix.Pread(r.File, in[got:], r.FileOff+int64(got))
			if err == unix.EINTR {
				continue
			}
			if err != nil || k == 0 {
				return // send it as it is
			}
			got += k
		}
	}
	out, rel := s.gzipBytes(in, g.level)
	if out == nil {
		return
	}
	if r.Release != nil {
		r.Release.Release()
	}
	r.Kind, r.Body, r.ContentLength, r.Release = http.BodyBytes, out, int64(len(out)), rel
	r.File, r.FileOff, r.FileLen = -1, 0, 0
	r.AddHeaderString("Content-Encoding", "gzip")
	weakenETag(r)
}

// compressible reports whether the Content-Type in hdr is one of g's
// types.
func (g *gzipStep) compressible(hdr []byte) bool {
	ct := headerValue(hdr, "Content-Type")
	if i := bytes.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	ct = bytes.TrimSpace(ct)
	for _, t := range g.types {
		if len(ct) == len(t) && http.EqualFoldBytes(ct, t) {
			return true
		}
	}
	return false
}

// headerValue returns the value of the first line of hdr named name, nil
// when there is none.
func headerValue(hdr []byte, name string) []byte {
	for len(hdr) > 0 {
		end := bytes.IndexByte(hdr, '\n')
		line := hdr
		if end >= 0 {
			line, hdr = hdr[:end], hdr[end+1:]
		} else {
			hdr = nil
		}
		k, v, ok := bytes.Cut(line, []byte{':'})
		if ok && http.EqualFold(k, name) {
			return bytes.TrimSpace(bytes.TrimRight(v, "\r"))
		}
	}
	return nil
}

// weakenETag makes a strong ETag weak ("W/"), as nginx does for a
// compressed body: its bytes are not the file's.
func weakenETag(r *http.Response) {
	i := bytes.Index(r.Header, []byte("ETag: \""))
	if i < 0 {
		return
	}
	at := i + len("ETag: ")
	r.Header = append(r.Header, 0, 0)
	copy(r.Header[at+2:], r.Header[at:len(r.Header)-2])
	r.Header[at], r.Header[at+1] = 'W', '/'
}

// gzipBytes compresses in into a pooled buffer and returns it with the
// releaser that gives it back; nil when the result would not fit one.
func (s *Server) gzipBytes(in []byte, level int) ([]byte, http.Releaser) {
	if s.gz == nil || s.gzLevel != level {
		w, err := gzip.NewWriterLevel(&s.gzSink, level)
		if err != nil {
			return nil, nil
		}
		s.gz, s.gzLevel = w, level
	}
	s.gzSink.b = s.loop.GetBuf(reactor.LargeBuf)
	s.gz.Reset(&s.gzSink)
	_, err := s.gz.Write(in)
	if err == nil {
		err = s.gz.Close()
	}
	out := s.gzSink.b
	s.gzSink.b = nil
	if err != nil || s.gzSink.full {
		s.gzSink.full = false
		s.loop.PutBuf(out)
		return nil, nil
	}
	var rel *gzBuf
	if n := len(s.gzFree); n > 0 {
		rel = s.gzFree[n-1]
		s.gzFree = s.gzFree[:n-1]
	} else {
		rel = &gzBuf{s: s}
	}
	rel.b = out
	return out, rel
}

// gzSink collects compressed bytes in a fixed buffer; writing past its
// capacity marks it full (the response is then sent uncompressed).
type gzSink struct {
	b    []byte
	full bool
}

func (w *gzSink) Write(p []byte) (int, error) {
	if len(w.b)+len(p) > cap(w.b) {
		w.full = true
		return len(p), nil
	}
	w.b = append(w.b, p...)
	return len(p), nil
}

// gzBuf gives a compressed body's buffer back to the loop's pool once the
// response is sent or abandoned.
type gzBuf struct {
	s *Server
	b []byte
}

func (g *gzBuf) Release() {
	g.s.loop.PutBuf(g.b)
	g.b = nil
	g.s.gzFree = append(g.s.gzFree, g)
}
