package config

import (
	"fmt"
	"strings"

	"github.com/nproxy/nproxy/accesslog"
)

// log_format = NAME [escape=default|json|none] TEMPLATE (global,
// repeatable) defines an access log format; access_log = PATH [FORMAT]
// names one. "combined" and "json" are built in. A template is compiled
// here, so an unknown variable is a FILE:LINE problem of -t.

func init() {
	globalKeys["log_format"] = logFormatKey
	repeatable["log_format"] = true
}

// logFormatKey applies one log_format line.
func logFormatKey(l *loader, c *Config, v string) error {
	name, rest, _ := strings.Cut(v, " ")
	rest = strings.TrimSpace(rest)
	if name == "" || rest == "" {
		return fmt.Errorf("%q: want NAME [escape=default|json|none] TEMPLATE", v)
	}
	if accesslog.Builtin(name) != nil {
		return fmt.Errorf("%q: the %s format is built in", name, name)
	}
	if _, dup := c.LogFormats[name]; dup {
		return fmt.Errorf("%q: defined twice", name)
	}
	esc := accesslog.EscapeDefault
	if e, ok := strings.CutPrefix(rest, "escape="); ok {
		word, tmpl, _ := strings.Cut(e, " ")
		switch word {
		case "default":
		case "json":
			esc = accesslog.EscapeJSON
		case "none":
			esc = accesslog.EscapeNone
		default:
			return fmt.Errorf("escape=%q: must be default, json or none", word)
		}
		rest = strings.TrimSpace(tmpl)
	}
	// nginx writes templates in single quotes; one pair around the whole
	// template is taken off.
	if len(rest) >= 2 && rest[0] == '\'' && rest[len(rest)-1] == '\'' {
		rest = rest[1 : len(rest)-1]
	}
	if rest == "" {
		return fmt.Errorf("%q: empty template", name)
	}
	f, err := accesslog.CompileMaps(name, rest, esc, l.lookupMap)
	if err != nil {
		return fmt.Errorf("%s: %s", name, strings.TrimPrefix(err.Error(), "accesslog: "))
	}
	if c.LogFormats == nil {
		c.LogFormats = map[string]*accesslog.Format{}
	}
	c.LogFormats[name] = f
	l.logFormats = c.LogFormats
	return nil
}

// accessLogKey applies access_log = PATH [FORMAT] [if=$VARIABLE] | off;
// PATH may be a syslog: destination (logDest).
func accessLogKey(l *loader, s *Server, v string) (err error) {
	if v == "off" {
		s.AccessLog, s.AccessFormat = "", nil
		return nil
	}
	fields := strings.Fields(v)
	path, name, cond := fields[0], "", ""
	for _, w := range fields[1:] {
		switch c, ok := strings.CutPrefix(w, "if="); {
		case ok && cond == "":
			cond = c
		case !ok && name == "" && cond == "":
			name = w
		default:
			return fmt.Errorf("%q: want PATH [FORMAT] [if=$VARIABLE]", v)
		}
	}
	f := accesslog.Combined
	if name != "" {
		if f = accesslog.Builtin(name); f == nil {
			if f = l.logFormats[name]; f == nil {
				return fmt.Errorf("%q: no log_format %q (built in: combined, json)", v, name)
			}
		}
	}
	if cond != "" {
		if f, err = f.WithConditionMaps(cond, l.lookupMap); err != nil {
			return fmt.Errorf("%q: %s", v, strings.TrimPrefix(err.Error(), "accesslog: "))
		}
	}
	if s.AccessLog, err = l.logDest(path); err != nil {
		return err
	}
	s.AccessFormat = f
	return nil
}
