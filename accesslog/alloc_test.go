//go:build linux && !race

package accesslog

import (
	"net/netip"
	"path/filepath"
	"testing"
	"time"
)

// TestWriteAllocs proves that logging a request allocates nothing (the
// time text is formatted once per second into a reused buffer).
func TestWriteAllocs(t *testing.T) {
	l, err := Open(filepath.Join(t.TempDir(), "access.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	e := Entry{Addr: netip.MustParseAddr("192.0.2.7"), Time: time.Now(), Request: []byte("GET /index.html HTTP/1.1"),
		Status: 200, BodyBytes: 612, Referer: []byte("http://a.example/"), UserAgent: []byte("curl/8.5.0")}
	l.Write(&e) // format the time once
	allocs := testing.AllocsPerRun(1000, func() {
		if err := l.Write(&e); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Write: %v allocs, want 0", allocs)
	}
}

func BenchmarkWrite(b *testing.B) {
	l, err := Open(filepath.Join(b.TempDir(), "access.log"))
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	e := Entry{Addr: netip.MustParseAddr("192.0.2.7"), Time: time.Now(), Request: []byte("GET /index.html HTTP/1.1"),
		Status: 200, BodyBytes: 612, Referer: []byte("http://a.example/"), UserAgent: []byte("Mozilla/5.0 (X11; Linux x86_64)")}
	b.ReportAllocs()
	for b.Loop() {
		l.Write(&e)
	}
}
