//go:build linux

package static

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nproxy/nproxy/config"
	"github.com/nproxy/nproxy/http"
)

// etagOf is the ETag of a tree file of size bytes.
func etagOf(size int) string { return fmt.Sprintf(`"%x-%x"`, mtime.Unix(), size) }

var lastMod = mtime.Format(http.TimeFormat)

// serveCase is one request and what must come back.
type serveCase struct {
	name    string
	method  string // GET (default), HEAD, POST or OTHER
	path    string // may carry "?query"
	hdrs    []string
	status  int
	length  int64    // checked when status is 200 or 206 (-1 for 304)
	headers []string // lines that must be present, without CRLF
	absent  []string // header names that must not be present
	body    string   // checked when status is 200, 206 or 304
	kind    http.BodyKind
}

var methods = map[string]http.Method{
	"": http.MethodGet, "GET": http.MethodGet, "HEAD": http.MethodHead,
	"POST": http.MethodPost, "OTHER": http.MethodOther,
}

// runCases serves every case with both the openat2 path and the openat
// fallback.
func runCases(t *testing.T, try []string, cases []serveCase) {
	runCasesOn(t, makeTree(t), try, cases)
}

func runCasesOn(t *testing.T, root string, try []string, cases []serveCase) {
	for _, mode := range []string{"openat2", "fallback"} {
		h := newHandler(t, root, try, mode == "fallback")
		if mode == "openat2" && !h.openat2 {
			t.Log("openat2 unavailable here; both modes use the fallback")
		}
		for _, c := range cases {
			t.Run(mode+"/"+c.name, func(t *testing.T) {
				checkCase(t, h, c)
			})
		}
	}
}

func checkCase(t *testing.T, h *Handler, c serveCase) {
	t.Helper()
	x := exchange(methods[c.method], c.path, c.hdrs...)
	if !h.Serve(x) {
		t.Fatal("Serve returned false")
	}
	res := read(t, x)
	if res.status != c.status {
		t.Fatalf("status %d, want %d; header:\n%s", res.status, c.status, res.header)
	}
	for _, line := range c.headers {
		if !strings.Contains(res.header, line+"\r\n") {
			t.Errorf("header lacks %q:\n%s", line, res.header)
		}
	}
	for _, name := range c.absent {
		if strings.Contains(res.header, name+":") {
			t.Errorf("header has %s:\n%s", name, res.header)
		}
	}
	switch c.status {
	case 200, 206, 304:
		if res.body != c.body {
			t.Errorf("body %q, want %q", trunc(res.body), trunc(c.body))
		}
		want := c.length
		if c.status == 304 {
			want = -1
		}
		if res.length != want {
			t.Errorf("ContentLength %d, want %d", res.length, want)
		}
		if res.kind != c.kind {
			t.Errorf("Kind %d, want %d", res.kind, c.kind)
		}
	}
}

func trunc(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

func TestServe(t *testing.T) {
	big := string(bigContent())
	hello := "hello, world\n"
	helloHeaders := []string{"Content-Type: text/plain", "Last-Modified: " + lastMod,
		"ETag: " + etagOf(13), "Accept-Ranges: bytes"}
	notMod := []string{"ETag: " + etagOf(13), "Last-Modified: " + lastMod}
	const bb, bf, bn = http.BodyBytes, http.BodyFile, http.BodyNone
	runCases(t, nil, []serveCase{
		// Plain files.
		{name: "small", path: "/hello.txt", status: 200, length: 13, body: hello, kind: bb, headers: helloHeaders},
		{name: "head", method: "HEAD", path: "/hello.txt", status: 200, length: 13, body: hello, kind: bb, headers: helloHeaders},
		{name: "html", path: "/page.html", status: 200, length: 12, body: "<p>page</p>\n", kind: bb, headers: []string{"Content-Type: text/html"}},
		{name: "ext case", path: "/style.CSS", status: 200, length: 4, body: "p{}\n", kind: bb, headers: []string{"Content-Type: text/css"}},
		{name: "no ext", path: "/noext", status: 200, length: 3, body: "raw", kind: bb, headers: []string{"Content-Type: application/octet-stream"}},
		{name: "empty", path: "/empty.txt", status: 200, length: 0, body: "", kind: bb, headers: []string{"ETag: " + etagOf(0)}},
		{name: "large", path: "/big.bin", status: 200, length: bigSize, body: big, kind: bf, headers: []string{"ETag: " + etagOf(bigSize), "Accept-Ranges: bytes"}},
		{name: "large head", method: "HEAD", path: "/big.bin", status: 200, length: bigSize, body: big, kind: bf},

		// Methods.
		{name: "post", method: "POST", path: "/hello.txt", status: 405, headers: []string{"Allow: GET, HEAD"}},
		{name: "other method", method: "OTHER", path: "/missing", status: 405, headers: []string{"Allow: GET, HEAD"}},

		// Directories and index.
		{name: "root index", path: "/", status: 200, length: 12, body: "<p>home</p>\n", kind: bb},
		{name: "sub index", path: "/sub/", status: 200, length: 17, body: "<p>sub index</p>\n", kind: bb, headers: []string{"Content-Type: text/html"}},
		{name: "dir redirect", path: "/sub", status: 301, headers: []string{"Location: /sub/"}, absent: []string{"ETag"}},
		{name: "dir redirect query", path: "/sub?a=1&b", status: 301, headers: []string{"Location: /sub/?a=1&b"}},
		{name: "dir redirect escaped", path: "/a b", status: 301, headers: []string{"Location: /a%20b/"}},
		{name: "dir no index", path: "/noindex/", status: 403},
		{name: "dir no index redirect", path: "/noindex", status: 301, headers: []string{"Location: /noindex/"}},
		{name: "file in dir no index", path: "/noindex/a.txt", status: 200, length: 2, body: "a\n", kind: bb},
		{name: "missing", path: "/missing", status: 404},
		{name: "missing dir", path: "/missing/", status: 404},
		{name: "file as dir", path: "/hello.txt/", status: 404},
		{name: "under file", path: "/hello.txt/x", status: 404},

		// Symlinks and special files.
		// The type comes from the requested name, as in nginx.
		{name: "symlink inside", path: "/link-in", status: 200, length: 13, body: hello, kind: bb, headers: []string{"Content-Type: application/octet-stream", "ETag: " + etagOf(13)}},
		{name: "dir symlink inside", path: "/linkdir/", status: 200, length: 17, body: "<p>sub index</p>\n", kind: bb},
		{name: "through dir symlink", path: "/linkdir/other.txt", status: 200, length: 6, body: "other\n", kind: bb},
		{name: "symlink outside relative", path: "/link-out", status: 404},
		{name: "symlink outside absolute", path: "/link-abs", status: 404},
		{name: "symlink to parent", path: "/link-up/outside/secret.txt", status: 404},
		{name: "fifo", path: "/fifo", status: 404},

		// Traversal and malformed paths.
		{name: "dotdot", path: "/../outside/secret.txt", status: 400},
		{name: "dotdot inner", path: "/a/../../x", status: 400},
		{name: "dotdot end", path: "/sub/..", status: 400},
		{name: "dot", path: "/sub/./index.html", status: 400},
		{name: "nul", path: "/hello.txt\x00.png", status: 400},
		{name: "relative", path: "hello.txt", status: 400},
		{name: "empty path", path: "", status: 400},
		{name: "dots in name", path: "/..hello", status: 404},

		// Conditional requests.
		{name: "inm", path: "/hello.txt", hdrs: []string{"If-None-Match: " + etagOf(13)}, status: 304, kind: bn, headers: notMod, absent: []string{"Content-Type", "Accept-Ranges"}},
		{name: "inm weak", path: "/hello.txt", hdrs: []string{"If-None-Match: W/" + etagOf(13)}, status: 304, kind: bn, headers: notMod},
		{name: "inm list", path: "/hello.txt", hdrs: []string{`If-None-Match: "x", W/"y",` + etagOf(13)}, status: 304, kind: bn},
		{name: "inm star", path: "/hello.txt", hdrs: []string{"If-None-Match: *"}, status: 304, kind: bn},
		{name: "inm other", path: "/hello.txt", hdrs: []string{`If-None-Match: "x"`}, status: 200, length: 13, body: hello, kind: bb},
		{name: "inm other beats ims", path: "/hello.txt", hdrs: []string{`If-None-Match: "x"`, "If-Modified-Since: " + lastMod}, status: 200, length: 13, body: hello, kind: bb},
		{name: "inm large", path: "/big.bin", hdrs: []string{"If-None-Match: " + etagOf(bigSize)}, status: 304, kind: bn},
		{name: "ims equal", path: "/hello.txt", hdrs: []string{"If-Modified-Since: " + lastMod}, status: 304, kind: bn, headers: notMod},
		{name: "ims later", path: "/hello.txt", hdrs: []string{"If-Modified-Since: Thu, 07 Nov 2024 00:00:00 GMT"}, status: 304, kind: bn},
		{name: "ims rfc850 later", path: "/hello.txt", hdrs: []string{"If-Modified-Since: Thursday, 07-Nov-24 00:00:00 GMT"}, status: 304, kind: bn},
		{name: "ims earlier", path: "/hello.txt", hdrs: []string{"If-Modified-Since: Wed, 06 Nov 2024 08:49:36 GMT"}, status: 200, length: 13, body: hello, kind: bb},
		{name: "ims garbage", path: "/hello.txt", hdrs: []string{"If-Modified-Since: yesterday"}, status: 200, length: 13, body: hello, kind: bb},

		// Ranges.
		{name: "range a-b", path: "/hello.txt", hdrs: []string{"Range: bytes=0-4"}, status: 206, length: 5, body: "hello", kind: bb, headers: []string{"Content-Range: bytes 0-4/13", "ETag: " + etagOf(13)}},
		{name: "range a-", path: "/hello.txt", hdrs: []string{"Range: bytes=7-"}, status: 206, length: 6, body: "world\n", kind: bb, headers: []string{"Content-Range: bytes 7-12/13"}},
		{name: "range suffix", path: "/hello.txt", hdrs: []string{"Range: bytes=-6"}, status: 206, length: 6, body: "world\n", kind: bb, headers: []string{"Content-Range: bytes 7-12/13"}},
		{name: "range suffix too long", path: "/hello.txt", hdrs: []string{"Range: bytes=-100"}, status: 206, length: 13, body: hello, kind: bb, headers: []string{"Content-Range: bytes 0-12/13"}},
		{name: "range past end clamped", path: "/hello.txt", hdrs: []string{"Range: bytes=10-999"}, status: 206, length: 3, body: "ld\n", kind: bb, headers: []string{"Content-Range: bytes 10-12/13"}},
		{name: "range large", path: "/big.bin", hdrs: []string{"Range: bytes=65536-65545"}, status: 206, length: 10, body: big[65536:65546], kind: bf, headers: []string{fmt.Sprintf("Content-Range: bytes 65536-65545/%d", bigSize)}},
		{name: "range unsatisfiable", path: "/hello.txt", hdrs: []string{"Range: bytes=13-"}, status: 416, headers: []string{"Content-Range: bytes */13"}, absent: []string{"ETag"}},
		{name: "range suffix zero", path: "/hello.txt", hdrs: []string{"Range: bytes=-0"}, status: 416, headers: []string{"Content-Range: bytes */13"}},
		{name: "range empty file", path: "/empty.txt", hdrs: []string{"Range: bytes=0-"}, status: 416, headers: []string{"Content-Range: bytes */0"}},
		{name: "range multi", path: "/hello.txt", hdrs: []string{"Range: bytes=0-1, 3-4"}, status: 200, length: 13, body: hello, kind: bb, absent: []string{"Content-Range"}},
		{name: "range malformed", path: "/hello.txt", hdrs: []string{"Range: bytes=5-2"}, status: 200, length: 13, body: hello, kind: bb, absent: []string{"Content-Range"}},
		{name: "range other unit", path: "/hello.txt", hdrs: []string{"Range: items=0-1"}, status: 200, length: 13, body: hello, kind: bb},
		{name: "if-range etag", path: "/hello.txt", hdrs: []string{"Range: bytes=0-4", "If-Range: " + etagOf(13)}, status: 206, length: 5, body: "hello", kind: bb},
		{name: "if-range date", path: "/hello.txt", hdrs: []string{"Range: bytes=0-4", "If-Range: " + lastMod}, status: 206, length: 5, body: "hello", kind: bb},
		{name: "if-range stale", path: "/hello.txt", hdrs: []string{"Range: bytes=0-4", `If-Range: "old"`}, status: 200, length: 13, body: hello, kind: bb},
		{name: "if-range weak", path: "/hello.txt", hdrs: []string{"Range: bytes=0-4", "If-Range: W/" + etagOf(13)}, status: 200, length: 13, body: hello, kind: bb},
		{name: "304 beats range", path: "/hello.txt", hdrs: []string{"Range: bytes=0-4", "If-None-Match: " + etagOf(13)}, status: 304, kind: bn},
	})
}

func TestTryFiles(t *testing.T) {
	spa := "<p>spa</p>\n"
	t.Run("uri dir fallback", func(t *testing.T) {
		runCases(t, []string{"$uri", "$uri/", "/spa/index.html"}, []serveCase{
			{name: "file", path: "/hello.txt", status: 200, length: 13, body: "hello, world\n", kind: http.BodyBytes},
			// $uri/ finds the directory of a path without its slash:
			// redirected as nginx does, so relative links resolve.
			{name: "dir without slash redirected", path: "/sub", status: 301, headers: []string{"Location: /sub/"}},
			{name: "dir with slash", path: "/sub/", status: 200, length: 17, body: "<p>sub index</p>\n", kind: http.BodyBytes},
			{name: "dir without index redirected", path: "/noindex", status: 301, headers: []string{"Location: /noindex/"}},
			{name: "dir without index", path: "/noindex/", status: 403},
			{name: "missing falls back", path: "/app/route", status: 200, length: 11, body: spa, kind: http.BodyBytes, headers: []string{"Content-Type: text/html"}},
			{name: "symlink outside falls back", path: "/link-out", status: 200, length: 11, body: spa, kind: http.BodyBytes},
			{name: "fifo falls back", path: "/fifo", status: 200, length: 11, body: spa, kind: http.BodyBytes},
			{name: "conditional on fallback", path: "/x", hdrs: []string{"If-None-Match: " + etagOf(11)}, status: 304, kind: http.BodyNone},
		})
	})
	t.Run("uri =404", func(t *testing.T) {
		runCases(t, []string{"$uri", "=404"}, []serveCase{
			{name: "file", path: "/hello.txt", status: 200, length: 13, body: "hello, world\n", kind: http.BodyBytes},
			{name: "missing", path: "/missing", status: 404},
			{name: "dir is not a file", path: "/sub", status: 404},
		})
	})
	t.Run("uri.html =410", func(t *testing.T) {
		runCases(t, []string{"$uri", "$uri.html", "=410"}, []serveCase{
			{name: "extensionless", path: "/page", status: 200, length: 12, body: "<p>page</p>\n", kind: http.BodyBytes},
			{name: "missing", path: "/nope", status: 410},
		})
	})
	t.Run("fallback to dir", func(t *testing.T) {
		runCases(t, []string{"$uri", "/sub"}, []serveCase{
			// An internal redirect to a directory without a slash
			// redirects the client, as nginx's static module does.
			{name: "missing", path: "/missing", status: 301, headers: []string{"Location: /sub/"}},
		})
	})
	t.Run("fallback missing", func(t *testing.T) {
		runCases(t, []string{"$uri", "/nothing.html"}, []serveCase{
			{name: "missing", path: "/missing", status: 404},
		})
	})
}

func TestTryFilesCodes(t *testing.T) {
	root := makeTree(t)
	cases := []struct {
		code   int
		length int64
	}{
		{404, int64(len(http.ErrorBody(404)))},
		{503, int64(len(http.ErrorBody(503)))},
		{200, 0},
		{204, -1},
		{304, -1},
	}
	for _, c := range cases {
		t.Run(fmt.Sprint(c.code), func(t *testing.T) {
			h := newHandler(t, root, []string{"$uri", fmt.Sprintf("=%d", c.code)}, false)
			x := exchange(http.MethodGet, "/missing")
			h.Serve(x)
			if x.Resp.Status != c.code || x.Resp.ContentLength != c.length {
				t.Errorf("status %d length %d, want %d %d", x.Resp.Status, x.Resp.ContentLength, c.code, c.length)
			}
		})
	}
}

func TestPermissionDenied(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads every file; EACCES cannot be provoked")
	}
	root := makeTree(t)
	if err := os.Chmod(filepath.Join(root, "hello.txt"), 0); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(root, "noindex"), 0o311); err != nil { // searchable, not listable
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(filepath.Join(root, "noindex"), 0o755) }) // so TempDir can remove it
	runCasesOn(t, root, nil, []serveCase{
		{name: "unreadable file", path: "/hello.txt", status: 403},
		{name: "readable file in unlistable dir", path: "/noindex/a.txt", status: 200, length: 2, body: "a\n", kind: http.BodyBytes},
	})
}

func TestNew(t *testing.T) {
	root := makeTree(t)
	cases := []struct {
		name string
		cfg  config.Server
		want error // nil: success
	}{
		{name: "ok", cfg: config.Server{StaticRoot: root}},
		{name: "no root", cfg: config.Server{}, want: ErrNoRoot},
		{name: "relative", cfg: config.Server{StaticRoot: "root"}, want: ErrRootNotAbsolute},
		{name: "file", cfg: config.Server{StaticRoot: filepath.Join(root, "hello.txt")}, want: ErrRootNotDir},
		{name: "missing", cfg: config.Server{StaticRoot: filepath.Join(root, "nope")}, want: os.ErrNotExist},
		{name: "bad index", cfg: config.Server{StaticRoot: root, Index: []string{"../x"}}, want: ErrBadIndex},
		{name: "one try token", cfg: config.Server{StaticRoot: root, TryFiles: []string{"$uri"}}, want: ErrBadTryFiles},
		{name: "code not last", cfg: config.Server{StaticRoot: root, TryFiles: []string{"=404", "$uri"}}, want: ErrBadTryFiles},
		{name: "bad code", cfg: config.Server{StaticRoot: root, TryFiles: []string{"$uri", "=99"}}, want: ErrBadTryFiles},
		{name: "relative token", cfg: config.Server{StaticRoot: root, TryFiles: []string{"x", "=404"}}, want: ErrBadTryFiles},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, err := New(&c.cfg)
			if c.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if err := h.Close(); err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("err %v, want %v", err, c.want)
			}
		})
	}
}

func TestClosedHandler(t *testing.T) {
	h := newHandler(t, makeTree(t), nil, false)
	h.Close()
	if h.Serve(exchange(http.MethodGet, "/hello.txt")) {
		t.Fatal("a closed Handler answered")
	}
	if err := h.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestIndexOrder(t *testing.T) {
	root := makeTree(t)
	if err := os.WriteFile(filepath.Join(root, "sub", "index.htm"), []byte("htm"), 0o644); err != nil {
		t.Fatal(err)
	}
	h, err := New(&config.Server{StaticRoot: root, Index: []string{"default.html", "index.htm", "index.html"}})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	x := exchange(http.MethodGet, "/sub/")
	h.Serve(x)
	if res := read(t, x); res.status != 200 || res.body != "htm" {
		t.Fatalf("status %d body %q, want the first existing index, index.htm", res.status, res.body)
	}
}

// FuzzServePath checks that no path, however malformed, answers with the
// file outside the root that the tree's symlinks point at, and that Serve
// always answers, with openat2 and with the openat fallback.
func FuzzServePath(f *testing.F) {
	for _, s := range []string{"/hello.txt", "/../outside/secret.txt", "/link-out", "/link-abs",
		"/link-up/outside/secret.txt", "/sub/../../outside/secret.txt", "/linkdir/../link-out", "//outside"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	root := makeTree(f)
	try := []string{"$uri", "$uri/", "/spa/index.html"}
	var handlers [2][]*Handler // by fallback
	for i, fallback := range []bool{false, true} {
		handlers[i] = []*Handler{newHandler(f, root, try, fallback), newHandler(f, root, nil, fallback)}
	}
	f.Fuzz(func(t *testing.T, p string, fallback bool) {
		i := 0
		if fallback {
			i = 1
		}
		for _, h := range handlers[i] {
			x := exchange(http.MethodGet, p)
			if !h.Serve(x) {
				t.Fatal("Serve did not answer")
			}
			if res := read(t, x); strings.Contains(res.body, "secret") {
				t.Fatalf("%q served the file outside the root", p)
			}
		}
	})
}
