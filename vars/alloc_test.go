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
