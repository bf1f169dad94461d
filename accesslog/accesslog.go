// Package accesslog writes the access log: one line per request, in a
// format compiled from a log_format template (format.go) with nginx's
// variables; "combined" (nginx's) and "json" are built in:
//
//	$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"
//
// Values from the request are escaped as the format says (Escape): by
// default as nginx escapes them ('"', '\' and bytes outside printable
// ASCII become \xHH, an empty value is "-"), or as JSON string contents.
//
// # Buffering
//
// A Log belongs to one worker loop (no locks) and buffers lines in memory
// (BufferSize); the buffer is written with one write(2) when the next line
// would not fit, when Tick finds it older than FlushEvery, and on Flush
// (the server flushes when it drains or stops). So a request costs no
// system call, and a log line appears within about a second. The file is
// opened with O_APPEND and a flush writes whole lines, so several workers
// can share one file without tearing lines. Writing a line allocates
// nothing.
//
// Reopen (SIGUSR1, after log rotation) flushes to the old file and opens
// the path again.
//
// # Syslog
//
// A log whose path is a syslog: destination (syslog.Parse) sends each
// line as one datagram to the syslog server, without blocking
// (syslog.Writer): over UDP the lines of a turn of the event loop go
// out together at its end (Tick, one sendmmsg), to a UNIX socket each
// at once; the lines the kernel refuses are counted, and Tick reports
// them.
package accesslog

import (
	"fmt"

	"net/netip"
	"os"
	"time"

	"github.com/nproxy/nproxy/http"
	"github.com/nproxy/nproxy/syslog"
	"github.com/nproxy/nproxy/vars"
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

	// The $time_local and $time_iso8601 texts of the second timeSec,
	// reused for every line of that second.
	timeSec int64
	timeBuf []byte
	isoBuf  []byte
	condBuf []byte // scratch for a format's condition

	// The maps' results of the line being written (maps.go), and
	// scratch for computing them.
	format         *Format
	entry          *Entry
	maps           vars.MapCache
	vals           vars.Values
	srcBuf, valBuf []byte
	addrBuf        []byte

	sys *syslog.Writer // the syslog server a syslog: path sends to; nil for a file
}

// Open opens path for appending, creating it with mode 0644, or, for a
// syslog: destination, a socket to the syslog server (openSyslog).
func Open(path string) (*Log, error) {
	if syslog.IsTarget(path) {
		return openSyslog(path)
	}
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
// during Write only. A server fills in what the line's format uses
// (Format.Uses); what it leaves empty logs as an empty value.
type Entry struct {
	Addr       netip.Addr // client address; the zero Addr logs empty
	Time       time.Time  // when the response was sent
	Status     int
	BodyBytes  int64
	BytesSent  int64 // head and body
	DurationNs int64 // from the request's first byte; $request_time

	Request    []byte // the request line without CRLF
	Method     []byte
	RequestURI []byte
	URI        []byte
	Args       []byte
	Host       []byte
	Protocol   string // "HTTP/1.1"
	Scheme     string
	ServerName string
	ServerPort string
	RequestID  []byte // 32 hex digits
	// Headers are the values of the format's $http_NAME fields
	// (Format.Headers, same order); nil for a field the request lacks.
	Headers [MaxHeaders][]byte
	// Upstream is the backends a proxied request tried; nil otherwise.
	Upstream *http.StreamLog
}

// byteLen is the number of bytes of e's byte-slice fields.
func (e *Entry) byteLen() int {
	n := len(e.Request) + len(e.Method) + len(e.RequestURI) + len(e.URI) + len(e.Args) + len(e.Host) + len(e.RequestID)
	for _, h := range e.Headers {
		n += len(h)
	}
	return n
}

// CopyBytes makes e's byte-slice fields views of buf (reused, grown at
// most once) instead of the request buffer they point into, so that e
// outlives the request head (a streamed exchange). It returns the buffer.
func (e *Entry) CopyBytes(buf []byte) []byte {
	if need := e.byteLen(); cap(buf) < need {
		buf = make([]byte, 0, need)
	}
	buf = buf[:0]
	cp := func(b []byte) []byte {
		if b == nil {
			return nil
		}
		off := len(buf)
		buf = append(buf, b...)
		return buf[off:len(buf):len(buf)]
	}
	e.Request, e.Method, e.RequestURI, e.URI = cp(e.Request), cp(e.Method), cp(e.RequestURI), cp(e.URI)
	e.Args, e.Host, e.RequestID = cp(e.Args), cp(e.Host), cp(e.RequestID)
	for i := range e.Headers {
		e.Headers[i] = cp(e.Headers[i])
	}
	return buf
}

// Write appends e's line in format f to the buffer, flushing first if it
// would not fit. It returns the error of that flush, if any (the line is
// kept).
//
// A format with a condition (Format.WithCondition) writes nothing when
// the condition's variable is empty or "0".
func (l *Log) Write(f *Format, e *Entry) error {
	if f.Uses(VarMap) {
		l.format = f
		l.maps.Reset()
	}
	if f.cond != nil {
		l.condBuf = l.appendVar(l.condBuf[:0], EscapeNone, f.cond, e)
		if len(l.condBuf) == 0 || string(l.condBuf) == "0" {
			return nil
		}
	}
	if l.sys != nil {
		l.send(f, e)
		return nil
	}
	var err error
	if len(l.buf) > BufferSize-maxLine(f, e) {
		err = l.Flush()
	}
	if len(l.buf) == 0 {
		l.first = e.Time.UnixNano()
	}
	l.buf = l.append(l.buf, f, e)
	return err
}

// maxLine bounds the length of e's line in f: the literal text, every
// value's byte escaped at most 6 bytes long, and room for the numbers,
// times and addresses.
func maxLine(f *Format, e *Entry) int {
	return f.fixed + 6*e.byteLen() + 64*len(f.ops) + 256
}

// Tick flushes the buffer when its oldest line is FlushEvery old; the
// server calls it from the loop after every poll, at least once a
// second. For a syslog server it sends the lines queued since its last
// call, and returns the lines dropped since its last report, at most
// once a FlushEvery.
func (l *Log) Tick(now time.Time) error {
	if l.sys != nil {
		l.sys.Flush(now)
		// first is the time of the last report: one a FlushEvery.
		if now.UnixNano()-l.first < int64(FlushEvery) {
			return nil
		}
		l.first = now.UnixNano()
		_, err := l.sys.TakeDropped()
		return err
	}
	if len(l.buf) == 0 || now.UnixNano()-l.first < int64(FlushEvery) {
		return nil
	}
	return l.Flush()
}

// Flush writes the buffered lines. On a write error the lines are dropped
// (an access log must not grow memory without bound) and the error is
// returned.
func (l *Log) Flush() error {
	if l.sys != nil {
		l.sys.Flush(time.Now())
		return nil
	}
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
// stays in use. A syslog server's socket needs nothing.
func (l *Log) Reopen() error {
	if l.sys != nil {
		return nil
	}
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

// Close flushes and closes the file, or the syslog socket.
func (l *Log) Close() error {
	if l.sys != nil {
		return l.sys.Close()
	}
	err := l.Flush()
	if l.f != nil {
		if cerr := l.f.Close(); err == nil {
			err = cerr
		}
		l.f = nil
	}
	return err
}
