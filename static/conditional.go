//go:build linux

package static

import (
	"bytes"
	"math"
	"time"
)

// etagMatch reports whether the If-None-Match value list matches etag
// (quotes included) by the weak comparison of RFC 9110 §8.8.3.2, which
// If-None-Match uses: "W/" prefixes are ignored, and "*" matches any
// current representation. A malformed member ends the scan without a
// match, so a garbled header never produces a 304.
func etagMatch(list, etag []byte) bool {
	for {
		for len(list) > 0 && (list[0] == ' ' || list[0] == '\t' || list[0] == ',') {
			list = list[1:]
		}
		if len(list) == 0 {
			return false
		}
		if list[0] == '*' {
			return true
		}
		if len(list) >= 2 && list[0] == 'W' && list[1] == '/' {
			list = list[2:]
		}
		if len(list) == 0 || list[0] != '"' {
			return false
		}
		end := bytes.IndexByte(list[1:], '"')
		if end < 0 {
			return false
		}
		tag := list[:end+2]
		if bytes.Equal(tag, etag) {
			return true
		}
		list = list[end+2:]
	}
}

// months in IMF-fixdate order, for parseHTTPDate.
const months = "JanFebMarAprMayJunJulAugSepOctNovDec"

// parseHTTPDate parses an HTTP-date (RFC 9110 §5.6.7) into Unix seconds.
// The IMF-fixdate form every current client sends is parsed by hand
// without allocating; the obsolete RFC 850 and asctime forms, which a
// recipient must still accept, go through time.Parse.
func parseHTTPDate(b []byte) (int64, bool) {
	// "Sun, 06 Nov 1994 08:49:37 GMT"
	//  0123456789012345678901234567 8
	if len(b) == 29 && b[3] == ',' && b[4] == ' ' && b[7] == ' ' && b[11] == ' ' &&
		b[16] == ' ' && b[19] == ':' && b[22] == ':' && string(b[25:]) == " GMT" {
		day, ok1 := digits(b[5:7])
		year, ok2 := digits(b[12:16])
		hh, ok3 := digits(b[17:19])
		mm, ok4 := digits(b[20:22])
		ss, ok5 := digits(b[23:25])
		mon := -1
		for i := 0; i < 12; i++ {
			if string(b[8:11]) == months[3*i:3*i+3] {
				mon = i + 1
				break
			}
		}
		if !(ok1 && ok2 && ok3 && ok4 && ok5) || mon < 0 || day < 1 || day > 31 ||
			hh > 23 || mm > 59 || ss > 60 {
			return 0, false
		}
		return time.Date(year, time.Month(mon), day, hh, mm, ss, 0, time.UTC).Unix(), true
	}
	s := string(b)
	for _, layout := range [...]string{time.RFC850, time.ANSIC} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.Unix(), true
		}
	}
	return 0, false
}

// digits parses b as a decimal number of all digits.
func digits(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, len(b) > 0
}

// notModifiedSince reports whether an If-Modified-Since value makes a 304
// for e: the date is a valid HTTP-date equal to or later than the file's
// modification time (nginx's "if_modified_since before"; the stock
// "exact" would also refuse later dates). The common case, a client
// echoing our own Last-Modified, is a byte comparison.
func notModifiedSince(ims []byte, e *entry) bool {
	if bytes.Equal(ims, e.lastMod) {
		return true
	}
	t, ok := parseHTTPDate(ims)
	return ok && t >= e.mtime
}

// ifRangeMatch reports whether an If-Range value still designates e (RFC
// 9110 §13.1.5): an entity tag must match strongly (a weak one never
// does), a date must equal the file's Last-Modified exactly.
func ifRangeMatch(v []byte, e *entry) bool {
	if len(v) > 0 && v[0] == '"' || len(v) > 1 && v[0] == 'W' && v[1] == '/' {
		return bytes.Equal(v, e.etag)
	}
	if bytes.Equal(v, e.lastMod) {
		return true
	}
	t, ok := parseHTTPDate(v)
	return ok && t == e.mtime
}

// rangeResult is what a Range header asks of a representation.
type rangeResult uint8

const (
	rangeIgnore        rangeResult = iota // absent, malformed or multi-range: send it all (200)
	rangeSatisfiable                      // one satisfiable range: 206
	rangeUnsatisfiable                    // one range outside the representation: 416
)

// parseRange interprets a Range value for a representation of size bytes
// (RFC 9110 §14.2). Only a single byte range is served as 206: a request
// for several gets the whole representation with 200, which RFC 9110
// §14.2 allows (a server may ignore Range) and which avoids
// multipart/byteranges. A header that does not parse is ignored, as the
// RFC requires. On rangeSatisfiable, [off, off+n) is the range.
func parseRange(v []byte, size int64) (off, n int64, res rangeResult) {
	// The range unit is case-insensitive.
	if len(v) < 6 || v[0]|0x20 != 'b' || v[1]|0x20 != 'y' || v[2]|0x20 != 't' ||
		v[3]|0x20 != 'e' || v[4]|0x20 != 's' || v[5] != '=' {
		return 0, 0, rangeIgnore
	}
	v = v[6:]
	// range-set = 1#range-spec: empty list members and OWS are allowed.
	var spec []byte
	for len(v) > 0 {
		i := bytes.IndexByte(v, ',')
		var m []byte
		if i < 0 {
			m, v = v, nil
		} else {
			m, v = v[:i], v[i+1:]
		}
		m = trimOWS(m)
		if len(m) == 0 {
			continue
		}
		if spec != nil {
			return 0, 0, rangeIgnore // several ranges
		}
		spec = m
	}
	dash := bytes.IndexByte(spec, '-')
	if dash < 0 {
		return 0, 0, rangeIgnore
	}
	if dash == 0 {
		// suffix-range: the last N bytes.
		suffix, ok := number(spec[1:])
		if !ok {
			return 0, 0, rangeIgnore
		}
		if suffix == 0 || size == 0 {
			return 0, 0, rangeUnsatisfiable
		}
		suffix = min(suffix, size)
		return size - suffix, suffix, rangeSatisfiable
	}
	first, ok := number(spec[:dash])
	if !ok {
		return 0, 0, rangeIgnore
	}
	last := int64(math.MaxInt64)
	if dash+1 < len(spec) {
		if last, ok = number(spec[dash+1:]); !ok || last < first {
			return 0, 0, rangeIgnore
		}
	}
	if first >= size {
		return 0, 0, rangeUnsatisfiable
	}
	last = min(last, size-1)
	return first, last - first + 1, rangeSatisfiable
}

// number parses a non-empty run of decimal digits, saturating at
// math.MaxInt64 (a huge last-byte-pos means "to the end").
func number(b []byte) (int64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		if n > (math.MaxInt64-9)/10 {
			n = math.MaxInt64
			continue
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// trimOWS trims spaces and tabs from both ends of b.
func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}
