//go:build linux

package server

import "errors"

// errBadPath is returned for a request path that cannot be served: bad
// percent-encoding, an encoded NUL, or a ".." that climbs above the root.
var errBadPath = errors.New("server: bad request path")

// normalizePath appends to dst the percent-decoded, normalized form of the
// request path p: "." and ".." segments resolved, runs of '/' merged. A ".."
// above the root is an error (nginx answers 400 too), as are bad escapes and
// NUL. The result always starts with '/'. It allocates nothing when dst has
// room.
func normalizePath(dst, p []byte) ([]byte, error) {
	if len(p) == 0 || p[0] != '/' {
		// Absolute-form targets ("http://host/path") keep only the path.
		i := indexPathStart(p)
		if i < 0 {
			return append(dst[:0], '/'), nil
		}
		p = p[i:]
	}
	dst = dst[:0]
	for i := 0; i < len(p); {
		c := p[i]
		if c == '%' {
			if i+2 >= len(p) || unhex(p[i+1]) < 0 || unhex(p[i+2]) < 0 {
				return dst, errBadPath
			}
			c = byte(unhex(p[i+1])<<4 | unhex(p[i+2]))
			i += 3
		} else {
			i++
		}
		if c == 0 {
			return dst, errBadPath
		}
		if c == '/' {
			n := len(dst)
			switch {
			case n > 0 && dst[n-1] == '/':
				continue // merge "//"
			case n >= 2 && dst[n-1] == '.' && dst[n-2] == '/':
				dst = dst[:n-1] // "/./" → "/"
				continue
			case n >= 3 && dst[n-1] == '.' && dst[n-2] == '.' && dst[n-3] == '/':
				var err error
				if dst, err = popSegment(dst[:n-3]); err != nil {
					return dst, err
				}
				continue
			}
		}
		dst = append(dst, c)
	}
	// A trailing "/." or "/.." acts like one followed by '/'.
	n := len(dst)
	switch {
	case n >= 2 && dst[n-1] == '.' && dst[n-2] == '/':
		dst = dst[:n-1]
	case n >= 3 && dst[n-1] == '.' && dst[n-2] == '.' && dst[n-3] == '/':
		var err error
		if dst, err = popSegment(dst[:n-3]); err != nil {
			return dst, err
		}
	}
	if len(dst) == 0 {
		dst = append(dst, '/')
	}
	return dst, nil
}

// popSegment removes the last segment of dst (which ends before a "/..")
// and leaves the slash before it; climbing above the root is an error.
func popSegment(dst []byte) ([]byte, error) {
	if len(dst) == 0 {
		return dst, errBadPath
	}
	i := len(dst) - 1
	for i >= 0 && dst[i] != '/' {
		i--
	}
	if i < 0 {
		return dst, errBadPath
	}
	return dst[:i+1], nil
}

// indexPathStart finds the path of an absolute-form request-target
// ("scheme://authority/path"), or -1 if it has none.
func indexPathStart(p []byte) int {
	for i := 0; i+2 < len(p); i++ {
		if p[i] == ':' && p[i+1] == '/' && p[i+2] == '/' {
			for j := i + 3; j < len(p); j++ {
				if p[j] == '/' {
					return j
				}
			}
			return -1
		}
	}
	return -1
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
