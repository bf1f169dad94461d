package vars

import (
	"errors"
	"regexp"
)

// Maps, nginx's map: a variable whose value is chosen by another
// variable's value (its source). The source's value is compared with the
// map's exact keys first (case-sensitive), then with its regexes in
// order (~ case-sensitive, ~* not); the first that matches gives the
// result, else the default ("" when the map has none). A value is a
// Template: it may name the regex's captures, the variables of this
// package and other maps.
//
// A map is evaluated when a template that names it is expanded, at most
// once per request: Values.Maps keeps each map's result until the
// caller's next Reset. An exact match and a regex whose value names no
// capture allocate nothing; a regex whose value names captures costs the
// one slice the regexp engine returns with its group indexes, unless the
// regex matches in one way only (ScanPlan: ^/u/(\d+)$), when they are
// found without it.

// ErrMapKey is matched (errors.Is) by the error Map.AddExact returns for a
// key given twice.
var ErrMapKey = errors.New("vars: map key given twice")

// Map is one map: a result variable and how its value is chosen. It is
// built while the configuration is loaded (NewMap, then AddExact,
// AddRegex and SetDefault) and read-only afterwards.
type Map struct {
	// Name is the result variable's name, without '$'.
	Name string
	// SourceName is the source variable's name, without '$'.
	SourceName string
	// Source is the source as a template of this package's variables;
	// it is unused when LogOnly.
	Source Template
	// LogOnly is set when the source is known only when the request is
	// logged ($status, $http_NAME, $upstream_addr, ..., or another
	// LogOnly map): such a map is usable in log formats only.
	LogOnly bool
	// ID is the map's slot in a MapCache: distinct for every map of a
	// configuration, from 0.
	ID int

	exact      map[string]int // key -> index into values
	values     []Template
	regexes    []mapRegex
	def        Template
	hasDefault bool
}

// mapRegex is one regex entry.
type mapRegex struct {
	re       *regexp.Regexp
	val      Template
	captures bool     // val names a capture: the groups' indexes are needed
	plan     ScanPlan // finds them without the engine's slice; nil: FindSubmatchIndex does
	groups   int      // 2*(re's groups+1): the indexes' length
}

// NewMap returns an empty map named name (without '$') with slot id.
func NewMap(name string, id int) *Map {
	return &Map{Name: name, ID: id, exact: map[string]int{}}
}

// AddExact adds an exact key. A key given twice is ErrMapKey.
func (m *Map) AddExact(key string, val Template) error {
	if _, dup := m.exact[key]; dup {
		return ErrMapKey
	}
	m.exact[key] = len(m.values)
	m.values = append(m.values, val)
	return nil
}

// AddRegex adds a regex entry, tried after the exact keys and the
// regexes added before it. val may name re's captures (ParseScope with
// re's groups).
func (m *Map) AddRegex(re *regexp.Regexp, val Template) {
	r := mapRegex{re: re, val: val, captures: val.UsesCaptures(), groups: 2 * (re.NumSubexp() + 1)}
	if r.captures {
		r.plan = NewScanPlan(re)
	}
	m.regexes = append(m.regexes, r)
}

// SetDefault sets the value for a source no key matches.
func (m *Map) SetDefault(val Template) { m.def, m.hasDefault = val, true }

// HasDefault reports whether SetDefault was called.
func (m *Map) HasDefault() bool { return m.hasDefault }

// Templates calls fn with every value template of m (for the checks of
// the configuration: which maps a map's values name).
func (m *Map) Templates(fn func(Template)) {
	for _, v := range m.values {
		fn(v)
	}
	for _, r := range m.regexes {
		fn(r.val)
	}
	fn(m.def)
}

// lookup returns the value for subject and, for a regex whose value names
// captures, its group indexes in subject: taken from c's scratch when
// the regex has a ScanPlan (taken: c.release them after use), else the
// regexp engine's.
func (m *Map) lookup(subject []byte, c *MapCache) (val *Template, match []int, taken bool) {
	if i, ok := m.exact[string(subject)]; ok {
		return &m.values[i], nil, false
	}
	for i := range m.regexes {
		r := &m.regexes[i]
		switch {
		case !r.captures:
			if r.re.Match(subject) {
				return &r.val, nil, false
			}
		case r.plan != nil && c != nil:
			if r.re.Match(subject) {
				match := c.take(r.groups)
				r.plan.Captures(subject, match)
				return &r.val, match, true
			}
		default:
			if match := r.re.FindSubmatchIndex(subject); match != nil {
				return &r.val, match, false
			}
		}
	}
	return &m.def, nil, false
}

// MaxMapResult bounds a map's result: the text past it is cut off. A
// map's value may name other maps several times each, and they theirs, so
// without a bound a short configuration could make a result grow
// exponentially with the depth of the maps; with it, each map costs at
// most this much once per request.
const MaxMapResult = 8 << 10

// AppendValue appends m's result for a source whose value is subject,
// the chosen value expanded with vals (and with the regex's captures in
// subject) and cut at MaxMapResult, and caches it in vals.Maps, if any,
// for the request. The value's variables are percent-encoded as Append
// does.
func (m *Map) AppendValue(dst, subject []byte, vals *Values) []byte {
	val, match, taken := m.lookup(subject, vals.Maps)
	start := len(dst)
	if match != nil {
		sub := *vals
		sub.Subject, sub.Match = subject, match
		dst = val.Append(dst, &sub)
		if taken {
			vals.Maps.release(len(match))
		}
	} else {
		dst = val.Append(dst, vals)
	}
	if len(dst)-start > MaxMapResult {
		dst = dst[:start+MaxMapResult]
	}
	if vals.Maps != nil {
		vals.Maps.put(m.ID, dst[start:])
	}
	return dst
}

// appendMap appends m's result for the request: the cached one, or the
// source expanded (without percent-encoding) and looked up. A LogOnly map
// cannot be evaluated here (Parse refuses it) and appends nothing.
func (vals *Values) appendMap(dst []byte, m *Map) []byte {
	if c := vals.Maps; c != nil {
		if r, ok := c.get(m.ID); ok {
			return append(dst, r...)
		}
	}
	if m.LogOnly {
		return dst
	}
	// The source is expanded in dst, past its end, and the result is
	// moved over it: the subject is dst[o:e], which appending at e or
	// in a grown copy of dst leaves as it is.
	o := len(dst)
	dst = m.Source.appendParts(dst, vals, nil, escRaw)
	e := len(dst)
	dst = m.AppendValue(dst, dst[o:e:e], vals)
	n := copy(dst[o:], dst[e:])
	return dst[:o+n]
}

// MapCache keeps the results of the maps of one request. The zero
// MapCache is empty; it grows to the number of maps once and allocates
// nothing after. A MapCache belongs to one goroutine.
type MapCache struct {
	gen  uint32
	buf  []byte
	slot []mapSlot
	// ints is a stack of group indexes (a map's value may name a map
	// whose regex needs its own while the first's are in use); top is
	// its height.
	ints []int
	top  int
}

// take returns n ints from the top of the stack.
func (c *MapCache) take(n int) []int {
	if c.top+n > len(c.ints) {
		c.ints = append(c.ints, make([]int, c.top+n-len(c.ints))...)
	}
	s := c.ints[c.top : c.top+n : c.top+n]
	c.top += n
	return s
}

// release gives the top n ints back.
func (c *MapCache) release(n int) { c.top -= n }

// mapSlot is one map's result: buf[start:end], valid when gen is the
// cache's.
type mapSlot struct {
	gen        uint32
	start, end int32
}

// Reset forgets every result: the next request starts. It costs the same
// whatever the number of maps.
func (c *MapCache) Reset() {
	c.gen++
	if c.gen == 0 { // wrapped: old slots could look current
		clear(c.slot)
		c.gen = 1
	}
	c.buf = c.buf[:0]
	c.top = 0
}

// Get returns map id's result cached since the last Reset.
func (c *MapCache) Get(id int) ([]byte, bool) { return c.get(id) }

// get returns map id's cached result.
func (c *MapCache) get(id int) ([]byte, bool) {
	if id >= len(c.slot) || c.gen == 0 || c.slot[id].gen != c.gen {
		return nil, false
	}
	s := c.slot[id]
	return c.buf[s.start:s.end], true
}

// put caches map id's result b (copied).
func (c *MapCache) put(id int, b []byte) {
	if c.gen == 0 {
		c.gen = 1
	}
	if id >= len(c.slot) {
		c.slot = append(c.slot, make([]mapSlot, id+1-len(c.slot))...)
	}
	start := len(c.buf)
	c.buf = append(c.buf, b...)
	c.slot[id] = mapSlot{gen: c.gen, start: int32(start), end: int32(len(c.buf))}
}
