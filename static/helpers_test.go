//go:build linux

package static

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nproxy/nproxy/config"
	"github.com/nproxy/nproxy/http"
)

// t0 is the clock of most tests; files get mtimes before it.
var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// bigSize is above smallFileMax, so big.bin is sent from a descriptor.
const bigSize = 64<<10 + 123

// bigContent is the content of big.bin.
func bigContent() []byte {
	b := make([]byte, bigSize)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}

// mtime is the modification time given to every file of the tree.
var mtime = time.Date(2024, 11, 6, 8, 49, 37, 0, time.UTC)

// makeTree builds:
//
//	outside/secret.txt
//	root/hello.txt, page.html, style.CSS, empty.txt, noext, big.bin
//	root/sub/index.html, root/sub/other.txt
//	root/noindex/a.txt           (directory without index)
//	root/a b/index.html          (a name that needs escaping)
//	root/spa/index.html          (fallback page for try_files)
//	root/link-in -> hello.txt    root/linkdir -> sub
//	root/link-out -> ../outside/secret.txt
//	root/link-abs -> <abs>/outside/secret.txt
//	root/fifo                    (a named pipe)
//
// and returns the root's path.
func makeTree(t testing.TB) string {
	t.Helper()
	base := t.TempDir()
	root := filepath.Join(base, "root")
	files := map[string][]byte{
		"outside/secret.txt":  []byte("secret\n"),
		"root/hello.txt":      []byte("hello, world\n"),
		"root/page.html":      []byte("<p>page</p>\n"),
		"root/style.CSS":      []byte("p{}\n"),
		"root/empty.txt":      {},
		"root/noext":          []byte("raw"),
		"root/big.bin":        bigContent(),
		"root/sub/index.html": []byte("<p>sub index</p>\n"),
		"root/sub/other.txt":  []byte("other\n"),
		"root/noindex/a.txt":  []byte("a\n"),
		"root/a b/index.html": []byte("spaced\n"),
		"root/spa/index.html": []byte("<p>spa</p>\n"),
		"root/index.html":     []byte("<p>home</p>\n"),
	}
	for name, data := range files {
		p := filepath.Join(base, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		"link-in":  "hello.txt",
		"linkdir":  "sub",
		"link-out": "../outside/secret.txt",
		"link-abs": filepath.Join(base, "outside/secret.txt"),
		"link-up":  "..",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := unix.Mkfifo(filepath.Join(root, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

// newHandler makes a Handler on root; fallback forces the openat path
// used on kernels without openat2.
func newHandler(t testing.TB, root string, try []string, fallback bool) *Handler {
	t.Helper()
	h, err := New(&config.Server{StaticRoot: root, Index: []string{"index.html"}, TryFiles: try})
	if err != nil {
		t.Fatal(err)
	}
	if fallback {
		h.openat2 = false
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// exchange builds an Exchange the way the server would, with a Request
// filled by hand: hdrs are "Name: value" lines, whose spans point into
// x.Buf; the three headers the parser records in their own spans get them.
func exchange(method http.Method, path string, hdrs ...string) *http.Exchange {
	req := &http.Request{Method: method, ContentLength: -1}
	buf := make([]byte, 0, 512)
	p, q, _ := strings.Cut(path, "?")
	if q != "" {
		req.Query = http.Span{Off: uint32(len(buf)), Len: uint32(len(q))}
		buf = append(buf, q...)
	}
	for _, h := range hdrs {
		name, value, _ := strings.Cut(h, ": ")
		hd := &req.Headers[req.NumHeaders]
		req.NumHeaders++
		hd.Name = http.Span{Off: uint32(len(buf)), Len: uint32(len(name))}
		buf = append(buf, name...)
		hd.Value = http.Span{Off: uint32(len(buf)), Len: uint32(len(value))}
		buf = append(buf, value...)
		switch strings.ToLower(name) {
		case "if-none-match":
			req.IfNoneMatch = hd.Value
		case "if-modified-since":
			req.IfModifiedSince = hd.Value
		case "range":
			req.Range = hd.Value
		}
	}
	x := &http.Exchange{Req: req, Buf: buf, Path: []byte(p), Now: t0}
	x.Resp.Reset(make([]byte, 0, 1024))
	return x
}

// result is a response read back for checking.
type result struct {
	status  int
	header  string
	length  int64
	body    string
	kind    http.BodyKind
	release http.Releaser
}

// read collects x.Resp, reading a file body from its descriptor, and
// releases it.
func read(t testing.TB, x *http.Exchange) result {
	t.Helper()
	r := &x.Resp
	res := result{status: r.Status, header: string(r.Header), length: r.ContentLength, kind: r.Kind, release: r.Release}
	switch r.Kind {
	case http.BodyBytes:
		res.body = string(r.Body)
	case http.BodyFile:
		b := make([]byte, r.FileLen)
		n, err := unix.Pread(r.File, b, r.FileOff)
		if err != nil || int64(n) != r.FileLen {
			t.Fatalf("pread fd %d: %d bytes, %v", r.File, n, err)
		}
		res.body = string(b)
	}
	if r.Release != nil {
		r.Release.Release()
	}
	return res
}

// fdOpen reports whether fd is an open descriptor.
func fdOpen(fd int) bool {
	_, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	return err != syscall.EBADF
}
