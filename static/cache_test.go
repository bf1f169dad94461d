//go:build linux

package static

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nproxy/nproxy/http"
)

// get serves path at now and returns the response, released.
func get(t *testing.T, h *Handler, path string, now time.Time) result {
	t.Helper()
	x := exchange(http.MethodGet, path)
	x.Now = now
	h.Serve(x)
	return read(t, x)
}

func TestRevalidation(t *testing.T) {
	root := makeTree(t)
	h := newHandler(t, root, nil, false)
	p := filepath.Join(root, "hello.txt")

	first := get(t, h, "/hello.txt", t0)
	if first.body != "hello, world\n" {
		t.Fatalf("body %q", first.body)
	}

	// Replace the content in place (same inode), new size and mtime.
	if err := os.WriteFile(p, []byte("changed!\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	later := mtime.Add(time.Hour)
	if err := os.Chtimes(p, later, later); err != nil {
		t.Fatal(err)
	}

	steps := []struct {
		name string
		at   time.Duration // after t0
		body string
		etag string
	}{
		{name: "same second uses the cache", at: 500 * time.Millisecond, body: "hello, world\n", etag: etagOf(13)},
		{name: "after validity sees the change", at: 2 * time.Second, body: "changed!\n",
			etag: `"` + hex(later.Unix()) + `-9"`},
		{name: "stays changed", at: 2500 * time.Millisecond, body: "changed!\n", etag: `"` + hex(later.Unix()) + `-9"`},
		{name: "clock going back revalidates", at: -time.Minute, body: "changed!\n", etag: `"` + hex(later.Unix()) + `-9"`},
	}
	for _, s := range steps {
		res := get(t, h, "/hello.txt", t0.Add(s.at))
		if res.body != s.body || !strings.Contains(res.header, "ETag: "+s.etag) {
			t.Errorf("%s: body %q header\n%s\nwant body %q etag %s", s.name, res.body, res.header, s.body, s.etag)
		}
	}
}

func TestRevalidationReplaceAndDelete(t *testing.T) {
	root := makeTree(t)
	h := newHandler(t, root, nil, false)
	p := filepath.Join(root, "big.bin")
	get(t, h, "/big.bin", t0)
	old := h.cache.get([]byte("/big.bin"))

	// An atomic deploy: a new file renamed over the old one, same size
	// and mtime; only the inode tells them apart.
	tmp := filepath.Join(root, "big.tmp")
	b := bigContent()
	b[0] ^= 0xff
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(tmp, mtime, mtime); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, p); err != nil {
		t.Fatal(err)
	}
	if res := get(t, h, "/big.bin", t0.Add(time.Second)); res.body != string(b) {
		t.Fatal("renamed-over file not seen after revalidation")
	}
	if old.fd != -1 {
		t.Errorf("replaced entry kept its descriptor %d", old.fd)
	}

	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	if res := get(t, h, "/big.bin", t0.Add(1500*time.Millisecond)); res.status != 200 {
		t.Errorf("status %d within the validity, want the cached 200", res.status)
	}
	if res := get(t, h, "/big.bin", t0.Add(3*time.Second)); res.status != 404 {
		t.Errorf("status %d after deletion, want 404", res.status)
	}
}

func TestNegativeCache(t *testing.T) {
	root := makeTree(t)
	h := newHandler(t, root, nil, false)
	if res := get(t, h, "/new.txt", t0); res.status != 404 {
		t.Fatalf("status %d, want 404", res.status)
	}
	if err := os.WriteFile(filepath.Join(root, "new.txt"), []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	if res := get(t, h, "/new.txt", t0.Add(900*time.Millisecond)); res.status != 404 {
		t.Errorf("status %d within the validity, want the cached 404", res.status)
	}
	if res := get(t, h, "/new.txt", t0.Add(time.Second)); res.status != 200 || res.body != "new" {
		t.Errorf("status %d body %q after the validity, want 200 new", res.status, res.body)
	}
}

func TestReleaseKeepsDescriptor(t *testing.T) {
	cases := []struct {
		name  string
		evict func(h *Handler)
	}{
		{name: "evicted", evict: func(h *Handler) { h.cache.evictOldest(len(h.cache.m)) }},
		{name: "closed", evict: func(h *Handler) { h.Close() }},
		{name: "revalidated away", evict: func(h *Handler) {
			p := filepath.Join(h.rootReal, "big.bin")
			now := time.Now()
			if err := os.Chtimes(p, now, now); err != nil {
				panic(err)
			}
			x := exchange(http.MethodGet, "/big.bin")
			x.Now = t0.Add(5 * time.Second)
			h.Serve(x)
			x.Resp.Release.Release()
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHandler(t, makeTree(t), nil, false)
			x := exchange(http.MethodGet, "/big.bin")
			h.Serve(x)
			r := x.Resp
			if r.Kind != http.BodyFile || r.Release == nil {
				t.Fatalf("Kind %d Release %v, want a file body with a Releaser", r.Kind, r.Release)
			}
			c.evict(h)
			if !fdOpen(r.File) {
				t.Fatal("descriptor closed while a response uses it")
			}
			if res := read(t, x); res.body != string(bigContent()) {
				t.Fatal("descriptor no longer reads the file")
			}
			if fdOpen(r.File) {
				t.Fatal("descriptor still open after the last release")
			}
		})
	}
}

func TestCacheBounds(t *testing.T) {
	root := makeTree(t)
	h := newHandler(t, root, nil, false)
	h.cache.max = 3

	// Hold a response on big.bin, then push it out with other paths.
	x := exchange(http.MethodGet, "/big.bin")
	h.Serve(x)
	held := x.Resp
	for _, p := range []string{"/hello.txt", "/page.html", "/noext", "/missing", "/sub/"} {
		get(t, h, p, t0)
	}
	if n := h.cache.positives; n != 3 {
		t.Errorf("%d files and directories, want 3", n)
	}
	if h.cache.get([]byte("/missing")) == nil {
		t.Error("a negative entry was evicted by the count of files")
	}
	if h.cache.get([]byte("/big.bin")) != nil {
		t.Error("the least recently used entry was not evicted")
	}
	if !fdOpen(held.File) {
		t.Fatal("evicted entry's descriptor closed while in use")
	}
	held.Release.Release()
	if fdOpen(held.File) {
		t.Error("evicted entry's descriptor open after release")
	}

	// The body budget evicts too.
	h.cache.clear()
	h.cache.max, h.cache.maxBody = 100, 30
	for _, p := range []string{"/hello.txt", "/page.html", "/sub/other.txt"} { // 13+12+6 bytes
		get(t, h, p, t0)
	}
	if h.cache.get([]byte("/hello.txt")) != nil || h.cache.bodyBytes > 30 {
		t.Errorf("body budget not enforced: %d bytes cached", h.cache.bodyBytes)
	}

	// So does the budget of the other bytes of files and directories.
	h.cache.clear()
	h.cache.max, h.cache.maxBody = 100, maxBodyBytes
	h.cache.maxMeta = 2*entryOverhead + 400 // two file entries (header and path), not three
	for _, p := range []string{"/hello.txt", "/page.html", "/noext"} {
		get(t, h, p, t0)
	}
	if h.cache.positives != 2 || h.cache.get([]byte("/hello.txt")) != nil || h.cache.metaBytes > h.cache.maxMeta {
		t.Errorf("byte budget not enforced: %d entries, %d bytes cached", h.cache.positives, h.cache.metaBytes)
	}
	h.cache.maxMeta = maxMetaBytes

	// A recently used entry survives.
	h.cache.clear()
	h.cache.max, h.cache.maxBody = 2, maxBodyBytes
	get(t, h, "/hello.txt", t0)
	get(t, h, "/page.html", t0)
	get(t, h, "/hello.txt", t0)
	get(t, h, "/noext", t0)
	if h.cache.get([]byte("/hello.txt")) == nil || h.cache.get([]byte("/page.html")) != nil {
		t.Error("eviction is not least-recently-used")
	}
}

func hex(n int64) string { return strconv.FormatInt(n, 16) }
