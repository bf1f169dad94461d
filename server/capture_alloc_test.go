//go:build linux && !race

package server

import (
	"fmt"
	"testing"

	"github.com/nproxy/nproxy/http"
)

// TestMatchCapturesAllocs proves that finding the captures of a route
// with a scan plan (^/img/(.+)$, ^/u/([a-z]+)/(.*)$) allocates nothing,
// and bounds the others to the one slice the regexp engine returns.
func TestMatchCapturesAllocs(t *testing.T) {
	sections := ""
	for _, l := range captureLocations {
		sections += fmt.Sprintf("[location ~ %s]\nreturn = 200 $1\n", l.regex)
	}
	table, _ := tableOf(t, sections)
	for i, l := range captureLocations {
		p := []byte(l.path)
		if i == 2 {
			continue // ~* in TestMatchCaptures
		}
		table.matchCaptures(p) // warm the regexp machine pool
		want := 0.0
		if table.regexes[i].plan == nil {
			want = 1
		}
		if n := testing.AllocsPerRun(1000, func() { table.matchCaptures(p) }); n != want {
			t.Errorf("matchCaptures(%q) for %s: %v allocs, want %v", p, l.regex, n, want)
		}
	}
}

// TestCaptureExpandAllocs proves that building an alias path and a
// return text from captures allocates nothing once the scratch has grown.
func TestCaptureExpandAllocs(t *testing.T) {
	dir := t.TempDir()
	table, routes := tableOf(t, "[location ~ ^/img/(?P<f>.+)$]\nalias = "+dir+"/x/../$f\n"+
		"[location ~ ^/t/(.+)$]\nreturn = 200 got $1\n")
	s := &Server{}
	rt := &router{s: s}
	img, ret := routes[0], routes[1]
	img.aliasPath = []byte(img.cfg.AliasPath)
	st := newReturnStep(s, ret.cfg.Return)
	x := &http.Exchange{Req: new(http.Request)}
	x.Req.Reset()
	imgPath, retPath := []byte("/img/a/b.png"), []byte("/t/abc")
	hdr := make([]byte, 0, 512)
	serve := func() {
		_, _, m := table.matchCaptures(imgPath)
		s.setCaptures(imgPath, m)
		x.Path, x.Prefix = imgPath, nil
		if !rt.aliasPath(x, img) || string(x.Path) != "/a/b.png" {
			t.Fatalf("alias path %q", x.Path)
		}
		_, _, m = table.matchCaptures(retPath)
		s.setCaptures(retPath, m)
		x.Resp.Reset(hdr)
		st.Serve(x)
	}
	serve()
	if n := testing.AllocsPerRun(1000, serve); n != 0 {
		t.Errorf("%v allocs, want 0", n)
	}
	if string(x.Resp.Body) != "got abc" {
		t.Errorf("return body %q", x.Resp.Body)
	}
}
