package config

import (
	"bytes"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// utf8BOM is the byte order mark some editors put at the start of a UTF-8
// file. ini.v1 skips it; so does the scan, so that lines stay aligned.
var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// scanned is what the pre-scan learned about a file's layout.
type scanned struct {
	text     []byte         // the text for ini.v1: rejected lines blanked
	lines    int            // number of lines, at least 1
	sections []*scanSection // [0] is the global (ini.v1 "DEFAULT") section
}

// scanSection is one occurrence of a section in the text.
type scanSection struct {
	name string // as ini.v1 will name it: the text between '[' and the last ']'
	line int    // line of the header; 1 for the global section
	keys map[string][]keyLine
}

// keyLine is one occurrence of a key.
type keyLine struct {
	line int
	raw  string // the text after '=', trimmed
}

// scan maps the layout of data the way ini.v1 will read it, given the
// options in iniOptions: a line whose first non-space byte is '#' or ';'
// is a comment, '[' starts a section header that ends at the line's last
// ']', and any other non-blank line is "key = value". Lines ini.v1 would
// refuse or read across line ends (an unclosed """ or ` value) are
// reported through report and replaced by empty lines in the returned
// text, so ini.v1 parses the rest and every key keeps its line.
func scan(data []byte, report func(line int, kind error, msg string)) *scanned {
	s := &scanned{sections: []*scanSection{{name: "DEFAULT", line: 1, keys: map[string][]keyLine{}}}}
	if len(data) >= 2 && (data[0] == 0xFE && data[1] == 0xFF || data[0] == 0xFF && data[1] == 0xFE) {
		report(1, ErrSyntax, "the file is UTF-16; save it as UTF-8")
		s.lines = 1
		return s
	}
	data = bytes.TrimPrefix(data, utf8BOM)

	lines := bytes.Split(data, []byte{'\n'})
	if len(lines) > 1 && len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1] // the final newline ends a line, it does not start one
	}
	s.lines = max(len(lines), 1)
	out := make([]byte, 0, len(data))
	cur := s.sections[0]
	for i, raw := range lines {
		n := i + 1
		keep, sec := scanLine(raw, n, cur, report)
		if sec != nil {
			s.sections = append(s.sections, sec)
			cur = sec
		}
		if keep {
			out = append(out, raw...)
		}
		out = append(out, '\n')
	}
	s.text = out
	return s
}

// scanLine classifies one line. It returns whether ini.v1 may see the line
// and, for a section header, the new section.
func scanLine(raw []byte, n int, cur *scanSection, report func(int, error, string)) (keep bool, sec *scanSection) {
	if !utf8.Valid(raw) {
		report(n, ErrSyntax, "the line is not valid UTF-8")
		return false, nil
	}
	if bytes.Contains(raw, utf8BOM) {
		report(n, ErrSyntax, "stray byte order mark (U+FEFF) in the line")
		return false, nil
	}
	line := string(bytes.TrimLeftFunc(raw, unicode.IsSpace))
	switch {
	case line == "":
		return true, nil
	case line[0] == '#' || line[0] == ';':
		return true, nil
	case line[0] == '[':
		end := strings.LastIndexByte(line, ']')
		if end < 0 {
			report(n, ErrSyntax, quoteLine(line)+": section header without ']'")
			return false, nil
		}
		name := line[1:end]
		if name == "" {
			report(n, ErrSyntax, "[]: empty section name")
			return false, nil
		}
		if rest := strings.TrimSpace(line[end+1:]); rest != "" && rest[0] != '#' && rest[0] != ';' {
			// ini.v1 ignores it; say so rather than guess what was meant.
			report(n, ErrSyntax, quoteLine(line)+": unexpected text after the section header")
		}
		return true, &scanSection{name: name, line: n, keys: map[string][]keyLine{}}
	}

	eq := strings.IndexByte(line, '=')
	switch {
	case line[0] == '"' || line[0] == '`':
		report(n, ErrSyntax, quoteLine(line)+": quoted key names are not supported")
		return false, nil
	case eq < 0 && strings.HasSuffix(strings.TrimSpace(line), ";"):
		report(n, ErrSyntax, quoteLine(line)+": expected \"key = value\" (this is INI, not nginx syntax: no ';')")
		return false, nil
	case eq < 0:
		report(n, ErrSyntax, quoteLine(line)+": expected \"key = value\"")
		return false, nil
	case eq == 0:
		report(n, ErrSyntax, quoteLine(line)+": missing key name before '='")
		return false, nil
	}
	key := strings.TrimSpace(line[:eq])
	if key == "-" {
		// ini.v1 turns "-" into an auto-numbered key "#1", "#2", ...
		report(n, ErrSyntax, quoteLine(line)+": \"-\" is not a key")
		return false, nil
	}
	val := strings.TrimLeftFunc(line[eq+1:], unicode.IsSpace)
	// ini.v1 reads a value opened by """ or ` up to its closing quote, even
	// on a later line. Values here are one line each.
	if strings.HasPrefix(val, `"""`) && !strings.Contains(val[3:], `"""`) ||
		strings.HasPrefix(val, "`") && !strings.Contains(val[1:], "`") {
		report(n, ErrSyntax, keyName(key)+": unclosed quote in the value")
		return false, nil
	}
	cur.keys[key] = append(cur.keys[key], keyLine{line: n, raw: strings.TrimSpace(val)})
	return true, nil
}

// quoteLine quotes a line for a message, shortened when long.
func quoteLine(line string) string {
	line = strings.TrimSpace(line)
	const maxShown = 60 // enough to recognize a line, short enough for one terminal line
	if len(line) > maxShown {
		cut := maxShown
		for cut > 0 && !utf8.RuneStart(line[cut]) {
			cut--
		}
		line = line[:cut] + "..."
	}
	return strconv.Quote(line)
}
