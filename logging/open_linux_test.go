package logging

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestOpenForeignLink checks that the log is never opened through a
// symbolic link of another user: a root master's error log sits in a
// directory the workers' user may write (user = NAME), and a link put
// there in the log's place would make root create and append to any
// file (reproduced with /etc/nologin's like); the administrator's own
// link (root's, this user's) is followed.
func TestOpenForeignLink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	own := filepath.Join(dir, "own.log")
	if err := os.Symlink(target, own); err != nil {
		t.Fatal(err)
	}
	l, err := New(own, Info)
	if err != nil {
		t.Fatalf("New through this user's link: %v", err)
	}
	l.Infof("through the link")
	l.Close()
	if b, _ := os.ReadFile(target); len(b) == 0 {
		t.Fatal("this user's link was not followed")
	}
	os.Remove(target)

	if os.Geteuid() != 0 {
		t.Skip("needs root to give a link to another user")
	}
	foreign := filepath.Join(dir, "foreign.log")
	if err := os.Symlink(target, foreign); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(foreign, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if l, err := New(foreign, Info); !errors.Is(err, ErrForeignLink) {
		if l != nil {
			l.Close()
		}
		t.Fatalf("New through another user's link: %v, want ErrForeignLink", err)
	}
	if _, err := os.Stat(target); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the foreign link's target was created: %v", err)
	}
}
