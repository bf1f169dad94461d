//go:build !race

package vars

import "testing"

// TestAppendAllocs proves that expanding a template into a buffer with
// room allocates nothing.
func TestAppendAllocs(t *testing.T) {
	tmpl := MustParse("https://$host$request_uri; $proxy_add_x_forwarded_for")
	vals := &Values{Host: []byte("example.com"), RequestURI: []byte("/a?b"), RemoteAddr: []byte("192.0.2.1"), XFF: []byte("10.0.0.1")}
	buf := make([]byte, 0, 256)
	if n := testing.AllocsPerRun(1000, func() { buf = tmpl.Append(buf[:0], vals) }); n != 0 {
		t.Errorf("Append: %v allocs, want 0", n)
	}
}

// TestMapAllocs proves that a map's result allocates nothing for an exact
// key, a regex whose value names no capture, a regex with a ScanPlan
// whose value names captures (nested in another's), and the default,
// evaluated or cached, once the cache has grown.
func TestMapAllocs(t *testing.T) {
	maps := testMaps(t)
	tmpl, err := Scope{Maps: func(n string) *Map { return maps[n] }}.Parse("$route;$nodefault;$wrap")
	if err != nil {
		t.Fatal(err)
	}
	var c MapCache
	buf := make([]byte, 0, 256)
	for _, uri := range []string{"/old", "/static/a.css", "/nothing", "/u/42"} {
		vals := &Values{URI: []byte(uri), Args: []byte("a=1"), Host: []byte("example.com"), Maps: &c}
		c.Reset()
		buf = tmpl.Append(buf[:0], vals)
		if n := testing.AllocsPerRun(1000, func() {
			c.Reset()
			buf = tmpl.Append(buf[:0], vals)
			buf = tmpl.Append(buf, vals) // cached
		}); n != 0 {
			t.Errorf("%s: %v allocs, want 0", uri, n)
		}
	}
}

// TestPreparedAllocs proves that a Prepared, once grown, expands and
// writes templates without allocating.
func TestPreparedAllocs(t *testing.T) {
	tmpl, err := Scope{Response: true}.Parse("$request_id $host $status $upstream_addr $upstream_status")
	if err != nil {
		t.Fatal(err)
	}
	vals := &Values{Host: []byte("example.com"), RequestID: []byte("0123"), Status: []byte("200"), UpstreamAddr: []byte("10.0.0.1:80"), UpstreamStatus: []byte("200")}
	var p Prepared
	buf := make([]byte, 0, 256)
	run := func() {
		p.Reset()
		p.Add(tmpl, vals)
		p.Add(tmpl, vals)
		buf = p.Append(buf[:0], 1, vals)
	}
	run()
	if n := testing.AllocsPerRun(1000, run); n != 0 {
		t.Errorf("Prepared: %v allocs, want 0", n)
	}
}
