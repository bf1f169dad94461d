//go:build linux

package proc

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestPIDFileRefusesLink checks that the pid file and the reload status
// file are never written through a symbolic link planted in their
// directory (a shared /tmp, or a user's $XDG_RUNTIME_DIR under a root
// master): the master would truncate and write the file the link names.
func TestPIDFileRefusesLink(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	os.WriteFile(victim, []byte("SECRET\n"), 0o600)
	pid := filepath.Join(dir, "nproxy.pid")
	if err := os.Symlink(victim, pid); err != nil {
		t.Fatal(err)
	}
	if p, err := createPIDFile(pid); !errors.Is(err, ErrUnsafePIDFile) {
		p.remove()
		t.Fatalf("createPIDFile through a link: %v, want ErrUnsafePIDFile", err)
	}
	if _, err := readPIDFile(pid); !errors.Is(err, ErrUnsafePIDFile) {
		t.Fatalf("readPIDFile through a link: %v, want ErrUnsafePIDFile", err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "SECRET\n" {
		t.Fatalf("the link's target was written: %q", b)
	}

	// A FIFO is no pid file either.
	fifo := filepath.Join(dir, "fifo.pid")
	if err := unix.Mkfifo(fifo, 0o644); err == nil {
		if _, err := createPIDFile(fifo); !errors.Is(err, ErrUnsafePIDFile) {
			t.Fatalf("createPIDFile of a FIFO: %v, want ErrUnsafePIDFile", err)
		}
	}

	// The status file: the old fixed temporary name, planted as a link,
	// is not followed.
	os.Remove(pid)
	p, err := createPIDFile(pid)
	if err != nil {
		t.Fatal(err)
	}
	defer p.remove()
	for _, name := range []string{pid + reloadStatusSuffix + ".tmp", pid + reloadStatusSuffix} {
		if err := os.Symlink(victim, name); err != nil {
			t.Fatal(err)
		}
	}
	m := &master{pid: p}
	m.status.ok = true
	m.writeReloadStatus()
	if b, _ := os.ReadFile(victim); string(b) != "SECRET\n" {
		t.Fatalf("the status file was written through a link: %q", b)
	}
	if fi, err := os.Lstat(pid + reloadStatusSuffix); err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("status file: %v, %v; want a regular file in place of the link", fi, err)
	}
	if s, err := readReloadStatus(pid + reloadStatusSuffix); err != nil || !s.ok {
		t.Fatalf("status file: %+v, %v", s, err)
	}
	left, _ := filepath.Glob(pid + reloadStatusSuffix + ".*.tmp")
	if len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
}
