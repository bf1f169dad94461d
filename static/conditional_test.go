//go:build linux

package static

import (
	"math"
	"testing"
	"time"
)

func TestEtagMatch(t *testing.T) {
	const etag = `"5f-1a"`
	cases := []struct {
		list string
		want bool
	}{
		{`"5f-1a"`, true},
		{`W/"5f-1a"`, true},
		{`"x", "5f-1a"`, true},
		{`"x",W/"5f-1a" , "y"`, true},
		{`*`, true},
		{` , *`, true},
		{`"5f-1b"`, false},
		{`5f-1a`, false},
		{`"5f-1a`, false},
		{`W/`, false},
		{`w/"5f-1a"`, false},
		{``, false},
		{`"x" garbage "5f-1a"`, false},
	}
	for _, c := range cases {
		if got := etagMatch([]byte(c.list), []byte(etag)); got != c.want {
			t.Errorf("etagMatch(%q) = %v, want %v", c.list, got, c.want)
		}
	}
}

func TestParseHTTPDate(t *testing.T) {
	want := time.Date(1994, 11, 6, 8, 49, 37, 0, time.UTC).Unix()
	cases := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"Sun, 06 Nov 1994 08:49:37 GMT", want, true},
		{"Sunday, 06-Nov-94 08:49:37 GMT", want, true},
		{"Sun Nov  6 08:49:37 1994", want, true},
		{"Sun, 06 Nov 1994 08:49:37 UTC", 0, false},
		{"Sun, 06 Xyz 1994 08:49:37 GMT", 0, false},
		{"Sun, 32 Nov 1994 08:49:37 GMT", 0, false},
		{"Sun, 06 Nov 1994 24:49:37 GMT", 0, false},
		{"Sun, 0x Nov 1994 08:49:37 GMT", 0, false},
		{"", 0, false},
		{"yesterday", 0, false},
	}
	for _, c := range cases {
		got, ok := parseHTTPDate([]byte(c.in))
		if ok != c.ok || got != c.want {
			t.Errorf("parseHTTPDate(%q) = %d, %v; want %d, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestParseRange(t *testing.T) {
	cases := []struct {
		in     string
		size   int64
		off, n int64
		res    rangeResult
	}{
		{"bytes=0-4", 10, 0, 5, rangeSatisfiable},
		{"bytes=0-0", 10, 0, 1, rangeSatisfiable},
		{"bytes=9-9", 10, 9, 1, rangeSatisfiable},
		{"bytes=3-", 10, 3, 7, rangeSatisfiable},
		{"bytes=-3", 10, 7, 3, rangeSatisfiable},
		{"bytes=-30", 10, 0, 10, rangeSatisfiable},
		{"bytes=5-100", 10, 5, 5, rangeSatisfiable},
		{"bytes=0-99999999999999999999999", 10, 0, 10, rangeSatisfiable},
		{"Bytes=1-2", 10, 1, 2, rangeSatisfiable},
		{"bytes= 1-2 ", 10, 1, 2, rangeSatisfiable},
		{"bytes=1-2,", 10, 1, 2, rangeSatisfiable},
		{"bytes=, 1-2", 10, 1, 2, rangeSatisfiable},
		{"bytes=10-", 10, 0, 0, rangeUnsatisfiable},
		{"bytes=10-20", 10, 0, 0, rangeUnsatisfiable},
		{"bytes=99999999999999999999999-", 10, 0, 0, rangeUnsatisfiable},
		{"bytes=-0", 10, 0, 0, rangeUnsatisfiable},
		{"bytes=-1", 0, 0, 0, rangeUnsatisfiable},
		{"bytes=0-", 0, 0, 0, rangeUnsatisfiable},
		{"bytes=0-1,2-3", 10, 0, 0, rangeIgnore},
		{"bytes=4-2", 10, 0, 0, rangeIgnore},
		{"bytes=", 10, 0, 0, rangeIgnore},
		{"bytes=-", 10, 0, 0, rangeIgnore},
		{"bytes=a-b", 10, 0, 0, rangeIgnore},
		{"bytes=1-2-3", 10, 0, 0, rangeIgnore},
		{"bytes=+1-2", 10, 0, 0, rangeIgnore},
		{"bytes 0-1", 10, 0, 0, rangeIgnore},
		{"items=0-1", 10, 0, 0, rangeIgnore},
		{"", 10, 0, 0, rangeIgnore},
	}
	for _, c := range cases {
		off, n, res := parseRange([]byte(c.in), c.size)
		if off != c.off || n != c.n || res != c.res {
			t.Errorf("parseRange(%q, %d) = %d, %d, %d; want %d, %d, %d", c.in, c.size, off, n, res, c.off, c.n, c.res)
		}
	}
}

// FuzzParseRange checks that a satisfiable range always lies within the
// representation.
func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"bytes=0-4", "bytes=-3", "bytes=3-", "bytes=0-1,2-3", "bytes=99999999999999999999-"} {
		f.Add(s, int64(10))
	}
	f.Fuzz(func(t *testing.T, v string, size int64) {
		if size < 0 || size == math.MaxInt64 {
			return
		}
		off, n, res := parseRange([]byte(v), size)
		if res == rangeSatisfiable && (off < 0 || n < 1 || off+n > size || off+n < off) {
			t.Fatalf("parseRange(%q, %d) = [%d, +%d) outside the file", v, size, off, n)
		}
	})
}

func TestSafePath(t *testing.T) {
	cases := []struct {
		in   string
		want bool
	}{
		{"/", true},
		{"/a/b.txt", true},
		{"/a/", true},
		{"/..a", true},
		{"/a..", true},
		{"/a/...", true},
		{"", false},
		{"a", false},
		{"/..", false},
		{"/../x", false},
		{"/a/../../x", false},
		{"/a/..", false},
		{"/.", false},
		{"/a/./b", false},
		{"/a\x00b", false},
		{"/\x00", false},
	}
	for _, c := range cases {
		if got := safePath([]byte(c.in)); got != c.want {
			t.Errorf("safePath(%q) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestContentType(t *testing.T) {
	cases := []struct{ path, want string }{
		{"/a.html", "text/html"},
		{"/a.HTM", "text/html"},
		{"/a.css", "text/css"},
		{"/a.js", "text/javascript"},
		{"/a.mjs", "text/javascript"},
		{"/a.json", "application/json"},
		{"/a.xml", "text/xml"},
		{"/a.txt", "text/plain"},
		{"/a.svg", "image/svg+xml"},
		{"/a.png", "image/png"},
		{"/a.jpg", "image/jpeg"},
		{"/a.jpeg", "image/jpeg"},
		{"/a.gif", "image/gif"},
		{"/a.webp", "image/webp"},
		{"/a.ico", "image/x-icon"},
		{"/a.avif", "image/avif"},
		{"/a.wasm", "application/wasm"},
		{"/a.woff", "font/woff"},
		{"/a.woff2", "font/woff2"},
		{"/a.ttf", "font/ttf"},
		{"/a.otf", "font/otf"},
		{"/a.pdf", "application/pdf"},
		{"/a.zip", "application/zip"},
		{"/a.tar.gz", "application/gzip"},
		{"/a.tar", "application/x-tar"},
		{"/a.mp4", "video/mp4"},
		{"/a.webm", "video/webm"},
		{"/a.mp3", "audio/mpeg"},
		{"/a.ogg", "audio/ogg"},
		{"/a.wav", "audio/wav"},
		{"/a.csv", "text/csv"},
		{"/a.md", "text/markdown"},
		{"/a.js.map", "application/json"},
		{"/a", defaultType},
		{"/a.", defaultType},
		{"/a.unknown", defaultType},
		{"/a.verylongextension", defaultType},
		{"/dir.html/file", defaultType},
	}
	for _, c := range cases {
		if got := contentType([]byte(c.path)); got != c.want {
			t.Errorf("contentType(%q) = %q, want %q", c.path, got, c.want)
		}
	}
}
