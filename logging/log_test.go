package logging

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLevelsAndReopen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "error.log")
	l, err := New(path, Warn)
	if err != nil {
		t.Fatal(err)
	}
	l.Infof("not written: %d", 1)
	l.Warnf("written: %d", 2)
	// Rotation: the file is moved away, Reopen creates a new one.
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := l.Reopen(); err != nil {
		t.Fatal(err)
	}
	l.Errorf("after reopen")
	old, _ := os.ReadFile(path + ".1")
	cur, _ := os.ReadFile(path)
	if strings.Contains(string(old), "not written") || !strings.Contains(string(old), "[warn]") || !strings.Contains(string(old), "written: 2") {
		t.Errorf("rotated file: %q", old)
	}
	if !strings.Contains(string(cur), "[error]") || !strings.Contains(string(cur), "after reopen") {
		t.Errorf("reopened file: %q", cur)
	}
}

func TestParseLevel(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Level
		ok   bool
	}{{"error", Error, true}, {"WARN", Warn, true}, {"info", Info, true}, {"debug", Debug, true}, {"loud", Info, false}} {
		got, err := ParseLevel(tt.in)
		if (err == nil) != tt.ok || (tt.ok && got != tt.want) {
			t.Errorf("ParseLevel(%q) = %v, %v", tt.in, got, err)
		}
	}
}

// openCount returns how many of this process's descriptors name path.
func openCount(t *testing.T, path string) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	n := 0
	for _, e := range ents {
		if target, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name())); err == nil && target == path {
			n++
		}
	}
	return n
}

// TestCloseReleasesFile checks that Close lets the log file go (a reload
// that changes error_log must not keep the old file open) and that a
// line logged afterwards does not reach it.
func TestCloseReleasesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "error.log")
	l, err := New(path, Info)
	if err != nil {
		t.Fatal(err)
	}
	if n := openCount(t, path); n != 1 {
		t.Fatalf("%d descriptors name %s after New, want 1", n, path)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if n := openCount(t, path); n != 0 {
		t.Fatalf("%d descriptors name %s after Close, want 0", n, path)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := Stderr().Close(); err != nil {
		t.Fatalf("Close of the stderr logger: %v", err)
	}
	before, _ := os.ReadFile(path)
	l.Infof("after close")
	if after, _ := os.ReadFile(path); len(after) != len(before) {
		t.Fatalf("a line logged after Close reached the file: %q", after)
	}
}

// TestRateLimit: past MaxLinesPerSecond lines in a second the rest are
// dropped, and their count is written with the first line of a later
// second.
func TestRateLimit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "error.log")
	l, err := New(path, Info)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	now := time.Unix(1_700_000_000, 0)
	l.now = func() time.Time { return now }
	for i := 0; i < MaxLinesPerSecond+50; i++ {
		l.Errorf("flood %d", i)
	}
	now = now.Add(time.Second)
	l.Errorf("after")
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != MaxLinesPerSecond+2 {
		t.Fatalf("%d lines, want %d", len(lines), MaxLinesPerSecond+2)
	}
	if !strings.Contains(lines[MaxLinesPerSecond-1], fmt.Sprintf("flood %d", MaxLinesPerSecond-1)) {
		t.Errorf("last line of the first second: %q", lines[MaxLinesPerSecond-1])
	}
	if !strings.Contains(lines[MaxLinesPerSecond], "[warn]") || !strings.Contains(lines[MaxLinesPerSecond], "50 log lines dropped") {
		t.Errorf("drop count line: %q", lines[MaxLinesPerSecond])
	}
	if !strings.HasSuffix(lines[MaxLinesPerSecond+1], "after") {
		t.Errorf("line after the flood: %q", lines[MaxLinesPerSecond+1])
	}
}

// TestJSONLines: with SetJSON every line is one JSON object with the
// time, level, pid and message, whatever bytes the message holds.
func TestJSONLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "error.log")
	l, err := New(path, Info)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.SetJSON(true)
	l.Errorf("proxy: %s \"quoted\"\nnext line \xff", "10.0.0.1:80")
	l.Infof("plain")
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2: %q", len(lines), b)
	}
	for i, want := range []struct{ level, msg string }{
		{"error", "proxy: 10.0.0.1:80 \"quoted\"\nnext line \ufffd"},
		{"info", "plain"},
	} {
		var m struct {
			Time, Level, Msg string
			PID              int
		}
		if err := json.Unmarshal([]byte(lines[i]), &m); err != nil {
			t.Fatalf("line %d %q: %v", i, lines[i], err)
		}
		if m.Level != want.level || m.Msg != want.msg || m.PID != os.Getpid() {
			t.Errorf("line %d: %+v", i, m)
		}
		if _, err := time.Parse("2006-01-02T15:04:05.000Z07:00", m.Time); err != nil {
			t.Errorf("line %d: time %q: %v", i, m.Time, err)
		}
	}
}
