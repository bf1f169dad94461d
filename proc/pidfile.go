//go:build linux

package proc

import (
	"errors"
	"fmt"
	"os"
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
func createPIDFile(path string) (*pidFile, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("proc: pid file: %w", err)
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

// remove deletes the file, then drops the lock.
func (p *pidFile) remove() {
	if p == nil {
		return
	}
	os.Remove(p.path)
	p.f.Close()
}

func readPIDFile(path string) (int, error) {
	b, err := os.ReadFile(path)
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
	if cfg.PIDFile == "" {
		return fmt.Errorf("%w (%s has none)", ErrNoPIDFile, cfg.File)
	}
	pid, err := readPIDFile(cfg.PIDFile)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%w: %s does not exist", ErrNotRunning, cfg.PIDFile)
	}
	if err != nil {
		return err
	}
	if !pidFileLocked(cfg.PIDFile) {
		return fmt.Errorf("%w: %s is stale (pid %d holds no lock on it)", ErrNotRunning, cfg.PIDFile, pid)
	}
	if err := syscall.Kill(pid, sig); err != nil {
		return fmt.Errorf("proc: signal %s to pid %d: %w", name, pid, err)
	}
	return nil
}
