package accesslog

import (
	"fmt"

	"github.com/nproxy/nproxy/syslog"
)

// openSyslog returns a Log sending to the syslog server of dest, a
// syslog: destination.
func openSyslog(dest string) (*Log, error) {
	t, err := syslog.Parse(dest)
	if err != nil {
		return nil, fmt.Errorf("accesslog: %w", err)
	}
	w, err := syslog.Open(t)
	if err != nil {
		return nil, fmt.Errorf("accesslog: %w", err)
	}
	return &Log{path: dest, buf: make([]byte, 0, 1024), timeSec: -1, sys: w}, nil
}

// send queues e's line in format f, one datagram at the target's
// severity with the header of e's time, for the next Tick or Flush
// (syslog.Writer.Queue: a UNIX socket's line is sent at once).
func (l *Log) send(f *Format, e *Entry) {
	l.buf = l.append(l.buf[:0], f, e)
	l.sys.Queue(e.Time, l.sys.Target().Severity, l.buf)
}

// Dropped returns how many lines a log sending to a syslog server could
// not send (its socket's buffer was full, or nobody listened); 0 for a
// file.
func (l *Log) Dropped() uint64 {
	if l.sys == nil {
		return 0
	}
	return l.sys.Dropped()
}
