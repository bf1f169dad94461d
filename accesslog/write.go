package accesslog

import (
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/nproxy/nproxy/http"
)

// append appends e's line in format f, with its newline.
func (l *Log) append(b []byte, f *Format, e *Entry) []byte {
	for i := range f.ops {
		o := &f.ops[i]
		if o.v == literal {
			b = append(b, o.lit...)
			continue
		}
		b = l.appendVar(b, f.escape, o, e)
	}
	return append(b, '\n')
}

// appendVar appends one variable's value, escaped as esc says.
func (l *Log) appendVar(b []byte, esc Escape, o *op, e *Entry) []byte {
	switch o.v {
	case VarRemoteAddr:
		if !e.Addr.IsValid() {
			return appendEmpty(b, esc)
		}
		return e.Addr.AppendTo(b)
	case VarRemoteUser:
		return appendEmpty(b, esc)
	case VarTimeLocal:
		l.formatTimes(e.Time)
		return append(b, l.timeBuf...)
	case VarTimeISO8601:
		l.formatTimes(e.Time)
		return append(b, l.isoBuf...)
	case VarMsec:
		return appendMillis(b, e.Time.UnixMilli())
	case VarRequest:
		return appendValue(b, esc, e.Request)
	case VarRequestMethod:
		return appendValue(b, esc, e.Method)
	case VarRequestURI:
		return appendValue(b, esc, e.RequestURI)
	case VarURI:
		return appendValue(b, esc, e.URI)
	case VarArgs:
		return appendValue(b, esc, e.Args)
	case VarScheme:
		return appendValue(b, esc, e.Scheme)
	case VarServerProtocol:
		return appendValue(b, esc, e.Protocol)
	case VarHost:
		return appendValue(b, esc, e.Host)
	case VarServerName:
		return appendValue(b, esc, e.ServerName)
	case VarServerPort:
		return appendValue(b, esc, e.ServerPort)
	case VarStatus:
		return strconv.AppendInt(b, int64(e.Status), 10)
	case VarBodyBytesSent:
		return strconv.AppendInt(b, e.BodyBytes, 10)
	case VarBytesSent:
		return strconv.AppendInt(b, e.BytesSent, 10)
	case VarRequestTime:
		return appendMillis(b, max(e.DurationNs, 0)/int64(time.Millisecond))
	case VarRequestID:
		return appendValue(b, esc, e.RequestID)
	case VarHTTP:
		return appendValue(b, esc, e.Headers[o.hdr])
	case VarMap:
		return appendValue(b, esc, l.mapValue(o, e))
	case VarUpstreamAddr, VarUpstreamStatus, VarUpstreamConnectTime, VarUpstreamResponseTime:
		return appendUpstream(b, esc, o.v, e.Upstream)
	}
	return b
}

// appendUpstream appends an $upstream_ variable: one value per attempt,
// ", " between them, as nginx writes them; empty without a proxied
// attempt. A time that is unknown (no connection made) is "-".
func appendUpstream(b []byte, esc Escape, v Var, u *http.StreamLog) []byte {
	if u == nil || u.N == 0 {
		return appendEmpty(b, esc)
	}
	for i := 0; i < u.N; i++ {
		t := &u.Tries[i]
		if i > 0 {
			b = append(b, ", "...)
		}
		switch v {
		case VarUpstreamAddr:
			b = appendValue(b, esc, t.Addr)
		case VarUpstreamStatus:
			if t.Status == 0 {
				b = append(b, '-')
			} else {
				b = strconv.AppendInt(b, int64(t.Status), 10)
			}
		case VarUpstreamConnectTime:
			b = appendSeconds(b, t.ConnectNs)
		case VarUpstreamResponseTime:
			b = appendSeconds(b, t.ResponseNs)
		}
	}
	return b
}

// appendSeconds appends ns as seconds with milliseconds, "-" when
// negative (unknown).
func appendSeconds(b []byte, ns int64) []byte {
	if ns < 0 {
		return append(b, '-')
	}
	return appendMillis(b, ns/int64(time.Millisecond))
}

// appendMillis appends ms milliseconds as seconds: "0.003", "12.345".
func appendMillis(b []byte, ms int64) []byte {
	b = strconv.AppendInt(b, ms/1000, 10)
	f := ms % 1000
	return append(b, '.', byte('0'+f/100), byte('0'+f/10%10), byte('0'+f%10))
}

// formatTimes sets the $time_local and $time_iso8601 texts of t's
// second, formatted once per second.
func (l *Log) formatTimes(t time.Time) {
	if sec := t.Unix(); sec != l.timeSec {
		l.timeSec = sec
		lt := t.Local()
		l.timeBuf = lt.AppendFormat(l.timeBuf[:0], "02/Jan/2006:15:04:05 -0700")
		l.isoBuf = lt.AppendFormat(l.isoBuf[:0], "2006-01-02T15:04:05-07:00")
	}
}

// appendEmpty appends an empty value: "-" in the default escaping.
func appendEmpty(b []byte, esc Escape) []byte {
	if esc == EscapeDefault {
		return append(b, '-')
	}
	return b
}

const hexDigits = "0123456789ABCDEF"

// appendValue appends s escaped as esc says; an empty s is appendEmpty.
func appendValue[S ~string | ~[]byte](b []byte, esc Escape, s S) []byte {
	if len(s) == 0 {
		return appendEmpty(b, esc)
	}
	switch esc {
	case EscapeNone:
		return append(b, s...)
	case EscapeJSON:
		return appendJSON(b, s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			b = append(b, '\\', 'x', hexDigits[c>>4], hexDigits[c&15])
			continue
		}
		b = append(b, c)
	}
	return b
}

// appendJSON appends s as the contents of a JSON string (RFC 8259): '"'
// and '\' escaped, control bytes as \u00HH (\n, \r, \t by name), and
// every byte that does not start a valid UTF-8 sequence as \u00HH, so the
// line is always valid JSON.
func appendJSON[S ~string | ~[]byte](b []byte, s S) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\t':
			b = append(b, '\\', 't')
		case c < 0x20 || c == 0x7f:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
		case c < utf8.RuneSelf:
			b = append(b, c)
		default:
			r, n := decodeRune(s[i:])
			if r == utf8.RuneError && n <= 1 {
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
				i++
				continue
			}
			b = append(b, s[i:i+n]...)
			i += n
			continue
		}
		i++
	}
	return b
}

// decodeRune is utf8.DecodeRune for either kind of s, without
// converting it.
func decodeRune[S ~string | ~[]byte](s S) (rune, int) {
	var a [utf8.UTFMax]byte
	n := copy(a[:], s[:min(len(s), utf8.UTFMax)])
	return utf8.DecodeRune(a[:n])
}
