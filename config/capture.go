package config

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/nproxy/nproxy/vars"
)

// The captures of a [location ~ REGEX]: in the location's return,
// proxy_set_header, alias and proxy_pass URI values, $1..$9 (or ${N}) name the regex's
// numbered groups and $name (or ${name}) its named ones, (?P<name>...)
// or (?<name>...), as nginx's regex locations do. The server matches
// the regex once per request and keeps the groups' indexes.

// parseVars parses a value that may hold variables: those of package
// vars, maps' results, and, in a regex [location], the captures of its
// regex.
func (l *loader) parseVars(s string) (vars.Template, error) {
	return l.varScope().Parse(s)
}

// varScope is what parseVars's values may name besides the built-in
// variables: the file's maps, and a regex [location]'s captures.
func (l *loader) varScope() vars.Scope {
	sc := vars.Scope{Maps: l.lookupMap}
	if l.captures != nil {
		sc.Groups, sc.Names = l.captures.NumSubexp(), l.captures.SubexpNames()
	}
	return sc
}

// checkCaptureNames refuses a named group of a location's regex that
// takes a built-in variable's name: "$host" would then mean two things.
func checkCaptureNames(re *regexp.Regexp) error {
	for _, n := range re.SubexpNames() {
		if n != "" && vars.IsBuiltin(n) {
			return fmt.Errorf("(?P<%s>...): a built-in variable's name; give the group another", n)
		}
	}
	return nil
}

// parseAliasCaptures parses alias in a regex [location] when it names
// captures ("/data/img/$1"): the directory before the first capture,
// which must exist, becomes StaticRoot, and the rest, from its '/', the
// path of the file under it as a regexp.Expand template ("/${1}"). A
// path built from the captures is normalized at run time, so it cannot
// climb above that directory.
func (l *loader) parseAliasCaptures(s *Server, v string) error {
	re := l.captures
	first := strings.IndexByte(v, '$')
	slash := strings.LastIndexByte(v[:first], '/')
	if slash < 0 {
		return fmt.Errorf("%q: a directory must come before the first capture (alias /data/img/$1)", v)
	}
	dir := v[:slash]
	if dir == "" {
		dir = "/"
	}
	root, err := l.directory(dir)
	if err != nil {
		return err
	}
	tmpl, err := expandCaptures(v[slash:], re)
	if err != nil {
		return fmt.Errorf("%q: %v", v, err)
	}
	s.StaticRoot, s.AliasPath, s.StripPrefix = root, tmpl, false
	return nil
}

// expandCaptures turns text naming re's captures nginx's way ($1, ${1},
// $name, ${name}) into a regexp.Expand template naming each by number
// (${1}), as expandTemplate does for rewrite's replacements. Other
// variables are refused: a file's path is built from the request path.
func expandCaptures(text string, re *regexp.Regexp) (string, error) {
	return numberCaptures(text, func(rest string) (int, int, error) {
		var name string
		used := 0
		switch {
		case strings.HasPrefix(rest, "{"):
			end := strings.IndexByte(rest, '}')
			if end < 0 {
				return 0, 0, errors.New("'${' without '}'")
			}
			name, used = rest[1:end], end+1
		case rest != "" && rest[0] >= '0' && rest[0] <= '9':
			name, used = rest[:1], 1
		default:
			for used < len(rest) && (isDigit(rest[used]) || rest[used] == '_' || rest[used]|0x20 >= 'a' && rest[used]|0x20 <= 'z') {
				used++
			}
			name = rest[:used]
		}
		n, err := strconv.Atoi(name)
		if err != nil || !isDigits(name) {
			n = re.SubexpIndex(name)
			if name == "" || n < 0 {
				return 0, 0, fmt.Errorf("$%s: not a capture of the regex (alias takes $1..$9 and the regex's (?P<name>...) groups)", name)
			}
		}
		if n < 1 || n > re.NumSubexp() {
			return 0, 0, fmt.Errorf("$%s, but the regex has %d capture group(s)", name, re.NumSubexp())
		}
		return n, used, nil
	})
}

// proxyURI splits proxy_pass in a regex [location] into its backend and
// its URI part, "http://b/$1$is_args$args" into "http://b" and the
// template "/$1$is_args$args", which must name a capture or a variable
// (a fixed URI cannot say what to keep of the request's path, and nginx
// refuses it too). The backend is one address or an [upstream] group
// (http://NAME). Outside a regex [location], v is returned as it is.
func (l *loader) proxyURI(v string) (string, vars.Template, error) {
	v = strings.TrimSpace(v)
	if l.captures == nil {
		return v, vars.Template{}, nil
	}
	host := v
	if _, rest, ok := strings.Cut(v, "://"); ok {
		host = rest
	}
	slash := strings.IndexByte(host, '/')
	if slash < 0 {
		return v, vars.Template{}, nil
	}
	backend, uri := v[:len(v)-len(host)+slash], host[slash:]
	if strings.ContainsAny(v, " \t,") {
		return "", vars.Template{}, fmt.Errorf("%q: a URI part takes one backend or an [upstream] group (proxy_pass = http://NAME/$1)", v)
	}
	tmpl, err := l.parseVars(uri)
	if err != nil {
		return "", vars.Template{}, fmt.Errorf("%q: %v", uri, err)
	}
	if _, literal := tmpl.Literal(); literal {
		return "", vars.Template{}, fmt.Errorf("%q: a URI part in a regex [location] must name its captures or variables (proxy_pass = http://b/$1$is_args$args)", uri)
	}
	if name, ok := strings.CutPrefix(backend, "http://"); ok && l.upstreams[name] != nil {
		backend = name
	}
	return backend, tmpl, nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
