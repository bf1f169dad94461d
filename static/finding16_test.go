//go:build linux

package static

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nproxy/nproxy/http"
)

// negativeBytes recounts what the negative entries of c cost, to check
// the running total against.
func negativeBytes(c *cache) (n int64, entries int) {
	for e := c.neg.next; e != &c.neg; e = e.next {
		n += e.entryBytes()
		entries++
	}
	return n, entries
}

// TestFinding16NegativeBytesBounded replays finding 16 of issue 9: a
// client asking for 100,000 distinct missing paths, short and up to
// nearly http.MaxURILen long. Before the fix every one of them stayed
// cached until 10,000 entries were reached (3,000 paths of 8 KB held
// 25 MB, with try_files twice that, and pushed the site's files out).
// The negative entries must stay within maxNegativeBytes all along and
// leave the cached files alone.
func TestFinding16NegativeBytesBounded(t *testing.T) {
	tests := []struct {
		name   string
		try    []string
		misses int
	}{
		{name: "static", misses: 100_000},
		{name: "try_files", try: []string{"$uri", "$uri/", "/spa/index.html"}, misses: 25_000}, // three lookups each
	}
	root := makeTree(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHandler(t, root, tt.try, false)
			if res := get(t, h, "/hello.txt", t0); res.status != 200 {
				t.Fatalf("status %d, want 200", res.status)
			}
			long := strings.Repeat("x", http.MaxURILen-64)
			x := exchange(http.MethodGet, "/")
			hdr := x.Resp.Header
			maxSeen := int64(0)
			for i := range tt.misses {
				x.Path = strconv.AppendInt(append(x.Path[:0], "/missing-"...), int64(i), 10)
				if i%8 == 0 { // one in eight long, of any length up to the limit
					x.Path = append(x.Path, long[:i*7919%len(long)]...)
				}
				x.Now = t0.Add(time.Duration(i) * time.Microsecond) // all within validFor
				x.Resp.Reset(hdr)
				h.Serve(x)
				if x.Resp.Status != 404 && x.Resp.Status != 200 { // try_files falls back to /spa/index.html
					t.Fatalf("request %d: status %d", i, x.Resp.Status)
				}
				maxSeen = max(maxSeen, h.cache.negBytes)
			}
			t.Logf("%d misses: at most %d bytes of negative entries, %d at the end", tt.misses, maxSeen, h.cache.negBytes)
			if maxSeen > maxNegativeBytes {
				t.Errorf("negative entries reached %d bytes, bound %d", maxSeen, maxNegativeBytes)
			}
			if n, entries := negativeBytes(&h.cache); n != h.cache.negBytes || entries+h.cache.positives != len(h.cache.m) {
				t.Errorf("accounting: %d bytes in %d negative entries, total says %d; %d positive, %d in the map",
					n, entries, h.cache.negBytes, h.cache.positives, len(h.cache.m))
			}
			if h.cache.get([]byte("/hello.txt")) == nil {
				t.Error("missing paths pushed a cached file out")
			}
		})
	}
}

// TestFinding16NegativeEntriesExpire checks the age bound: a negative
// entry older than validFor is not served (the path is checked again) and
// is dropped, oldest first, when newer entries come; one found still
// missing after its validity starts a new one.
func TestFinding16NegativeEntriesExpire(t *testing.T) {
	root := makeTree(t)
	h := newHandler(t, root, nil, false)
	ms := time.Millisecond
	steps := []struct {
		at     time.Duration // after t0
		path   string
		create bool // create the file before the request
		status int
		cached []string // negative entries after the request, newest first
	}{
		{at: 0, path: "/a", status: 404, cached: []string{"/a"}},
		{at: 500 * ms, path: "/b", status: 404, cached: []string{"/b", "/a"}},
		{at: 600 * ms, path: "/a", create: true, status: 404, cached: []string{"/b", "/a"}}, // fresh: served from the cache
		{at: 1200 * ms, path: "/c", status: 404, cached: []string{"/c", "/b"}},              // /a stale: dropped
		{at: 1200 * ms, path: "/a", status: 200, cached: []string{"/c", "/b"}},              // and not served
		{at: 1600 * ms, path: "/b", status: 404, cached: []string{"/b", "/c"}},              // stale, still missing: revalidated
		{at: 2300 * ms, path: "/d", status: 404, cached: []string{"/d", "/b"}},              // /c stale: dropped
		{at: 5 * time.Second, path: "/d", status: 404, cached: []string{"/d"}},
	}
	for i, s := range steps {
		if s.create {
			if err := os.WriteFile(filepath.Join(root, s.path), []byte("now here"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if res := get(t, h, s.path, t0.Add(s.at)); res.status != s.status {
			t.Errorf("step %d: %s at +%v: status %d, want %d", i, s.path, s.at, res.status, s.status)
		}
		var got []string
		for e := h.cache.neg.next; e != &h.cache.neg; e = e.next {
			got = append(got, e.key)
		}
		if fmt.Sprint(got) != fmt.Sprint(s.cached) {
			t.Errorf("step %d: negative entries %q, want %q", i, got, s.cached)
		}
		if n, _ := negativeBytes(&h.cache); n != h.cache.negBytes {
			t.Errorf("step %d: %d bytes in negative entries, total says %d", i, n, h.cache.negBytes)
		}
	}
}
