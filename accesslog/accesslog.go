// Package accesslog writes nginx's "combined" access log format, one line
// per request:
//
//	$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"
//
// ($remote_user is always "-": nproxy has no authentication.) Strings
// from the request are escaped as nginx escapes them: '"', '\' and bytes
// outside printable ASCII become \xHH; an absent header is "-".
//
// # Buffering
//
// A Log belongs to one worker loop (no locks) and buffers lines in memory
// (BufferSize); the buffer is written with one write(2) when the next line
// would not fit, when Tick finds it older than FlushEvery, and on Flush
// (the server flushes when it drains or stops). So a request costs no
// system call, and a log line appears within about a second. The file is
// opened with O_APPEND and a flush writes whole lines, so several workers
// can share one file without tearing lines.
//
// Reopen (SIGUSR1, after log rotation) flushes to the old file and opens
// the path again.
package accesslog

import (
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"time"
)

// BufferSize is the per-worker buffer: large enough that a busy worker
// writes once per several hundred requests, small enough to lose little
// if the worker is killed.
const BufferSize = 64 << 10

// FlushEvery bounds how long a line waits in the buffer.
const FlushEvery = time.Second

// Log is one access log file as seen by one worker.
type Log struct {
	path  string
	f     *os.File
	buf   []byte
	first int64 // when the oldest buffered line was written, unix ns

	// The $time_local text of the second timeSec, reused for every line
	// of that second.
	timeSec int64
	timeBuf []byte
}

// Open opens path for appending, creating it with mode 0644.
func Open(path string) (*Log, error) {
	l := &Log{path: path, buf: make([]byte, 0, BufferSize), timeSec: -1}
	if err := l.open(); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *Log) open() error {
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("accesslog: %w", err)
	}
	l.f = f
	return nil
}

// Path returns the file's path.
func (l *Log) Path() string { return l.path }

// Entry is what one line says about a request. The byte slices are read
// during Write only.
type Entry struct {
	Addr      netip.Addr // client address; the zero Addr logs "-"
	Time      time.Time  // when the response was sent
	Request   []byte     // the request line without CRLF; empty logs "-"
	Status    int
	BodyBytes int64
	Referer   []byte // nil when the request had no Referer
	UserAgent []byte // nil when the request had no User-Agent
}

// Write appends e's line to the buffer, flushing first if it would not
// fit. It returns the error of that flush, if any (the line is kept).
func (l *Log) Write(e *Entry) error {
	var err error
	if len(l.buf) > BufferSize-maxLine(e) {
		err = l.Flush()
	}
	if len(l.buf) == 0 {
		l.first = e.Time.UnixNano()
	}
	l.buf = l.append(l.buf, e)
	return err
}

// maxLine bounds the length of e's line: fixed parts plus every escaped
// byte taking four.
func maxLine(e *Entry) int {
	return 128 + 4*(len(e.Request)+len(e.Referer)+len(e.UserAgent))
}

func (l *Log) append(b []byte, e *Entry) []byte {
	if e.Addr.IsValid() {
		b = e.Addr.AppendTo(b)
	} else {
		b = append(b, '-')
	}
	b = append(b, " - - ["...)
	b = append(b, l.timeLocal(e.Time)...)
	b = append(b, "] \""...)
	b = appendEscaped(b, e.Request)
	b = append(b, "\" "...)
	b = strconv.AppendInt(b, int64(e.Status), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, e.BodyBytes, 10)
	b = append(b, " \""...)
	b = appendEscaped(b, e.Referer)
	b = append(b, "\" \""...)
	b = appendEscaped(b, e.UserAgent)
	return append(b, "\"\n"...)
}

// timeLocal returns t as nginx's $time_local ("02/Jan/2006:15:04:05
// -0700"), formatted once per second.
func (l *Log) timeLocal(t time.Time) []byte {
	if sec := t.Unix(); sec != l.timeSec {
		l.timeSec = sec
		l.timeBuf = t.Local().AppendFormat(l.timeBuf[:0], "02/Jan/2006:15:04:05 -0700")
	}
	return l.timeBuf
}

// Tick flushes the buffer when its oldest line is FlushEvery old; the
// server calls it from the loop about once a second.
func (l *Log) Tick(now time.Time) error {
	if len(l.buf) == 0 || now.UnixNano()-l.first < int64(FlushEvery) {
		return nil
	}
	return l.Flush()
}

// Flush writes the buffered lines. On a write error the lines are dropped
// (an access log must not grow memory without bound) and the error is
// returned.
func (l *Log) Flush() error {
	if len(l.buf) == 0 || l.f == nil {
		return nil
	}
	_, err := l.f.Write(l.buf) // os.File.Write retries partial writes
	l.buf = l.buf[:0]
	if err != nil {
		return fmt.Errorf("accesslog: %w", err)
	}
	return nil
}

// Reopen flushes to the current file and opens the path again (after
// log rotation moved the old file away). If the open fails the old file
// stays in use.
func (l *Log) Reopen() error {
	ferr := l.Flush()
	old := l.f
	if err := l.open(); err != nil {
		l.f = old
		return err
	}
	if old != nil {
		old.Close()
	}
	return ferr
}

// Close flushes and closes the file.
func (l *Log) Close() error {
	err := l.Flush()
	if l.f != nil {
		if cerr := l.f.Close(); err == nil {
			err = cerr
		}
		l.f = nil
	}
	return err
}

const hexDigits = "0123456789ABCDEF"

// appendEscaped appends s as nginx escapes variables in a log line, or
// "-" when s is empty.
func appendEscaped(b, s []byte) []byte {
	if len(s) == 0 {
		return append(b, '-')
	}
	for _, c := range s {
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			b = append(b, '\\', 'x', hexDigits[c>>4], hexDigits[c&15])
			continue
		}
		b = append(b, c)
	}
	return b
}
