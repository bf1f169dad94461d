// Package logging is nproxy's leveled error log: one line per event, with
// a timestamp, the level and the process id, written to stderr, a file
// that SIGUSR1 reopens (for log rotation), or a syslog server (a
// syslog: destination, as nginx's error_log syslog:server=...: one
// datagram per line, at the line's level as the severity).
package logging

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/nproxy/nproxy/syslog"
)

// Level orders messages by severity.
type Level int

// Levels, most severe first, as nginx names them.
const (
	Error Level = iota
	Warn
	Info
	Debug
)

var levelNames = [...]string{"error", "warn", "info", "debug"}

// ParseLevel returns the level named s.
func ParseLevel(s string) (Level, error) {
	for i, n := range levelNames {
		if strings.EqualFold(s, n) {
			return Level(i), nil
		}
	}
	return Info, fmt.Errorf("logging: unknown level %q", s)
}

// MaxLinesPerSecond bounds the lines one process writes in a second of
// the clock: a flood of failing requests, each of which logs a line
// (upstream refused or timed out, a bad request body), cannot fill the
// disk. The lines past it are dropped and counted; the count is written
// before the first line of a later second.
const MaxLinesPerSecond = 100

// Logger writes leveled lines. It is safe for concurrent use.
type Logger struct {
	mu    sync.Mutex
	level Level
	path  string // "" or "stderr" for standard error
	f     *os.File
	pid   int

	// The rate limit: lines written in second sec, lines dropped since.
	sec     int64
	count   int
	dropped int
	now     func() time.Time // time.Now; tests set it

	json bool // one JSON object per line (SetJSON)

	sys *syslog.Writer // the syslog server of a syslog: path, else nil
}

// severities are the syslog severities of the levels.
var severities = [...]int{syslog.SevError, syslog.SevWarn, syslog.SevInfo, syslog.SevDebug}

// SetJSON makes the logger write one JSON object per line,
// {"time":"2006-01-02T15:04:05.000Z07:00","level":"error","pid":N,"msg":"..."},
// for log shippers (error_log_format = json); off, lines are nginx's.
func (l *Logger) SetJSON(on bool) {
	l.mu.Lock()
	l.json = on
	l.mu.Unlock()
}

// New returns a logger writing messages up to level to path ("stderr" or
// "" for standard error, a syslog: destination, else a file opened for
// appending).
func New(path string, level Level) (*Logger, error) {
	l := &Logger{level: level, path: path, pid: os.Getpid()}
	if syslog.IsTarget(path) {
		t, err := syslog.Parse(path)
		if err != nil {
			return nil, fmt.Errorf("logging: %w", err)
		}
		if l.sys, err = syslog.Open(t); err != nil {
			return nil, fmt.Errorf("logging: %w", err)
		}
		l.f = os.Stderr // after Close
		return l, nil
	}
	if err := l.Reopen(); err != nil {
		return nil, err
	}
	return l, nil
}

// Stderr returns a logger to standard error at level Info.
func Stderr() *Logger { return &Logger{level: Info, f: os.Stderr, pid: os.Getpid()} }

// Reopen reopens the log file (after rotation); stderr and a syslog
// server need nothing.
func (l *Logger) Reopen() error {
	l.mu.Lock()
	sys := l.sys
	l.mu.Unlock()
	if sys != nil {
		return nil
	}
	if l.path == "" || l.path == "stderr" {
		l.mu.Lock()
		l.f = os.Stderr
		l.mu.Unlock()
		return nil
	}
	f, err := openAppend(l.path)
	if err != nil {
		return fmt.Errorf("logging: %w", err)
	}
	l.mu.Lock()
	old := l.f
	l.f = f
	l.mu.Unlock()
	if old != nil && old != os.Stderr {
		old.Close()
	}
	return nil
}

// Close closes the log file (a reload that changes error_log closes the
// old one); standard error stays open. Lines logged after Close go to
// standard error.
func (l *Logger) Close() error {
	l.mu.Lock()
	f, sys := l.f, l.sys
	l.f, l.path, l.sys = os.Stderr, "stderr", nil
	l.mu.Unlock()
	if sys != nil {
		return sys.Close()
	}
	if f == nil || f == os.Stderr {
		return nil
	}
	return f.Close()
}

// Enabled reports whether messages at lv are written.
func (l *Logger) Enabled(lv Level) bool { return lv <= l.level }

// Logf writes one line at level lv.
// Past MaxLinesPerSecond lines in a second, the line is dropped.
func (l *Logger) Logf(lv Level, format string, args ...any) {
	if lv > l.level {
		return
	}
	now := time.Now()
	if l.now != nil {
		now = l.now()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if sec := now.Unix(); sec != l.sec {
		l.sec, l.count = sec, 0
		if l.dropped > 0 {
			l.writeLocked(now, Warn, fmt.Sprintf("%d log lines dropped: more than %d in a second", l.dropped, MaxLinesPerSecond))
			l.dropped = 0
		}
		if l.sys != nil {
			if _, err := l.sys.TakeDropped(); err != nil {
				l.writeLocked(now, Warn, err.Error())
			}
		}
	}
	if l.count >= MaxLinesPerSecond {
		l.dropped++
		return
	}
	l.count++
	l.writeLocked(now, lv, fmt.Sprintf(format, args...))
}

// writeLocked writes one line: to the file, or as one datagram to the
// syslog server, where the header has the time and the level is the
// severity, so the line is "[LEVEL] PID: MESSAGE" (or the JSON object).
// l.mu is held.
func (l *Logger) writeLocked(now time.Time, lv Level, msg string) {
	if l.sys == nil {
		l.f.WriteString(l.format(now, lv, msg))
		return
	}
	var line string
	if l.json {
		line = l.format(now, lv, msg)
	} else {
		line = fmt.Sprintf("[%s] %d: %s", levelNames[lv], l.pid, msg)
	}
	l.sys.Send(now, severities[lv], []byte(line))
}

// Dropped returns how many lines the logger could not send to its
// syslog server (a full socket buffer, nobody listening); 0 for a file.
func (l *Logger) Dropped() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.sys == nil {
		return 0
	}
	return l.sys.Dropped()
}

// format returns one line of the log.
func (l *Logger) format(now time.Time, lv Level, msg string) string {
	if l.json {
		m, _ := json.Marshal(msg) // a string always marshals; invalid UTF-8 becomes U+FFFD
		return fmt.Sprintf(`{"time":"%s","level":"%s","pid":%d,"msg":%s}`+"\n", now.Format("2006-01-02T15:04:05.000Z07:00"), levelNames[lv], l.pid, m)
	}
	return fmt.Sprintf("%s [%s] %d: %s\n", now.Format("2006/01/02 15:04:05"), levelNames[lv], l.pid, msg)
}

// Errorf logs at level Error.
func (l *Logger) Errorf(format string, args ...any) { l.Logf(Error, format, args...) }

// Warnf logs at level Warn.
func (l *Logger) Warnf(format string, args ...any) { l.Logf(Warn, format, args...) }

// Infof logs at level Info.
func (l *Logger) Infof(format string, args ...any) { l.Logf(Info, format, args...) }

// Debugf logs at level Debug.
func (l *Logger) Debugf(format string, args ...any) { l.Logf(Debug, format, args...) }
