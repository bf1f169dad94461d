package logging

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
