//go:build linux

package proc

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// A reload's course, as the master tells it to whoever waits for it.
//
// The service manager (notify.go) sees RELOADING=1 when a reload begins
// and READY=1 when it is over, whichever way it ended. `nproxy -s reload`
// reads the verdict from the reload status file, PIDFILE.reload, which
// the master rewrites (whole, by rename) when a reload begins and when it
// ends:
//
//	started N      reloads begun since the master started
//	done M         the last one that ended (M = N: none under way)
//	ok | failed    how reload M ended
//	LINE...        for a failed one, the lines the master logged about it
//
// `-s reload` reads N, sends SIGHUP and waits for done > N: a reload that
// began after its signal (a SIGHUP during a reload makes the master
// reload once more when the first is over, so that one is waited for).

// reloadStatusSuffix names the status file after the pid file.
const reloadStatusSuffix = ".reload"

// reloadStatus is the content of the status file.
type reloadStatus struct {
	started, done int
	ok            bool
	lines         []string
}

func (s reloadStatus) String() string {
	verdict := "ok"
	if !s.ok {
		verdict = "failed"
	}
	out := fmt.Sprintf("started %d\ndone %d\n%s\n", s.started, s.done, verdict)
	for _, l := range s.lines {
		out += l + "\n"
	}
	return out
}

// parseReloadStatus reads a status file's content.
func parseReloadStatus(b []byte) (reloadStatus, error) {
	var s reloadStatus
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) < 3 {
		return s, errors.New("proc: reload status: too short")
	}
	var err1, err2 error
	s.started, err1 = strconv.Atoi(strings.TrimPrefix(lines[0], "started "))
	s.done, err2 = strconv.Atoi(strings.TrimPrefix(lines[1], "done "))
	if err1 != nil || err2 != nil || (lines[2] != "ok" && lines[2] != "failed") {
		return s, fmt.Errorf("proc: reload status: malformed %q", b)
	}
	s.ok, s.lines = lines[2] == "ok", lines[3:]
	return s, nil
}

// writeReloadStatus replaces the status file beside the pid file, if any.
func (m *master) writeReloadStatus() {
	if m.pid == nil {
		return
	}
	path := m.pid.path + reloadStatusSuffix
	if err := replaceFile(path, []byte(m.status.String())); err != nil {
		m.log.Warnf("reload status: %v", err)
	}
}

// replaceFile writes b to path whole: to a new file of a random name
// beside it (created, never opened through a link another user planted
// in a shared directory), then renamed over path.
func replaceFile(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	err = f.Chmod(0o644)
	if _, werr := f.Write(b); err == nil {
		err = werr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// reloadStarted marks the start of a reload.
func (m *master) reloadStarted() {
	m.status.started++
	m.writeReloadStatus()
	m.notifyf("RELOADING=1", "MONOTONIC_USEC="+monotonicUsec(), statusLine("reloading "+m.src.Name()))
}

// reloadSucceeded marks a reload whose new generation g took over.
func (m *master) reloadSucceeded(g *generation) {
	m.status.done, m.status.ok, m.status.lines = m.status.started, true, nil
	m.writeReloadStatus()
	m.notifyf("READY=1", statusLine(m.servingStatus(g)))
}

// reloadFailed logs a refused reload (why, after the detail lines the
// caller logged) and marks its end: the running configuration goes on.
func (m *master) reloadFailed(why string, detail ...string) {
	msg := "reload failed: " + why + ": keeping the running configuration"
	m.log.Errorf("%s", msg)
	m.status.done, m.status.ok = m.status.started, false
	m.status.lines = append(append([]string(nil), detail...), msg)
	m.writeReloadStatus()
	status := "reload failed: " + why
	if len(detail) > 0 {
		status += ": " + detail[0]
	}
	m.notifyf("READY=1", statusLine(status+"; serving the previous configuration"))
}

// servingStatus is the STATUS= text of a running generation.
func (m *master) servingStatus(g *generation) string {
	n := strconv.Itoa(len(g.slots)) + " workers"
	if len(g.slots) == 1 {
		n = "1 worker"
	}
	return "serving " + strings.Join(g.addrs, ", ") + " (" + g.backend + ", " + n + ")"
}

// notifyf sends lines to the service manager, logging a failure.
func (m *master) notifyf(lines ...string) {
	if err := m.notify.send(lines...); err != nil {
		m.log.Warnf("%v", err)
	}
}

// reloadWait bounds how long `-s reload` waits for the verdict: the
// master's own bound on new workers, and as long again for reading and
// checking the configuration (certificates, modules, host names).
const reloadWait = 2 * readyTimeout

// reloadAndWait sends SIGHUP to the master pid, whose pid file is
// pidPath, and waits for the verdict of the reload it causes. A master
// that keeps no status file (one started before this version) is only
// signalled.
func reloadAndWait(pid int, pidPath string) error {
	path := pidPath + reloadStatusSuffix
	before, err := readReloadStatus(path)
	legacy := errors.Is(err, os.ErrNotExist)
	if err != nil && !legacy {
		return err
	}
	if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
		return fmt.Errorf("proc: signal reload to pid %d: %w", pid, err)
	}
	if legacy {
		return nil
	}
	deadline := time.Now().Add(reloadWait)
	for {
		s, err := readReloadStatus(path)
		if err == nil && s.done > before.started {
			if s.ok {
				return nil
			}
			return fmt.Errorf("%w\n%s", ErrReloadRefused, strings.Join(s.lines, "\n"))
		}
		if !pidFileLocked(pidPath) {
			return fmt.Errorf("%w: the master (pid %d) exited during the reload", ErrNotRunning, pid)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("proc: no verdict on the reload from pid %d within %v (see its error log)", pid, reloadWait)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func readReloadStatus(path string) (reloadStatus, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return reloadStatus{}, err
	}
	return parseReloadStatus(b)
}
