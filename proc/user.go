//go:build linux

package proc

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/nproxy/nproxy/config"
	"github.com/nproxy/nproxy/logging"
)

// Workers as another user (user = NAME in the configuration).
//
// A master started as root starts its workers with NAME's credentials:
// exec.Cmd's SysProcAttr.Credential makes the child call setgroups,
// setgid and setuid between fork and exec, so no instruction of a worker
// runs as root and the Go runtime of the worker never has to change the
// credentials of its threads. The parent-death signal survives it: Go
// arms PR_SET_PDEATHSIG after the switch, which would otherwise clear it.
// The master stays root: a reload binds new addresses and reads the
// files again.
//
// Log files are the exception to "the worker opens what it uses": as
// nginx does, the master creates the error log and the access logs and
// gives them to NAME, at the start, at each reload and at each reopen
// (SIGUSR1, after logrotate moved them away), so that a worker can
// append to a file in a directory only root may write.

// workerCredential returns the credentials the workers of cfg run with,
// or nil to keep the master's (no user key, or the master is not root).
func workerCredential(cfg *config.Config) *syscall.Credential {
	u := cfg.User
	if u == nil || os.Geteuid() != 0 {
		return nil
	}
	groups := make([]uint32, len(u.Groups))
	for i, g := range u.Groups {
		groups[i] = uint32(g)
	}
	return &syscall.Credential{Uid: uint32(u.UID), Gid: uint32(u.GID), Groups: groups}
}

// workerLogFiles lists the log files the workers of cfg append to.
func workerLogFiles(cfg *config.Config) []string {
	var out []string
	add := func(p string) {
		if strings.HasPrefix(p, "/") && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	if cfg.ErrorLog != "stderr" {
		add(cfg.ErrorLog)
	}
	for _, s := range cfg.Servers {
		add(s.AccessLog)
		for _, loc := range s.Locations {
			add(loc.Server.AccessLog)
		}
	}
	return out
}

// handOverLogs creates the log files of cfg's workers that do not exist
// and makes every one of them the workers' user's, when they run as one.
//
// It runs as root, at the start, on each reload and on each SIGUSR1
// (logrotate's postrotate), on files in a directory the workers' user
// may write (it must, to rotate them): that user could have put a
// symbolic or hard link to /etc/shadow in a log's place, and a chown
// through it would give them the file. So a symbolic link is followed
// only when it is root's (the administrator's, such as /dev/stderr:
// logging.OpenAppend), and a file with more than one name is not handed
// over.
func handOverLogs(cfg *config.Config) error {
	cred := workerCredential(cfg)
	if cred == nil {
		return nil
	}
	for _, p := range workerLogFiles(cfg) {
		if err := handOverLog(p, cred); err != nil {
			return fmt.Errorf("proc: log file for user %s: %w", cfg.User.Name, err)
		}
	}
	return nil
}

// handOverLog is handOverLogs for the log file at path.
func handOverLog(path string, cred *syscall.Credential) error {
	f, err := logging.OpenAppend(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return os.NewSyscallError("fstat", err)
	}
	if st.Uid == cred.Uid {
		return nil
	}
	if st.Nlink > 1 {
		return fmt.Errorf("%s: %w", path, ErrLogLinked)
	}
	return f.Chown(int(cred.Uid), int(cred.Gid))
}
