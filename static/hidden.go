//go:build linux

package static

// wellKnown is the one dot segment hidden_files = deny still serves, and
// only as the first segment: RFC 8615's /.well-known/ (ACME challenges,
// security.txt) must be reachable on a site that hides the rest.
const wellKnown = ".well-known"

// hiddenPath reports whether p, a normalized absolute path, names a
// hidden file under hidden_files = deny: one of its segments starts with
// '.' (.git/config, .env, a/.htpasswd), the first segment ".well-known"
// excepted when p is the site's own path (top; not the rest of a path a
// location's alias cut its prefix from). It does not allocate.
func hiddenPath(p []byte, top bool) bool {
	for i := 0; i < len(p); i++ {
		if p[i] != '/' || i+1 >= len(p) || p[i+1] != '.' {
			continue
		}
		if i == 0 && top && isWellKnown(p[1:]) {
			continue
		}
		return true
	}
	return false
}

// isWellKnown reports whether rest, a path after its leading '/', starts
// with the segment ".well-known".
func isWellKnown(rest []byte) bool {
	n := len(wellKnown)
	return len(rest) >= n && string(rest[:n]) == wellKnown && (len(rest) == n || rest[n] == '/')
}

// hiddenName reports whether a directory entry called name is hidden from
// a listing under hidden_files = deny: it starts with '.', except
// ".well-known" in the root directory (top).
func hiddenName(name []byte, top bool) bool {
	return len(name) > 0 && name[0] == '.' && !(top && string(name) == wellKnown)
}
