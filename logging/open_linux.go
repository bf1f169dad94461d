package logging

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// ErrForeignLink is returned by New and Reopen when the log's path is a
// symbolic link owned by another user than this process's or root's.
var ErrForeignLink = errors.New("logging: the log file is another user's symbolic link")

// OpenAppend opens the log file at path for appending, creating it, as
// the logger does; the master also opens the workers' log files so
// (proc: user = NAME). See openAppend.
func OpenAppend(path string) (*os.File, error) { return openAppend(path) }

// openAppend opens path for appending, creating it, as a root master
// may safely do in a directory another user can write (user = NAME
// gives the workers' user the log directory, to rotate the logs): a
// symbolic link is followed only when it is this user's or root's (the
// administrator's, such as /dev/stderr), never one the other user put in
// the log's place to make root create or append to a file of their
// choosing (/etc/nologin). The link checked is the one followed: it is
// held open (O_PATH) while its target is read.
func openAppend(path string) (*os.File, error) {
	const flags = os.O_WRONLY | os.O_APPEND | os.O_CREATE
	f, err := os.OpenFile(path, flags|unix.O_NOFOLLOW, 0o644)
	if !errors.Is(err, unix.ELOOP) {
		return f, err
	}
	fd, err := unix.Open(path, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, &os.PathError{Op: "fstat", Path: path, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFLNK {
		return nil, fmt.Errorf("%s: %w", path, unix.ELOOP) // a directory link on the way: refused
	}
	if st.Uid != uint32(os.Geteuid()) && st.Uid != 0 {
		return nil, fmt.Errorf("%s: %w (owner %d)", path, ErrForeignLink, st.Uid)
	}
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(fd, "", buf)
	if err != nil {
		return nil, &os.PathError{Op: "readlink", Path: path, Err: err}
	}
	target := string(buf[:n])
	if !filepath.IsAbs(target) {
		target = filepath.Join(filepath.Dir(path), target)
	}
	return os.OpenFile(target, flags, 0o644)
}
