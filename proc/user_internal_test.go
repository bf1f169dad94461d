//go:build linux

package proc

import (
	"errors"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/nproxy/nproxy/logging"
)

// TestHandOverLogLinks checks that the root master gives the workers'
// user its log files only: a symbolic or hard link the user put in a
// log's place (its directory is the user's, to rotate the logs) would
// otherwise make the chown of a start, a reload or a SIGUSR1 give the
// user the file the link names (/etc/shadow).
func TestHandOverLogLinks(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: only a root master hands files over")
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("no user nobody: %v", err)
	}
	uid, _ := strconv.Atoi(nobody.Uid)
	gid, _ := strconv.Atoi(nobody.Gid)
	cred := &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	os.WriteFile(victim, []byte("root's\n"), 0o600)
	ownerOf := func(p string) uint32 {
		var st syscall.Stat_t
		if err := syscall.Lstat(p, &st); err != nil {
			t.Fatal(err)
		}
		return st.Uid
	}

	// The workers' user's links (they may write the log directory), and
	// the administrator's (root's).
	theirLink := func(to string) func(string) error {
		return func(p string) error {
			if err := os.Symlink(to, p); err != nil {
				return err
			}
			return os.Lchown(p, uid, gid)
		}
	}
	adminTarget := filepath.Join(dir, "admin-target")
	tests := []struct {
		name    string
		plant   func(p string) error
		wantErr error
		check   string // the file whose owner must be wantUID
		wantUID uint32
	}{
		{name: "new file", plant: func(string) error { return nil }, wantUID: uint32(uid)},
		{name: "root's file", plant: func(p string) error { return os.WriteFile(p, nil, 0o640) }, wantUID: uint32(uid)},
		{name: "their symbolic link", plant: theirLink(victim), wantErr: logging.ErrForeignLink, wantUID: uint32(uid)},
		{name: "their link to a device", plant: theirLink("/dev/null"), wantErr: logging.ErrForeignLink, wantUID: uint32(uid)},
		{name: "hard link", plant: func(p string) error { return os.Link(victim, p) }, wantErr: ErrLogLinked, wantUID: 0},
		{name: "root's link", plant: func(p string) error { return os.Symlink(adminTarget, p) }, check: adminTarget, wantUID: uint32(uid)},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, "log"+strconv.Itoa(i))
			if err := tt.plant(p); err != nil {
				t.Fatal(err)
			}
			if err := handOverLog(p, cred); !errors.Is(err, tt.wantErr) {
				t.Fatalf("handOverLog: %v, want %v", err, tt.wantErr)
			}
			check := p
			if tt.check != "" {
				check = tt.check
			}
			if got := ownerOf(check); got != tt.wantUID {
				t.Errorf("owner of %s: %d, want %d", check, got, tt.wantUID)
			}
			if got := ownerOf(victim); got != 0 {
				t.Fatalf("the link's target was handed over: owner %d", got)
			}
		})
	}
	if got := ownerOf("/dev/null"); got != 0 {
		t.Fatalf("/dev/null's owner: %d", got)
	}
}
