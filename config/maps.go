package config

import (
	"regexp"
	"sort"
	"strings"

	"gopkg.in/ini.v1"

	"github.com/nproxy/nproxy/accesslog"
	"github.com/nproxy/nproxy/vars"
)

// Maps, nginx's map: a [map $SOURCE $RESULT] section defines the
// variable $RESULT, whose value is chosen by $SOURCE's, one entry a line:
//
//	[map $status $loggable]
//	~^[23]  = 0
//	default = 1
//
// A key is an exact value (case-sensitive), ~REGEX or ~*REGEX (ignoring
// case), default, or '' (the empty value); a key that would read as one
// of those is written with a '\' in front (\default, \~x). The value is
// a template of variables (captures of its regex, the variables of
// return and proxy_set_header, other maps' results); '' is the empty
// value. Every [map] is read before the other sections, so any value of
// the file may name its result, and a map may name a map defined further
// down. A map whose source is known only when the request is logged
// ($status, $upstream_addr, ...) is usable in log formats only.

// mapSection is one [map] section while the file is read.
type mapSection struct {
	m    *vars.Map
	line int
	ss   *scanSection
	sec  *ini.Section
	bad  bool // an error was reported: its entries are not read
	rec  *recSection
}

// isMapSection reports whether a section name is a [map ...].
func isMapSection(name string) bool {
	name = strings.TrimSpace(name)
	return name == "map" || strings.HasPrefix(name, "map ") || strings.HasPrefix(name, "map\t")
}

// lookupMap returns the map whose result is called name, or nil; it is
// the Maps of the file's vars.Scope and log formats.
func (l *loader) lookupMap(name string) *vars.Map {
	if ms := l.maps[name]; ms != nil {
		return ms.m
	}
	return nil
}

// mapVarName reads "$name" (or "${name}") of a [map] header.
func mapVarName(s string) (string, bool) {
	name, ok := strings.CutPrefix(s, "$")
	if b, braced := strings.CutPrefix(name, "{"); braced {
		name, ok = strings.CutSuffix(b, "}")
	}
	if !ok || name == "" {
		return "", false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !(c == '_' || c >= '0' && c <= '9' || c|0x20 >= 'a' && c|0x20 <= 'z') {
			return "", false
		}
	}
	return name, true
}

// applyMaps reads every [map] section before the other sections: their
// headers first (so that maps may name each other in any order), then
// which maps are known only at logging, then their entries, then cycles.
func (l *loader) applyMaps(sections []*ini.Section, sc *scanned) {
	var list []*mapSection
	for i, sec := range sections {
		if i == 0 || !isMapSection(sec.Name()) {
			continue
		}
		ss := &scanSection{name: sec.Name(), line: 1, keys: map[string][]keyLine{}}
		if i < len(sc.sections) {
			ss = sc.sections[i]
		}
		rec := l.beginSection(i, strings.TrimSpace(sec.Name()))
		if ms := l.mapHeader(sec, ss, len(list)); ms != nil {
			ms.rec = rec
			list = append(list, ms)
		}
	}
	if len(list) == 0 {
		return
	}
	for _, ms := range list {
		src := ms.m.SourceName
		switch {
		case vars.IsBuiltin(src), l.maps[src] != nil, strings.HasPrefix(src, "http_") && src != "http_":
		case accesslog.IsVar(src):
			ms.m.LogOnly = true
		default:
			l.addf(ms.line, ErrValue, "[map $%s $%s]: unknown source variable $%s (a variable of return and proxy_set_header, a log_format variable or a [map]'s result)", src, ms.m.Name, src)
			ms.bad = true
		}
	}
	// A map of a log-only map is log-only: as many passes as there are
	// maps reach the end of every chain of sources (one longer is a
	// cycle, reported below).
	for range list {
		for _, ms := range list {
			if src := l.maps[ms.m.SourceName]; src != nil && src.m.LogOnly {
				ms.m.LogOnly = true
			}
		}
	}
	for _, ms := range list {
		if !ms.m.LogOnly && !ms.bad {
			t, err := vars.Scope{Maps: l.lookupMap}.Parse("$" + ms.m.SourceName)
			if err != nil {
				l.addf(ms.line, ErrValue, "[map $%s $%s]: %v", ms.m.SourceName, ms.m.Name, err)
				ms.bad = true
			}
			ms.m.Source = t
		}
	}
	for _, ms := range list {
		if !ms.bad {
			l.rec = ms.rec
			l.mapEntries(ms)
		}
	}
	l.rec = nil
	l.checkMapCycles(list)
}

// mapHeader reads a [map $SOURCE $RESULT] header into a map with slot id.
func (l *loader) mapHeader(sec *ini.Section, ss *scanSection, id int) *mapSection {
	header := strings.TrimSpace(sec.Name())
	f := strings.Fields(strings.TrimPrefix(header, "map"))
	if len(f) != 2 {
		l.addf(ss.line, ErrValue, "[%s]: want [map $SOURCE $RESULT]", header)
		return nil
	}
	src, ok1 := mapVarName(f[0])
	res, ok2 := mapVarName(f[1])
	if !ok1 || !ok2 {
		l.addf(ss.line, ErrValue, "[%s]: want [map $SOURCE $RESULT], each a '$' and a name of letters, digits and '_'", header)
		return nil
	}
	if vars.IsBuiltin(res) || accesslog.IsVar(res) {
		l.addf(ss.line, ErrConflict, "[%s]: $%s is a built-in variable; give the map's result another name", header, res)
		return nil
	}
	if prev := l.maps[res]; prev != nil {
		l.addf(ss.line, ErrConflict, "[%s]: $%s is already the result of the [map] on line %d", header, res, prev.line)
		return nil
	}
	m := vars.NewMap(res, id)
	m.SourceName = src
	ms := &mapSection{m: m, line: ss.line, ss: ss, sec: sec}
	if l.maps == nil {
		l.maps = map[string]*mapSection{}
	}
	l.maps[res] = ms
	return ms
}

// mapEntry is one line of a [map] section.
type mapEntry struct {
	key, value string
	line       int
}

// entries returns ms's lines in file order, values as ini.v1 read them;
// a line without a value is reported.
func (l *loader) entries(ms *mapSection) []mapEntry {
	var out []mapEntry
	for key, lines := range ms.ss.keys {
		values := []string{""}
		if k, err := ms.sec.GetKey(key); err == nil {
			values = k.ValueWithShadows()
		}
		vi := 0
		for _, kl := range lines {
			raw := kl.raw
			if raw == "" || raw[0] == '#' || raw[0] == ';' {
				l.addf(kl.line, ErrValue, "%s: missing value (write '' for the empty value)", keyName(key))
				continue
			}
			v := ""
			if !isBlankValue(raw) && vi < len(values) {
				v = strings.TrimSpace(values[vi])
				vi++
			}
			if v == "''" || v == `""` { // as nginx writes the empty value; also how -T writes it back
				v = ""
			}
			out = append(out, mapEntry{key: key, value: v, line: kl.line})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].line < out[j].line })
	return out
}

// mapEntries reads ms's entries into its map.
func (l *loader) mapEntries(ms *mapSection) {
	m := ms.m
	exactLines := map[string]int{}
	defaultLine := 0
	for _, e := range l.entries(ms) {
		if e.value == "" {
			l.record(e.key, "''", e.line)
		} else {
			l.record(e.key, e.value, e.line)
		}
		scope := vars.Scope{Maps: l.lookupMap}
		key := e.key
		var re *regexp.Regexp
		switch {
		case key == "default":
			if defaultLine != 0 {
				l.addf(e.line, ErrDuplicateKey, "default: set again (first set on line %d)", defaultLine)
				continue
			}
			defaultLine = e.line
		case strings.HasPrefix(key, "~"):
			expr, fold := strings.CutPrefix(key[1:], "*")
			if fold {
				expr = "(?i)" + expr
			}
			var err error
			if re, err = regexp.Compile(expr); err != nil {
				l.addf(e.line, ErrValue, "%s: bad regex: %v", keyName(key), regexError(err))
				continue
			}
			if err := checkCaptureNames(re); err != nil {
				l.addf(e.line, ErrValue, "%s: %v", keyName(key), err)
				continue
			}
			scope.Groups, scope.Names = re.NumSubexp(), re.SubexpNames()
		case key == "''":
			key = ""
		case strings.HasPrefix(key, `\`):
			key = key[1:]
		}
		val, err := scope.Parse(e.value)
		if err != nil {
			l.addf(e.line, ErrValue, "%s: %q: %v", keyName(e.key), e.value, err)
			continue
		}
		switch {
		case e.key == "default":
			m.SetDefault(val)
		case re != nil:
			m.AddRegex(re, val)
		default:
			if first, dup := exactLines[key]; dup {
				l.addf(e.line, ErrDuplicateKey, "%s: duplicate key (first on line %d)", keyName(e.key), first)
				continue
			}
			exactLines[key] = e.line
			if err := m.AddExact(key, val); err != nil {
				l.addf(e.line, ErrDuplicateKey, "%s: %v", keyName(e.key), err)
			}
		}
	}
}

// regexError drops the regexp package's prefix from err's text.
func regexError(err error) string {
	return strings.TrimPrefix(err.Error(), "error parsing regexp: ")
}

// checkMapCycles reports a map whose value depends on itself, through
// its source or the maps its values name.
func (l *loader) checkMapCycles(list []*mapSection) {
	const (
		unseen = iota
		visiting
		done
	)
	state := map[*vars.Map]int{}
	reported := map[*vars.Map]bool{}
	var path []*vars.Map
	var visit func(m *vars.Map)
	visit = func(m *vars.Map) {
		switch state[m] {
		case done:
			return
		case visiting:
			i := len(path) - 1
			for i > 0 && path[i] != m {
				i--
			}
			cycle := path[i:]
			names := make([]string, 0, len(cycle)+1)
			for _, c := range cycle {
				names = append(names, "$"+c.Name)
			}
			names = append(names, "$"+m.Name)
			if !reported[m] {
				for _, c := range cycle {
					reported[c] = true
				}
				l.addf(l.maps[m.Name].line, ErrValue, "[map $%s $%s]: the map depends on itself: %s", m.SourceName, m.Name, strings.Join(names, " -> "))
			}
			return
		}
		state[m] = visiting
		path = append(path, m)
		if src := l.lookupMap(m.SourceName); src != nil {
			visit(src)
		}
		m.Templates(func(t vars.Template) { t.Maps(visit) })
		path = path[:len(path)-1]
		state[m] = done
	}
	for _, ms := range list {
		visit(ms.m)
	}
}
