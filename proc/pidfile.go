//go:build linux

package proc

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/nproxy/nproxy/config"
)

// pidFile is the master's pid file. The master holds an exclusive flock on
// it for its whole life: a second master is refused by the lock, not by
// guessing whether the pid written in it still belongs to nproxy (pids are
// reused), and `nproxy -s` tells a stale file from a live master the same
// way. The lock dies with the process, so a master killed with SIGKILL
// leaves a file the next one simply takes over.
type pidFile struct {
	path string
	f    *os.File
}

// createPIDFile locks path and writes this process's pid to it.
//
// The master is often root and the file's directory may be writable by
// others (/tmp, or a user's $XDG_RUNTIME_DIR kept by su): a symbolic
// link planted at path would make it truncate and write whatever file
// the link names. So the last component is opened without following a
// link, and the file must be a regular file of this user (or root's).
func createPIDFile(path string) (*pidFile, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW, 0o644)
	if err != nil {
		if errors.Is(err, unix.ELOOP) {
			return nil, fmt.Errorf("proc: pid file %s: %w", path, ErrUnsafePIDFile)
		}
		return nil, fmt.Errorf("proc: pid file: %w", err)
	}
	if err := checkOwnFile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("proc: pid file %s: %w", path, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			pid, _ := readPIDFile(path)
			return nil, fmt.Errorf("%w: pid file %s is held by pid %d", ErrRunning, path, pid)
		}
		return nil, fmt.Errorf("proc: pid file %s: %w", path, os.NewSyscallError("flock", err))
	}
	if err := f.Truncate(0); err != nil {
		f.Close()
		return nil, fmt.Errorf("proc: pid file: %w", err)
	}
	if _, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0); err != nil {
		f.Close()
		return nil, fmt.Errorf("proc: pid file: %w", err)
	}
	return &pidFile{path: path, f: f}, nil
}

// remove deletes the file and its reload status file, then drops the
// lock.
func (p *pidFile) remove() {
	if p == nil {
		return
	}
	os.Remove(p.path + reloadStatusSuffix)
	os.Remove(p.path)
	p.f.Close()
}

// checkOwnFile returns ErrUnsafePIDFile unless f is a regular file
// owned by this process's user or by root: a file another user made
// could name any pid for `-s` to signal, or be their link or device.
func checkOwnFile(f *os.File) error {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return os.NewSyscallError("fstat", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || (st.Uid != uint32(os.Geteuid()) && st.Uid != 0) {
		return ErrUnsafePIDFile
	}
	return nil
}

// readPIDFile reads the pid in path, a file checkOwnFile accepts.
func readPIDFile(path string) (int, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if errors.Is(err, unix.ELOOP) {
		return 0, fmt.Errorf("proc: pid file %s: %w", path, ErrUnsafePIDFile)
	}
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if err := checkOwnFile(f); err != nil {
		return 0, fmt.Errorf("proc: pid file %s: %w", path, err)
	}
	b, err := io.ReadAll(io.LimitReader(f, 64))
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("proc: pid file %s: bad content %q", path, strings.TrimSpace(string(b)))
	}
	return pid, nil
}

// pidFileLocked reports whether some process holds the pid file's lock,
// that is whether a master is alive behind it.
func pidFileLocked(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	err = unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB)
	return errors.Is(err, unix.EWOULDBLOCK)
}

// implicitPIDFile is the pid file of a master that runs the embedded
// default, which names none: `nproxy -s reload` with the same PATH,
// --listen and --port finds that master through it, as nginx finds its
// own through a compiled-in path. The name holds the listen addresses,
// so that two defaults on two ports each have theirs, and the user's id,
// for a directory several users share. It lives in $XDG_RUNTIME_DIR, else
// /run for root, else the temporary directory. "" for a configuration
// file.
func implicitPIDFile(cfg *config.Config) string {
	if cfg.File != config.DefaultName || cfg.PIDFile != "" {
		return ""
	}
	dir := os.Getenv("XDG_RUNTIME_DIR")
	if dir == "" {
		dir = os.TempDir()
		if os.Geteuid() == 0 {
			dir = "/run"
		}
	}
	var addrs []string
	for _, s := range cfg.Servers {
		addrs = append(addrs, s.Listen...)
	}
	name := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '.' {
			return r
		}
		return '_'
	}, strings.Join(addrs, ","))
	return filepath.Join(dir, "nproxy-"+strconv.Itoa(os.Geteuid())+"-"+name+".pid")
}

// Signals that `nproxy -s NAME` sends, as nginx names them.
var masterSignals = map[string]syscall.Signal{
	"stop":   syscall.SIGINT,  // immediate
	"quit":   syscall.SIGTERM, // graceful drain
	"reload": syscall.SIGHUP,
	"reopen": syscall.SIGUSR1,
}

// SignalMaster sends the signal `-s name` names to the master found through
// cfg's pid_file.
func SignalMaster(cfg *config.Config, name string) error {
	sig, ok := masterSignals[name]
	if !ok {
		return fmt.Errorf("proc: -s %q: want stop, quit, reload or reopen", name)
	}
	path := cfg.PIDFile
	if path == "" {
		if path = implicitPIDFile(cfg); path == "" {
			return fmt.Errorf("%w (%s has none)", ErrNoPIDFile, cfg.File)
		}
	}
	pid, err := readPIDFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%w: %s does not exist", ErrNotRunning, path)
	}
	if err != nil {
		return err
	}
	if !pidFileLocked(path) {
		return fmt.Errorf("%w: %s is stale (pid %d holds no lock on it)", ErrNotRunning, path, pid)
	}
	if sig == syscall.SIGHUP {
		return reloadAndWait(pid, path)
	}
	if err := syscall.Kill(pid, sig); err != nil {
		return fmt.Errorf("proc: signal %s to pid %d: %w", name, pid, err)
	}
	return nil
}
