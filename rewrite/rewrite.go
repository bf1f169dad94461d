// Package rewrite applies a [server] block's rewrite rules to a request
// path, the way nginx's `rewrite REGEX REPLACEMENT last` does inside one
// server block: the rules are tried in order, the first whose regular
// expression matches the path replaces it (with $1..$9 naming the
// captures), and the request continues through the routing chain with the
// new path. Later rules are not tried on the result: one rewrite per
// request, so a rule cannot loop.
//
// The path a rule sees is the decoded, normalized path (dot segments
// resolved, no query string); the query string of the request is kept as
// it was. The result is normalized again, so a replacement cannot climb
// above the root with "..": such a result is refused (ErrEscape) and the
// server answers 400, as it does for such a request path.
//
// A rule with the redirect or permanent flag (or a replacement that
// starts with a scheme) does not replace the path: the request is
// answered 302 or 301 with the replacement, captures and variables
// expanded, as its Location (Rules.AppendLocation).
package rewrite

import (
	"bytes"
	"errors"
	"regexp"

	"github.com/nproxy/nproxy/config"
	"github.com/nproxy/nproxy/vars"
)

// ErrEscape is returned by Rules.Apply when the rewritten path climbs above
// the root ("/a/../../x") or holds a NUL byte.
var ErrEscape = errors.New("rewrite: rewritten path escapes the root")

// maxPath bounds a rewritten path: the longest request target the parser
// accepts (http.MaxURILen), so that a rewrite cannot build a path no
// client could have sent.
const maxPath = 8 << 10

// ErrTooLong is returned by Rules.Apply when the rewritten path is longer
// than any request path may be.
var ErrTooLong = errors.New("rewrite: rewritten path too long")

// Rules is the ordered rule list of one [server] block. It is read-only
// after New and may be shared; Apply's scratch space is the caller's.
type Rules struct {
	rules []rule
}

type rule struct {
	re       *regexp.Regexp
	tmpl     []byte // regexp.Expand template ("/u/${1}")
	redirect int    // 301 or 302 for a redirect rule, else 0
	target   vars.Template
	keepArgs bool
}

// New returns the rules of rs, in order; nil when rs is empty.
func New(rs []config.Rewrite) *Rules {
	if len(rs) == 0 {
		return nil
	}
	r := &Rules{rules: make([]rule, len(rs))}
	for i, x := range rs {
		r.rules[i] = rule{re: x.Regexp, tmpl: []byte(x.Replacement), redirect: x.Redirect, target: x.Target, keepArgs: x.KeepArgs}
	}
	return r
}

// Len returns the number of rules.
func (r *Rules) Len() int { return len(r.rules) }

// ErrRedirect is returned by Rules.Apply when the rule that matches is a
// redirect: the caller answers with Rules.AppendLocation.
var ErrRedirect = errors.New("rewrite: the matching rule is a redirect")

// Apply rewrites path with the first rule that matches it. It returns the
// new, normalized path appended to dst[:0] and true; or path itself and
// false when no rule matches. scratch is reused for the expansion (it may
// be nil) and returned grown, for the next call. When the first rule that
// matches is a redirect, Apply returns path, false and ErrRedirect, with
// m the rule's capture indexes and rule its number, for AppendLocation.
//
// A path no rule matches costs one regexp match per rule and allocates
// nothing (the Go regexp engines keep their machines in a pool); a match
// allocates the capture index slice.
func (r *Rules) Apply(dst, scratch, path []byte) (out, scratchOut []byte, rewritten bool, err error) {
	out, scratchOut, rewritten, _, _, err = r.ApplyRule(dst, scratch, path)
	return out, scratchOut, rewritten, err
}

// ApplyRule is Apply that also returns the number of the rule that
// matched (-1 for none) and its capture indexes.
func (r *Rules) ApplyRule(dst, scratch, path []byte) (out, scratchOut []byte, rewritten bool, rule int, m []int, err error) {
	for i := range r.rules {
		ru := &r.rules[i]
		m := ru.re.FindSubmatchIndex(path)
		if m == nil {
			continue
		}
		if ru.redirect != 0 {
			return path, scratch, false, i, m, ErrRedirect
		}
		scratch = ru.re.Expand(scratch[:0], ru.tmpl, path, m)
		if len(scratch) > maxPath {
			return path, scratch, false, i, m, ErrTooLong
		}
		out, err := Normalize(dst[:0], scratch)
		if err != nil {
			return path, scratch, false, i, m, err
		}
		return out, scratch, true, i, m, nil
	}
	return path, scratch, false, -1, nil, nil
}

// AppendLocation appends the Location of redirect rule i to dst: its
// target expanded with vals (whose Subject and Match are the path and the
// captures ApplyRule returned), then the client's query when the rule
// keeps it. It returns the redirect's status, 301 or 302.
func (r *Rules) AppendLocation(dst []byte, i int, vals *vars.Values, query []byte) ([]byte, int) {
	ru := &r.rules[i]
	start := len(dst)
	dst = ru.target.Append(dst, vals)
	if ru.keepArgs && len(query) > 0 {
		if bytes.IndexByte(dst[start:], '?') >= 0 {
			dst = append(dst, '&')
		} else {
			dst = append(dst, '?')
		}
		dst = append(dst, query...)
	}
	return dst, ru.redirect
}

// Normalize appends to dst the normalized form of p, an already decoded
// path: "." and ".." segments resolved, runs of '/' merged, a leading '/'
// added when missing. Percent escapes are left alone (the path is decoded
// once, when the request is read; decoding a rewrite result again would
// decode twice). A ".." above the root or a NUL byte is ErrEscape.
func Normalize(dst, p []byte) ([]byte, error) {
	dst = append(dst[:0], '/')
	for i := 0; i < len(p); {
		// One segment: p[i:j].
		for i < len(p) && p[i] == '/' {
			i++
		}
		j := i
		for j < len(p) && p[j] != '/' {
			if p[j] == 0 {
				return dst, ErrEscape
			}
			j++
		}
		seg := p[i:j]
		slash := j < len(p) // a '/' follows the segment
		switch {
		case len(seg) == 0:
		case len(seg) == 1 && seg[0] == '.':
		case len(seg) == 2 && seg[0] == '.' && seg[1] == '.':
			if len(dst) == 1 {
				return dst, ErrEscape
			}
			k := len(dst) - 2 // dst ends with '/'
			for dst[k] != '/' {
				k--
			}
			dst = dst[:k+1]
		default:
			dst = append(dst, seg...)
			if slash {
				dst = append(dst, '/')
			}
		}
		i = j
	}
	return dst, nil
}
