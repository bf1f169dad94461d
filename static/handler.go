//go:build linux

package static

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nproxy/nproxy/config"
	"github.com/nproxy/nproxy/http"
)

// Handler serves the files under one server's static_root. It belongs to
// one worker loop: Serve and Close must be called on that loop's thread
// only, which is why nothing in it is locked. Each loop has its own
// Handler, hence its own cache and descriptors.
type Handler struct {
	root     int          // O_PATH|O_DIRECTORY descriptor of static_root; -1 once closed
	rootReal string       // the root's path as the kernel resolved it (openat fallback)
	openat2  bool         // openat2 works on this kernel (probed by New)
	how      unix.OpenHow // openat2 arguments, kept here so no call allocates them
	index    []string     // index file names, in order
	try      []tryToken   // parsed try_files; empty when not configured
	cache    cache        // open-file cache
	tryBuf   []byte       // expanded try_files candidate
	idxBuf   []byte       // directory path plus index name

	autoindex   bool          // autoindex = on: list directories without an index
	denyHidden  bool          // hidden_files = deny: dot paths are 404
	sendTimeout time.Duration // send_timeout, for a streamed listing
	dirHow      unix.OpenHow  // openat2 arguments to open a directory for a listing
	pathHow     unix.OpenHow  // openat2 arguments to stat a symlink's target
	list        listLimits    // bounds of directory listings
	streams     int           // listings streaming now (listStream)
}

// tryToken is one try_files token.
type tryToken struct {
	parts []tryPart
	dir   bool // ends in '/': matches a directory, whose index is served
	code  int  // for "=CODE" (last token only); 0 otherwise
}

// tryPart is a literal or the $uri variable.
type tryPart struct {
	lit string
	uri bool
}

// New opens cfg.StaticRoot, keeps its descriptor for the Handler's life
// and prepares the open-file cache. It fails if the root is not set, not
// absolute or not a directory, or if index or try_files are malformed.
func New(cfg *config.Server) (*Handler, error) {
	root := cfg.StaticRoot
	switch {
	case root == "":
		return nil, ErrNoRoot
	case !filepath.IsAbs(root):
		return nil, fmt.Errorf("%w: %q", ErrRootNotAbsolute, root)
	}
	index := cfg.Index
	if len(index) == 0 {
		index = []string{"index.html"}
	}
	for _, name := range index {
		if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
			return nil, fmt.Errorf("%w: %q", ErrBadIndex, name)
		}
	}
	try, err := parseTryFiles(cfg.TryFiles)
	if err != nil {
		return nil, err
	}

	fd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err == unix.ENOTDIR {
		return nil, fmt.Errorf("%w: %q", ErrRootNotDir, root)
	}
	if err != nil {
		return nil, fmt.Errorf("static: static_root %q: %w", root, os.NewSyscallError("open", err))
	}
	real, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	if err != nil {
		real = filepath.Clean(root) // no /proc: the fallback will refuse, see beneathRoot
	}
	h := &Handler{
		root:     fd,
		rootReal: real,
		openat2:  probeOpenat2(fd),
		how:      unix.OpenHow{Flags: openFlags, Resolve: resolveFlags},
		index:    index,
		try:      try,
		tryBuf:   make([]byte, 0, 256),
		idxBuf:   make([]byte, 0, 256),

		autoindex:   cfg.Autoindex,
		denyHidden:  cfg.DenyHidden,
		sendTimeout: cfg.SendTimeout,
		dirHow:      unix.OpenHow{Flags: dirOpenFlags, Resolve: resolveFlags},
		pathHow:     unix.OpenHow{Flags: pathOpenFlags, Resolve: resolveFlags},
		list:        defaultListLimits,
	}
	if h.sendTimeout <= 0 {
		h.sendTimeout = config.DefaultTimeout
	}
	h.cache.init()
	return h, nil
}

// parseTryFiles compiles try_files tokens (nginx syntax, already checked
// by config; checked again because a Server may be built by hand).
func parseTryFiles(tokens []string) ([]tryToken, error) {
	if len(tokens) == 0 {
		return nil, nil
	}
	if len(tokens) < 2 {
		return nil, fmt.Errorf("%w: %q: needs at least two tokens", ErrBadTryFiles, tokens)
	}
	out := make([]tryToken, 0, len(tokens))
	for i, t := range tokens {
		if c, ok := strings.CutPrefix(t, "="); ok {
			n, err := strconv.Atoi(c)
			if i != len(tokens)-1 || err != nil || n < 100 || n > 599 {
				return nil, fmt.Errorf("%w: %q", ErrBadTryFiles, t)
			}
			out = append(out, tryToken{code: n})
			continue
		}
		if !strings.HasPrefix(t, "/") && !strings.HasPrefix(t, "$uri") || strings.Contains(t, "\x00") {
			return nil, fmt.Errorf("%w: %q", ErrBadTryFiles, t)
		}
		tok := tryToken{dir: strings.HasSuffix(t, "/")}
		for rest := t; rest != ""; {
			i := strings.Index(rest, "$uri")
			if i < 0 {
				tok.parts = append(tok.parts, tryPart{lit: rest})
				break
			}
			if i > 0 {
				tok.parts = append(tok.parts, tryPart{lit: rest[:i]})
			}
			tok.parts = append(tok.parts, tryPart{uri: true})
			rest = rest[i+len("$uri"):]
		}
		out = append(out, tok)
	}
	return out, nil
}

// Close releases the cache: every descriptor is closed once no response
// uses it any more, and the root descriptor now. After Close, Serve
// answers nothing and returns false; a second Close does nothing.
func (h *Handler) Close() error {
	if h.root < 0 {
		return nil
	}
	h.cache.clear()
	err := unix.Close(h.root)
	h.root = -1
	if err != nil {
		return os.NewSyscallError("close", err)
	}
	return nil
}

// movedBody is the page sent with a 301, as nginx sends one.
var movedBody = []byte("<html>\r\n<head><title>301 Moved Permanently</title></head>\r\n<body>\r\n" +
	"<center><h1>301 Moved Permanently</h1></center>\r\n<hr><center>nproxy</center>\r\n</body>\r\n</html>\r\n")

// Serve answers x from the files under static_root and reports whether it
// did; it always does, errors included, unless h is closed.
//
// GET and HEAD are served alike (the server drops the body of a HEAD);
// other methods get 405. A response sending from a cached descriptor
// (Kind BodyFile) carries the cache entry as x.Resp.Release, which the
// server must call once the response is sent or abandoned.
//
// On a cache hit for a fresh entry, Serve allocates nothing.
func (h *Handler) Serve(x *http.Exchange) bool {
	if h.root < 0 {
		return false
	}
	r := &x.Resp
	if m := x.Req.Method; m != http.MethodGet && m != http.MethodHead {
		r.Error(405)
		r.AddHeaderString("Allow", "GET, HEAD")
		return true
	}
	if !safePath(x.Path) {
		r.Error(400)
		return true
	}
	if h.denyHidden && hiddenPath(x.Path, len(x.Prefix) == 0) {
		// 404, not 403: the answer must not tell that .git exists.
		r.Error(404)
		return true
	}
	now := x.Now.UnixNano()
	if len(h.try) == 0 {
		h.servePath(x, x.Path, now)
		return true
	}
	h.serveTryFiles(x, now)
	return true
}

// safePath reports whether p is absolute and free of NUL bytes and "." or
// ".." segments. The server normalizes paths before Serve; this is the
// second line of defense (the first that matters being RESOLVE_BENEATH).
func safePath(p []byte) bool {
	if len(p) == 0 || p[0] != '/' {
		return false
	}
	seg := 0 // start of the current segment
	for i := 1; i <= len(p); i++ {
		if i < len(p) && p[i] == 0 {
			return false
		}
		if i == len(p) || p[i] == '/' {
			s := p[seg+1 : i]
			if len(s) == 1 && s[0] == '.' || len(s) == 2 && s[0] == '.' && s[1] == '.' {
				return false
			}
			seg = i
		}
	}
	return true
}

// servePath serves path p as nginx's static and index modules would: a
// file is sent, a directory without a trailing slash is redirected to one,
// a directory with one is answered by its index file.
func (h *Handler) servePath(x *http.Exchange, p []byte, now int64) {
	if p[len(p)-1] == '/' {
		h.serveDir(x, p, now)
		return
	}
	e := h.lookup(p, now)
	switch {
	case e == nil:
		x.Resp.Error(500)
	case e.kind == kindFile:
		h.serveFile(x, e)
	case e.kind == kindDir:
		redirectDir(x, p)
	case e.kind == kindForbidden:
		x.Resp.Error(403)
		x.Cause = http.CauseForbiddenFile
	default:
		x.Resp.Error(404)
	}
}

// serveDir answers directory dir (ending in '/') with its first existing
// index file; without one, with a listing (autoindex = on) or 403 (as
// nginx without autoindex), or 404 when the directory itself does not
// exist.
func (h *Handler) serveDir(x *http.Exchange, dir []byte, now int64) {
	for _, name := range h.index {
		h.idxBuf = append(append(h.idxBuf[:0], dir...), name...)
		e := h.lookup(h.idxBuf, now)
		if e == nil {
			x.Resp.Error(500)
			return
		}
		if e.kind == kindFile {
			h.serveFile(x, e)
			return
		}
	}
	e := h.lookup(dir, now)
	switch {
	case e == nil:
		x.Resp.Error(500)
	case e.kind == kindDir && h.autoindex:
		h.serveListing(x, dir)
	case e.kind == kindDir || e.kind == kindForbidden:
		x.Resp.Error(403)
		x.Cause = http.CauseDirIndex
		if e.kind == kindForbidden {
			x.Cause = http.CauseForbiddenFile
		}
	default:
		x.Resp.Error(404)
	}
}

// serveTryFiles follows nginx's try_files: every token but the last is
// tried in order, a file token matching a regular file and a token ending
// in '/' matching a directory (served by its index); the last token is
// either =CODE, answered as is, or a path served as an internal redirect
// would be (without applying try_files to it again).
func (h *Handler) serveTryFiles(x *http.Exchange, now int64) {
	last := len(h.try) - 1
	for i := range h.try[:last] {
		t := &h.try[i]
		p := h.expand(t, x.Path)
		if !safePath(p) {
			continue
		}
		e := h.lookup(p, now)
		if e == nil {
			x.Resp.Error(500)
			return
		}
		switch {
		case t.dir && e.kind == kindDir:
			if len(p) == len(x.Path)+1 && string(p[:len(x.Path)]) == string(x.Path) {
				// "$uri/" found the directory of a path without its
				// trailing slash: nginx tries the name without the
				// slash, finds a directory and redirects, so relative
				// links in its index resolve under it.
				redirectDir(x, x.Path)
				return
			}
			h.serveDir(x, p, now)
			return
		case !t.dir && e.kind == kindFile:
			h.serveFile(x, e)
			return
		}
	}
	t := &h.try[last]
	if t.code != 0 {
		answerCode(&x.Resp, t.code)
		return
	}
	p := h.expand(t, x.Path)
	if !safePath(p) {
		x.Resp.Error(404)
		return
	}
	h.servePath(x, p, now)
}

// answerCode answers a try_files "=CODE": an error page for 4xx and 5xx
// as nginx, an empty response otherwise (without Content-Length where the
// status forbids a body).
func answerCode(r *http.Response, code int) {
	if code >= 400 {
		r.Error(code)
		return
	}
	r.Status = code
	if code >= 200 && code != 204 && code != 304 {
		r.ContentLength = 0
	}
}

// expand writes token t with $uri replaced by uri into h.tryBuf, merging
// the double slash that "$uri/" makes of a uri already ending in '/'.
func (h *Handler) expand(t *tryToken, uri []byte) []byte {
	b := h.tryBuf[:0]
	for _, part := range t.parts {
		if part.uri {
			b = appendPath(b, uri)
		} else {
			b = appendPath(b, part.lit)
		}
	}
	h.tryBuf = b
	return b
}

// appendPath appends s to b, dropping a leading '/' of s when b already
// ends in one.
func appendPath[S string | []byte](b []byte, s S) []byte {
	if len(b) > 0 && b[len(b)-1] == '/' && len(s) > 0 && s[0] == '/' {
		s = s[1:]
	}
	return append(b, s...)
}

// redirectDir answers a directory requested without its trailing slash
// with 301 to the same path plus '/', keeping the query, as nginx does.
// The path is the request's: x.Prefix, what a location's alias cut from
// it, goes back in front.
func redirectDir(x *http.Exchange, p []byte) {
	r := &x.Resp
	r.SetBody(301, "text/html", movedBody)
	r.Header = append(r.Header, "Location: "...)
	r.Header = http.AppendEscapedPath(r.Header, x.Prefix) // what a location's alias cut
	r.Header = http.AppendEscapedPath(r.Header, p)
	r.Header = append(r.Header, '/')
	if q := x.Req.Query; !q.Empty() {
		r.Header = append(r.Header, '?')
		r.Header = append(r.Header, q.Bytes(x.Buf)...)
	}
	r.Header = append(r.Header, "\r\n"...)
}
