//go:build linux

package static

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	nethttp "net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nproxy/nproxy/config"
	"github.com/nproxy/nproxy/http"
	"github.com/nproxy/nproxy/reactor"
)

// fakeConn plays the server's part for a listStream: it is the
// Exchange's Takeover and the stream's Client, collects what is sent, and
// drives the stream's events (pump) the way the connection would.
type fakeConn struct {
	t        *testing.T
	st       http.Stream
	out      bytes.Buffer
	async    bool // Send completes later (ClientSent), as io_uring's often does
	inFlight bool
	timeout  time.Duration // armed timer, 0 = none
	released bool
	keep     bool
	aborted  bool
	status   int
	body     int64
	yields   int // ClientTimeout calls that went on
}

var _ http.Client = (*fakeConn)(nil)

func (f *fakeConn) Hijack(st http.Stream) http.Client { f.st = st; return f }

func (f *fakeConn) Send(b []byte) (bool, error) {
	if f.inFlight {
		f.t.Fatal("Send while a send is in flight")
	}
	if f.released || f.aborted {
		f.t.Fatal("Send after Release or Abort")
	}
	f.out.Write(b)
	if f.async {
		f.inFlight = true
		return false, nil
	}
	return true, nil
}

func (f *fakeConn) SpliceFrom(*reactor.Conn, int64) (bool, error) { return false, nil }
func (f *fakeConn) CanSplice() bool                               { return false }
func (f *fakeConn) PauseRecv()                                    {}
func (f *fakeConn) ResumeRecv()                                   {}
func (f *fakeConn) SetTimeout(d time.Duration)                    { f.timeout = d }
func (f *fakeConn) SetResult(status int, body int64)              { f.status, f.body = status, body }
func (f *fakeConn) StreamLog() *http.StreamLog                    { return nil }
func (f *fakeConn) Release(keep bool)                             { f.released, f.keep = true, keep }
func (f *fakeConn) Abort()                                        { f.aborted = true }
func (f *fakeConn) ShutdownWrite()                                {}
func (f *fakeConn) PeerAddr(b []byte) []byte                      { return b }
func (f *fakeConn) Date() []byte                                  { return []byte("Sat, 01 Mar 2025 12:00:00 GMT") }
func (f *fakeConn) HeadFilter() http.HeadFilter                   { return nil }
func (f *fakeConn) Affine() *http.AffineSlot                      { return nil }

// pump delivers the stream's events until it releases or aborts the
// connection: a send's completion first, else the timer.
func (f *fakeConn) pump() {
	f.t.Helper()
	for i := 0; !f.released && !f.aborted; i++ {
		switch {
		case i > 1_000_000:
			f.t.Fatal("the stream never ends")
		case f.inFlight:
			f.inFlight = false
			f.st.ClientSent(nil)
		case f.timeout > 0:
			f.timeout = 0
			f.yields++
			f.st.ClientTimeout()
		default:
			f.t.Fatal("the stream waits for nothing")
		}
	}
}

// listTree makes a directory of names a client or a careless user could
// create, plus links and special files that must not be listed, and
// returns the root (with the tree under /d/).
func listTree(t testing.TB) string {
	t.Helper()
	base := t.TempDir()
	root := filepath.Join(base, "root")
	d := filepath.Join(root, "d")
	files := map[string]string{
		"a.txt":                             "hello\n",
		"B.txt":                             strings.Repeat("b", 1536),
		"<img src=x onerror=alert(1)>.html": "x",
		`"quote'&amp.txt`:                   "x",
		"javascript:alert(1)":               "x",
		"?x#y %41.txt":                      "x",
		"line\nbreak\x1b.txt":               "x",
		"\xff\xfe-invalid.bin":              "x",
		"Ünïcödé ✓.txt":                     "x",
		".env":                              "SECRET=1\n",
		"sub dir/inner.txt":                 "x",
		".git/config":                       "x",
	}
	for name, data := range files {
		p := filepath.Join(d, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(base, "outside.txt"), []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, target := range map[string]string{
		"link-in":   "a.txt",
		"link-dir":  "sub dir",
		"link-out":  "../../outside.txt",
		"link-abs":  filepath.Join(base, "outside.txt"),
		"link-up":   "../..",
		"dangling":  "no-such-file",
		"link-loop": "link-loop",
	} {
		if err := os.Symlink(target, filepath.Join(d, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := unix.Mkfifo(filepath.Join(d, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Fixed times, so pages are comparable.
	for _, name := range []string{"a.txt", "B.txt", "sub dir", "sub dir/inner.txt"} {
		if err := os.Chtimes(filepath.Join(d, name), mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// listedNames is what listTree's /d/ lists, in order, for each
// hidden_files mode (directories with their '/').
var listedNames = map[bool][]string{
	true: { // deny
		"\"quote'&amp.txt", "<img src=x onerror=alert(1)>.html", "?x#y %41.txt", "B.txt", "a.txt",
		"javascript:alert(1)", "line\nbreak\x1b.txt", "link-dir/", "link-in", "sub dir/",
		"Ünïcödé ✓.txt", "\xff\xfe-invalid.bin",
	},
}

func init() {
	listedNames[false] = append([]string{".env", ".git/"}, listedNames[true]...)
	slices.Sort(listedNames[false])
}

// newListHandler makes a Handler with autoindex on, hidden_files as deny
// says, and the limits set changes.
func newListHandler(t testing.TB, root string, deny bool, set func(*listLimits)) *Handler {
	t.Helper()
	h, err := New(&config.Server{StaticRoot: root, Index: []string{"index.html"}, Autoindex: true, DenyHidden: deny})
	if err != nil {
		t.Fatal(err)
	}
	if set != nil {
		set(&h.list)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// listing is a listing answer, read back as a client would.
type listing struct {
	status   int
	header   nethttp.Header
	body     string
	streamed bool
	fc       *fakeConn
}

// listVia requests path from h, as HTTP/1.1 keep-alive, and reads the
// answer whether Serve gave it or a stream sent it.
func listVia(t *testing.T, h *Handler, method http.Method, path string, async bool, hdrs ...string) listing {
	t.Helper()
	x := exchange(method, path, hdrs...)
	x.Req.Major, x.Req.Minor, x.Req.KeepAlive = 1, 1, true
	fc := &fakeConn{t: t, async: async}
	x.Takeover = fc
	if !h.Serve(x) {
		t.Fatal("Serve did not answer")
	}
	if fc.st == nil {
		res := read(t, x)
		hdr := nethttp.Header{}
		for _, line := range strings.Split(strings.TrimSuffix(res.header, "\r\n"), "\r\n") {
			if k, v, ok := strings.Cut(line, ": "); ok {
				hdr.Add(k, v)
			}
		}
		if res.status == 200 && res.length != int64(len(res.body)) {
			t.Fatalf("Content-Length %d for a body of %d", res.length, len(res.body))
		}
		return listing{status: res.status, header: hdr, body: res.body}
	}
	fc.pump()
	if fc.aborted {
		t.Fatalf("stream aborted; sent:\n%s", fc.out.String())
	}
	resp, err := nethttp.ReadResponse(bufio.NewReader(bytes.NewReader(fc.out.Bytes())), &nethttp.Request{Method: method.String()})
	if err != nil {
		t.Fatalf("reading the streamed response: %v\n%q", err, fc.out.String())
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the streamed body: %v", err)
	}
	if fc.status != resp.StatusCode || fc.body != int64(len(body)) {
		t.Errorf("SetResult(%d, %d), want (%d, %d)", fc.status, fc.body, resp.StatusCode, len(body))
	}
	return listing{status: resp.StatusCode, header: resp.Header, body: string(body), streamed: true, fc: fc}
}

// hrefs returns the names of an HTML listing's entries, decoded from
// their links, in page order, "../" excluded.
func hrefs(t *testing.T, page string) []string {
	t.Helper()
	var out []string
	for _, part := range strings.Split(page, "<a href=\"")[1:] {
		href, _, _ := strings.Cut(part, "\"")
		if href == "../" {
			continue
		}
		name, err := unescapeHref(href)
		if err != nil {
			t.Fatalf("href %q: %v", href, err)
		}
		out = append(out, name)
	}
	return out
}

// unescapeHref decodes %XX and refuses any byte appendHref should have
// escaped.
func unescapeHref(s string) (string, error) {
	var b []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%' && i+2 < len(s):
			var v byte
			if _, err := fmt.Sscanf(s[i+1:i+3], "%02X", &v); err != nil {
				return "", err
			}
			b = append(b, v)
			i += 2
		case c == '/' && i == len(s)-1:
			b = append(b, c)
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '.', c == '_', c == '~':
			b = append(b, c)
		default:
			return "", fmt.Errorf("unescaped %q", c)
		}
	}
	return string(b), nil
}

// limitModes are the ways a listing can be produced: whole from Serve,
// streamed in one pass, streamed in many passes with tiny chunks and
// steps; with sends that complete at once (epoll) or later (io_uring).
var limitModes = []struct {
	name  string
	set   func(*listLimits)
	async bool
}{
	{name: "whole"},
	{name: "stream", set: func(l *listLimits) { l.syncEntries = 0 }},
	{name: "stream async", set: func(l *listLimits) { l.syncEntries = 0 }, async: true},
	{name: "passes", set: func(l *listLimits) {
		l.syncEntries, l.syncOps, l.stepOps, l.passBytes, l.chunk = 0, 3, 5, 3*entryCost+40, 100
	}},
	{name: "passes async", set: func(l *listLimits) {
		l.syncEntries, l.syncOps, l.stepOps, l.passBytes, l.chunk = 0, 1, 7, 2*entryCost+30, 64
	}, async: true},
}

// TestListingHTML checks the HTML page in every mode and both
// hidden_files settings: names sorted and escaped, links that decode to
// the names, no entry that leaves the root or cannot be served, sizes,
// times, "../", headers; and that every mode sends the same page.
func TestListingHTML(t *testing.T) {
	root := listTree(t)
	for _, deny := range []bool{true, false} {
		var first string
		for _, m := range limitModes {
			t.Run(fmt.Sprintf("deny=%v/%s", deny, m.name), func(t *testing.T) {
				h := newListHandler(t, root, deny, m.set)
				res := listVia(t, h, http.MethodGet, "/d/", m.async)
				if res.status != 200 {
					t.Fatalf("status %d:\n%s", res.status, res.body)
				}
				if res.streamed != (m.name != "whole") {
					t.Errorf("streamed %v in mode %s", res.streamed, m.name)
				}
				if got := hrefs(t, res.body); !slices.Equal(got, listedNames[deny]) {
					t.Errorf("entries:\n%q\nwant:\n%q", got, listedNames[deny])
				}
				for _, want := range []string{
					"<title>Index of /d/</title>",
					`<tr><td><a href="../">../</a></td>`,
					`<a href="a.txt">a.txt</a></td><td>2024-11-06 08:49</td><td class="s" title="6 bytes">6 B</td>`,
					`<a href="B.txt">B.txt</a></td><td>2024-11-06 08:49</td><td class="s" title="1536 bytes">1.5 KiB</td>`,
					`<a href="sub%20dir/">sub dir/</a></td><td>2024-11-06 08:49</td><td class="s">-</td>`,
					`<a href="link-in">link-in</a></td><td>2024-11-06 08:49</td>`,
					`>&lt;img src=x onerror=alert(1)&gt;.html</a>`,
					`href="%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E.html"`,
					`>&#34;quote&#39;&amp;amp.txt</a>`,
					`href="javascript%3Aalert%281%29"`,
					`href="%3Fx%23y%20%2541.txt"`,
					">line\uFFFDbreak\uFFFD.txt</a>",
					">\uFFFD\uFFFD-invalid.bin</a>",
					`href="%C3%9Cn%C3%AFc%C3%B6d%C3%A9%20%E2%9C%93.txt">Ünïcödé ✓.txt</a>`,
				} {
					if !strings.Contains(res.body, want) {
						t.Errorf("page lacks %q", want)
					}
				}
				for _, bad := range []string{"<img", "link-out", "link-abs", "link-up", "dangling", "link-loop", "fifo", "secret"} {
					if strings.Contains(res.body, bad) {
						t.Errorf("page holds %q", bad)
					}
				}
				if ct := res.header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
					t.Errorf("Content-Type %q", ct)
				}
				if !strings.HasPrefix(res.header.Get("ETag"), `W/"`) || res.header.Get("Last-Modified") == "" ||
					res.header.Get("Vary") != "Accept" || !strings.Contains(res.header.Get("Content-Security-Policy"), "default-src 'none'") {
					t.Errorf("headers: %v", res.header)
				}
				if first == "" {
					first = res.body
				} else if res.body != first {
					t.Errorf("mode %s sent another page than the first mode", m.name)
				}
				if h.streams != 0 {
					t.Errorf("%d streams left", h.streams)
				}
			})
		}
	}
}

// jsonEntry is one entry of nginx's autoindex_format json.
type jsonEntry struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	Mtime string `json:"mtime"`
	Size  *int64 `json:"size"`
}

// TestListingJSON checks the JSON form, asked for by query or by Accept,
// in every mode: valid JSON, nginx's fields, invalid UTF-8 replaced.
func TestListingJSON(t *testing.T) {
	root := listTree(t)
	want := []string{}
	for _, n := range listedNames[true] {
		var b strings.Builder
		for _, r := range strings.TrimSuffix(n, "/") { // U+FFFD per invalid byte
			b.WriteRune(r)
		}
		want = append(want, b.String())
	}
	for _, m := range limitModes {
		for _, ask := range []struct {
			name, path string
			hdrs       []string
		}{
			{name: "query", path: "/d/?format=json"},
			{name: "query among others", path: "/d/?a=1&format=json&b"},
			{name: "accept", path: "/d/", hdrs: []string{"Accept: text/html;q=0.5, Application/JSON"}},
		} {
			t.Run(m.name+"/"+ask.name, func(t *testing.T) {
				h := newListHandler(t, root, true, m.set)
				res := listVia(t, h, http.MethodGet, ask.path, m.async, ask.hdrs...)
				if res.status != 200 || res.header.Get("Content-Type") != "application/json" {
					t.Fatalf("status %d, Content-Type %q", res.status, res.header.Get("Content-Type"))
				}
				var entries []jsonEntry
				if err := json.Unmarshal([]byte(res.body), &entries); err != nil {
					t.Fatalf("%v:\n%s", err, res.body)
				}
				var names []string
				for _, e := range entries {
					names = append(names, e.Name)
					if _, err := time.Parse(http.TimeFormat, e.Mtime); err != nil {
						t.Errorf("%q: mtime %q: %v", e.Name, e.Mtime, err)
					}
					switch {
					case e.Name == "a.txt" && (e.Type != "file" || e.Size == nil || *e.Size != 6 || e.Mtime != lastMod):
						t.Errorf("a.txt: %+v", e)
					case e.Name == "sub dir" && (e.Type != "directory" || e.Size != nil):
						t.Errorf("sub dir: %+v", e)
					}
				}
				if !slices.Equal(names, want) {
					t.Errorf("names:\n%q\nwant:\n%q", names, want)
				}
			})
		}
	}
	h := newListHandler(t, root, true, nil)
	if res := listVia(t, h, http.MethodGet, "/d/?format=html", false, "Accept: application/json"); res.header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Errorf("?format=html did not win over Accept: %q", res.header.Get("Content-Type"))
	}
}

// TestListingRoot checks the root's page: no "../", and /.well-known/
// listed while the other dot entries are hidden.
func TestListingRoot(t *testing.T) {
	root := hiddenTree(t)
	os.Remove(filepath.Join(root, "index.html"))
	h := newListHandler(t, root, true, nil)
	res := listVia(t, h, http.MethodGet, "/", false)
	if res.status != 200 || strings.Contains(res.body, `href="../"`) {
		t.Fatalf("status %d; page:\n%s", res.status, res.body)
	}
	names := hrefs(t, res.body)
	if !slices.Contains(names, ".well-known/") || slices.Contains(names, ".git/") || slices.Contains(names, ".env") {
		t.Errorf("entries %q", names)
	}
	res = listVia(t, h, http.MethodGet, "/.well-known/", false)
	if names := hrefs(t, res.body); res.status != 200 || !slices.Equal(names, []string{"acme-challenge/", "security.txt"}) {
		t.Errorf("/.well-known/: status %d, entries %q", res.status, names)
	}
}

// TestListingIndexWins checks that autoindex changes nothing where an
// index file exists, and nothing when it is off.
func TestListingIndexWins(t *testing.T) {
	root := makeTree(t)
	h := newListHandler(t, root, true, nil)
	if res := listVia(t, h, http.MethodGet, "/sub/", false); res.status != 200 || res.body != "<p>sub index</p>\n" {
		t.Errorf("/sub/: status %d body %q, want its index.html", res.status, res.body)
	}
	if res := listVia(t, h, http.MethodGet, "/noindex", false); res.status != 301 {
		t.Errorf("/noindex: status %d, want 301 to the slash", res.status)
	}
	if res := listVia(t, h, http.MethodGet, "/missing/", false); res.status != 404 {
		t.Errorf("/missing/: status %d, want 404", res.status)
	}
	off := newHandler(t, root, nil, false)
	x := exchange(http.MethodGet, "/noindex/")
	off.Serve(x)
	if res := read(t, x); res.status != 403 {
		t.Errorf("autoindex off: status %d, want 403", res.status)
	}
}

// TestListingConditional checks the validators: a client's If-None-Match
// or If-Modified-Since gets 304 while nothing listed changed, and a new
// ETag once an entry is added, grows or is touched.
func TestListingConditional(t *testing.T) {
	for _, m := range limitModes[:3] {
		t.Run(m.name, func(t *testing.T) {
			root := listTree(t)
			h := newListHandler(t, root, true, m.set)
			res := listVia(t, h, http.MethodGet, "/d/", m.async)
			etag, lm := res.header.Get("ETag"), res.header.Get("Last-Modified")
			if res := listVia(t, h, http.MethodGet, "/d/", m.async, "If-None-Match: "+etag); res.status != 304 || res.body != "" || res.header.Get("ETag") != etag {
				t.Errorf("If-None-Match: status %d, ETag %q, body %q", res.status, res.header.Get("ETag"), res.body)
			}
			if res := listVia(t, h, http.MethodGet, "/d/", m.async, "If-Modified-Since: "+lm); res.status != 304 {
				t.Errorf("If-Modified-Since: status %d", res.status)
			}
			if res := listVia(t, h, http.MethodGet, "/d/?format=json", m.async, "If-None-Match: "+etag); res.status != 200 {
				t.Errorf("the HTML ETag matched the JSON form: status %d", res.status)
			}
			d := filepath.Join(root, "d")
			for _, change := range []func() error{
				func() error { return os.WriteFile(filepath.Join(d, "a.txt"), []byte("hello, world\n"), 0o644) },
				func() error { return os.Chtimes(filepath.Join(d, "B.txt"), t0, t0) },
				func() error { return os.WriteFile(filepath.Join(d, "new.txt"), nil, 0o644) },
				func() error { return os.Remove(filepath.Join(d, "new.txt")) },
			} {
				if err := change(); err != nil {
					t.Fatal(err)
				}
				res := listVia(t, h, http.MethodGet, "/d/", m.async, "If-None-Match: "+etag)
				if res.status != 200 || res.header.Get("ETag") == etag {
					t.Fatalf("after a change: status %d, ETag %q unchanged", res.status, etag)
				}
				etag = res.header.Get("ETag")
			}
		})
	}
}

// TestListingHeadAndHTTP10 checks a streamed listing's framing: HEAD
// sends the head alone and keeps the connection; HTTP/1.0 gets a
// close-delimited body and the connection closed.
func TestListingHeadAndHTTP10(t *testing.T) {
	root := listTree(t)
	h := newListHandler(t, root, true, func(l *listLimits) { l.syncEntries = 0 })
	res := listVia(t, h, http.MethodHead, "/d/", false)
	if res.status != 200 || res.body != "" || !res.fc.keep || res.header.Get("ETag") == "" {
		t.Errorf("HEAD: status %d, body %q, keep-alive %v", res.status, res.body, res.fc.keep)
	}
	if raw := res.fc.out.String(); !strings.HasSuffix(raw, "\r\n\r\n") || strings.Contains(raw, "<html>") {
		t.Errorf("HEAD sent a body: %q", raw)
	}

	x := exchange(http.MethodGet, "/d/")
	x.Req.Major, x.Req.Minor, x.Req.KeepAlive = 1, 0, true
	fc := &fakeConn{t: t}
	x.Takeover = fc
	h.Serve(x)
	fc.pump()
	raw := fc.out.String()
	head, body, _ := strings.Cut(raw, "\r\n\r\n")
	if fc.keep || strings.Contains(head, "Transfer-Encoding") || !strings.Contains(head, "Connection: close") ||
		!strings.HasPrefix(body, "<!DOCTYPE html>") || !strings.HasSuffix(body, "</html>\n") || fc.body != int64(len(body)) {
		t.Errorf("HTTP/1.0: keep-alive %v, body bytes %d of %d, head:\n%s", fc.keep, fc.body, len(body), head)
	}
}

// TestListingLarge lists 2000 entries with the default limits: streamed,
// sorted, complete, and in steps (the stream yielded to the loop); then
// with passes of 300 entries.
func TestListingLarge(t *testing.T) {
	root := t.TempDir()
	want := make([]string, 2000)
	for i := range want {
		want[i] = fmt.Sprintf("file-%05d.txt", (i*7919)%2000)
		if err := os.WriteFile(filepath.Join(root, want[i]), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(want)
	for _, m := range []struct {
		name      string
		set       func(*listLimits)
		minYields int
	}{
		{name: "defaults", minYields: 1},
		{name: "many passes", set: func(l *listLimits) { l.passBytes, l.stepOps = 300*(entryCost+14), 1000 }, minYields: 10},
	} {
		t.Run(m.name, func(t *testing.T) {
			h := newListHandler(t, root, true, m.set)
			res := listVia(t, h, http.MethodGet, "/", false)
			if !res.streamed || res.fc.yields < m.minYields {
				t.Errorf("streamed %v, %d yields, want at least %d", res.streamed, res.fc.yields, m.minYields)
			}
			if got := hrefs(t, res.body); !slices.Equal(got, want) {
				t.Errorf("%d entries, want %d in order", len(got), len(want))
			}
		})
	}
}

// TestListingStreamLimits checks what protects the loop: past maxStreams
// a listing is 503; a client that takes nothing within send_timeout is
// dropped; a closed connection gives the directory back.
func TestListingStreamLimits(t *testing.T) {
	root := listTree(t)
	h := newListHandler(t, root, true, func(l *listLimits) { l.syncEntries, l.maxStreams, l.chunk = 0, 1, 64 })
	x := exchange(http.MethodGet, "/d/")
	x.Req.Minor, x.Req.KeepAlive = 1, true
	stuck := &fakeConn{t: t, async: true}
	x.Takeover = stuck
	h.Serve(x)
	if h.streams != 1 {
		t.Fatalf("%d streams, want 1", h.streams)
	}
	res := listVia(t, h, http.MethodGet, "/d/", false)
	if res.status != 503 || res.header.Get("Retry-After") != "1" {
		t.Errorf("second listing: status %d, Retry-After %q; want 503, 1", res.status, res.header.Get("Retry-After"))
	}

	stuck.timeout = 0
	stuck.st.ClientTimeout() // the start
	if !stuck.inFlight || stuck.timeout != config.DefaultTimeout {
		t.Fatalf("in flight %v, timer %v; want a send armed with send_timeout", stuck.inFlight, stuck.timeout)
	}
	stuck.st.ClientTimeout() // send_timeout expired
	if !stuck.aborted || h.streams != 0 {
		t.Errorf("aborted %v, %d streams; want the connection dropped", stuck.aborted, h.streams)
	}

	x = exchange(http.MethodGet, "/d/")
	x.Req.Minor, x.Req.KeepAlive = 1, true
	gone := &fakeConn{t: t, async: true}
	x.Takeover = gone
	h.Serve(x)
	gone.st.ClientClosed(reactor.ErrClosed)
	if h.streams != 0 {
		t.Errorf("%d streams after the connection closed", h.streams)
	}
}

func TestAppendSize(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{0, "0 B"}, {1, "1 B"}, {1023, "1023 B"}, {1024, "1.0 KiB"}, {1536, "1.5 KiB"},
		{10188, "9.9 KiB"}, {10189, "10 KiB"}, {65659, "64 KiB"}, {1047552, "1023 KiB"}, {1048064, "1.0 MiB"},
		{1048575, "1.0 MiB"}, {1 << 20, "1.0 MiB"}, {5 << 30, "5.0 GiB"}, {1 << 62, "4.0 EiB"}, {1<<60 - 1<<50, "1023 PiB"},
		{1<<63 - 1, "8.0 EiB"},
	}
	for _, tt := range tests {
		if got := string(appendSize(nil, tt.n)); got != tt.want {
			t.Errorf("appendSize(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

// FuzzListingName renders any name, as a file system may hold it, in both
// forms: the HTML holds no markup character from it, the link only
// unreserved characters and escapes that decode to it, and the JSON is
// valid and decodes to the name with each invalid byte as U+FFFD.
func FuzzListingName(f *testing.F) {
	for _, s := range []string{"a.txt", "<script>", `"'&`, "javascript:x", "\xff\xfe", "a\nb\x1b", "\u2028\u0085", "%41?#"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		e := listEntry{name: name, size: 12345, mtime: mtime.UnixNano(), known: true}
		page := string(appendEntry(nil, formHTML, &e, true))
		text, _, _ := strings.Cut(strings.TrimPrefix(page[strings.Index(page, `">`)+2:], ""), "</a>")
		if strings.ContainsAny(text, "<>\"'") || !utf8Valid(text) {
			t.Fatalf("HTML text %q of %q", text, name)
		}
		href := page[len(`<tr><td><a href="`):strings.Index(page, `">`)]
		if got, err := unescapeHref(href); err != nil || got != name {
			t.Fatalf("href %q of %q: %q, %v", href, name, got, err)
		}
		var je jsonEntry
		if err := json.Unmarshal(appendEntry(nil, formJSON, &e, true), &je); err != nil {
			t.Fatalf("JSON of %q: %v", name, err)
		}
		var b strings.Builder
		for _, r := range name {
			b.WriteRune(r)
		}
		if je.Name != b.String() {
			t.Fatalf("JSON name %q, want %q", je.Name, b.String())
		}
	})
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "") == s }

// TestListingUnderAlias checks a listing reached through a location's
// alias (x.Prefix is what it cut): the page shows the path the client
// asked for, with its "../", and the aliased root is not the site's, so
// its .well-known is neither listed nor served under deny.
func TestListingUnderAlias(t *testing.T) {
	root := hiddenTree(t)
	os.Remove(filepath.Join(root, "index.html"))
	h := newListHandler(t, root, true, nil)
	x := exchange(http.MethodGet, "/")
	x.Prefix = []byte("/files")
	h.Serve(x)
	res := read(t, x)
	if res.status != 200 || !strings.Contains(res.body, "<title>Index of /files/</title>") || !strings.Contains(res.body, `href="../"`) {
		t.Fatalf("status %d, page:\n%s", res.status, res.body)
	}
	if names := hrefs(t, res.body); slices.Contains(names, ".well-known/") {
		t.Errorf("entries %q: .well-known listed under an alias", names)
	}
	x = exchange(http.MethodGet, "/.well-known/security.txt")
	x.Prefix = []byte("/files")
	h.Serve(x)
	if res := read(t, x); res.status != 404 {
		t.Errorf("/files/.well-known/security.txt: status %d, want 404", res.status)
	}
}
