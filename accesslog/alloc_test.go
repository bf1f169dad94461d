//go:build linux && !race

package accesslog

import (
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/nproxy/nproxy/http"
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
		Status: 200, BodyBytes: 612, Headers: hdrs("http://a.example/", "curl/8.5.0")}
	l.Write(Combined, &e) // format the time once
	allocs := testing.AllocsPerRun(1000, func() {
		if err := l.Write(Combined, &e); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Write: %v allocs, want 0", allocs)
	}
	// The json format, every variable, a proxied request's attempts.
	up := &http.StreamLog{}
	up.Start("10.0.0.1:80")
	up.Tries[0].Status = 502
	up.Start("10.0.0.2:80")
	up.Tries[1].Status, up.Tries[1].ConnectNs, up.Tries[1].ResponseNs = 200, 1e6, 3e6
	e.Upstream, e.RequestID, e.Host = up, []byte("0123456789abcdef0123456789abcdef"), []byte("a.example")
	json := Builtin("json")
	l.Write(json, &e)
	if n := testing.AllocsPerRun(1000, func() { l.Write(json, &e) }); n != 0 {
		t.Errorf("Write json: %v allocs, want 0", n)
	}
	// A condition (if=$http_user_agent): met, then not.
	cf, _ := Combined.WithCondition("$http_user_agent")
	l.Write(cf, &e)
	if n := testing.AllocsPerRun(1000, func() { l.Write(cf, &e) }); n != 0 {
		t.Errorf("Write with a condition: %v allocs, want 0", n)
	}
}

// TestSyslogWriteAllocs proves that a line sent to a syslog server
// allocates nothing either.
func TestSyslogWriteAllocs(t *testing.T) {
	pc := listenUDP(t)
	l, err := Open("syslog:server=" + pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	e := Entry{Addr: netip.MustParseAddr("192.0.2.7"), Time: time.Now(), Request: []byte("GET /index.html HTTP/1.1"),
		Status: 200, BodyBytes: 612, Headers: hdrs("http://a.example/", "curl/8.5.0")}
	l.Write(Combined, &e)
	if n := testing.AllocsPerRun(1000, func() { l.Write(Combined, &e) }); n != 0 {
		t.Errorf("Write to syslog: %v allocs, want 0", n)
	}
}

// TestMapWriteAllocs proves that maps' results in a line and in its
// condition allocate nothing: exact keys, regexes whose value names no
// capture, defaults, and a map of a map.
func TestMapWriteAllocs(t *testing.T) {
	l, err := Open(filepath.Join(t.TempDir(), "access.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	maps := logMaps(t)
	f, err := CompileMaps("m", "$remote_addr $status $loggable $level $tenant", EscapeDefault, maps)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := f.WithConditionMaps("$loggable", maps)
	if err != nil {
		t.Fatal(err)
	}
	for _, status := range []int{200, 404} {
		e := entryWithTenant("acme")
		e.Status = status
		l.Write(cf, e) // grow the scratch once
		if n := testing.AllocsPerRun(1000, func() { l.Write(cf, e) }); n != 0 {
			t.Errorf("status %d: %v allocs, want 0", status, n)
		}
	}
}

func BenchmarkWrite(b *testing.B) {
	l, err := Open(filepath.Join(b.TempDir(), "access.log"))
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	e := Entry{Addr: netip.MustParseAddr("192.0.2.7"), Time: time.Now(), Request: []byte("GET /index.html HTTP/1.1"),
		Status: 200, BodyBytes: 612, Headers: hdrs("http://a.example/", "Mozilla/5.0 (X11; Linux x86_64)")}
	b.ReportAllocs()
	for b.Loop() {
		l.Write(Combined, &e)
	}
}
