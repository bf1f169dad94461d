//go:build linux

package http

// AppendEscapedPath appends the decoded path p percent-encoded again
// wherever a URI path may not hold the byte as it is: RFC 3986 pchar
// (unreserved, sub-delims, ':' and '@') and '/' stay, every other byte
// becomes %XX. Used for a redirect's Location and for a rewritten path
// forwarded upstream.
func AppendEscapedPath(b, p []byte) []byte {
	const hex = "0123456789ABCDEF"
	for _, c := range p {
		if pathByte(c) {
			b = append(b, c)
			continue
		}
		b = append(b, '%', hex[c>>4], hex[c&15])
	}
	return b
}

// pathByte reports whether c may appear unescaped in a URI path.
func pathByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '-', '.', '_', '~', '!', '$', '&', '\'', '(', ')', '*', '+', ',', ';', '=', ':', '@', '/':
		return true
	}
	return false
}
