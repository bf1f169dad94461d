package accesslog

import (
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// combinedRE is the combined format, as a log parser reads it.
var combinedRE = regexp.MustCompile(`^(\S+) - - \[(\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\] "((?:[^"\\]|\\x[0-9A-F]{2})*)" (\d{3}) (\d+) "((?:[^"\\]|\\x[0-9A-F]{2})*)" "((?:[^"\\]|\\x[0-9A-F]{2})*)"$`)

func TestLineFormat(t *testing.T) {
	at := time.Date(2024, time.March, 5, 7, 8, 9, 0, time.FixedZone("X", -7*3600))
	tests := []struct {
		name string
		e    Entry
		want string
	}{
		{
			name: "typical",
			e: Entry{Addr: netip.MustParseAddr("192.0.2.7"), Time: at, Request: []byte("GET /index.html HTTP/1.1"),
				Status: 200, BodyBytes: 612, Headers: hdrs("http://a.example/", "curl/8.5.0")},
			want: `192.0.2.7 - - [TIME] "GET /index.html HTTP/1.1" 200 612 "http://a.example/" "curl/8.5.0"`,
		},
		{
			name: "absent headers and address",
			e:    Entry{Time: at, Request: []byte("HEAD / HTTP/1.0"), Status: 304},
			want: `- - - [TIME] "HEAD / HTTP/1.0" 304 0 "-" "-"`,
		},
		{
			name: "escaping",
			e: Entry{Addr: netip.MustParseAddr("2001:db8::1"), Time: at, Request: []byte("GET /a\"b\\c\x01\xff HTTP/1.1"),
				Status: 404, BodyBytes: 153, Headers: hdrs("", "x\ny")},
			want: `2001:db8::1 - - [TIME] "GET /a\x22b\x5Cc\x01\xFF HTTP/1.1" 404 153 "-" "x\x0Ay"`,
		},
		{
			name: "unparsed request",
			e:    Entry{Addr: netip.MustParseAddr("127.0.0.1"), Time: at, Status: 400, BodyBytes: 157},
			want: `127.0.0.1 - - [TIME] "-" 400 157 "-" "-"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := &Log{timeSec: -1}
			got := string(l.append(nil, Combined, &tt.e))
			want := strings.Replace(tt.want, "TIME", at.Local().Format("02/Jan/2006:15:04:05 -0700"), 1) + "\n"
			if got != want {
				t.Errorf("line\n got %q\nwant %q", got, want)
			}
			if !combinedRE.MatchString(strings.TrimSuffix(got, "\n")) {
				t.Errorf("line %q does not parse as combined format", got)
			}
		})
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestBufferingAndFlush(t *testing.T) {
	p := filepath.Join(t.TempDir(), "access.log")
	l, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(1_700_000_000, 0)
	e := Entry{Time: t0, Request: []byte("GET / HTTP/1.1"), Status: 200}
	l.Write(Combined, &e)
	if s := readFile(t, p); s != "" {
		t.Fatalf("written before a flush: %q", s)
	}
	if err := l.Tick(t0.Add(FlushEvery / 2)); err != nil || readFile(t, p) != "" {
		t.Fatalf("Tick before FlushEvery wrote (err %v)", err)
	}
	if err := l.Tick(t0.Add(FlushEvery)); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(readFile(t, p), "\n"); n != 1 {
		t.Fatalf("after Tick: %d lines, want 1", n)
	}
	// A full buffer flushes by itself, whole lines only.
	big := Entry{Time: t0, Request: []byte("GET /" + strings.Repeat("x", 1000) + " HTTP/1.1"), Status: 200}
	n := 0
	for strings.Count(readFile(t, p), "\n") == 1 {
		l.Write(Combined, &big)
		n++
		if n > 1000 {
			t.Fatal("buffer never flushed")
		}
	}
	if s := readFile(t, p); !strings.HasSuffix(s, "\n") {
		t.Error("a flush cut a line")
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(readFile(t, p), "\n"); got != n+1 {
		t.Errorf("after Close: %d lines, want %d", got, n+1)
	}
}

func TestReopen(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "access.log")
	l, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	e := Entry{Time: time.Now(), Request: []byte("GET /one HTTP/1.1"), Status: 200}
	l.Write(Combined, &e)
	if err := os.Rename(p, p+".1"); err != nil { // logrotate
		t.Fatal(err)
	}
	if err := l.Reopen(); err != nil {
		t.Fatal(err)
	}
	e.Request = []byte("GET /two HTTP/1.1")
	l.Write(Combined, &e)
	l.Flush()
	if s := readFile(t, p+".1"); !strings.Contains(s, "/one") || strings.Contains(s, "/two") {
		t.Errorf("rotated file: %q", s)
	}
	if s := readFile(t, p); !strings.Contains(s, "/two") || strings.Contains(s, "/one") {
		t.Errorf("new file: %q", s)
	}
}

func TestOpenError(t *testing.T) {
	if _, err := Open(filepath.Join(t.TempDir(), "no", "such", "dir", "log")); err == nil {
		t.Error("Open in a missing directory succeeded")
	}
}
