package accesslog

import (
	"fmt"
	"strings"
	"unsafe"

	"github.com/nproxy/nproxy/vars"
)

// Maps' results in log formats (nginx's map; package vars has the maps).
// A map's source is read as the format reads that variable, so a map of
// $status, $http_NAME or $upstream_addr works here (and only here); its
// value is a vars.Template, expanded with Values made from the Entry. The
// result is computed at the map's first use in a line (the condition's
// or the format's) and kept until the next line.

// maxMapDepth bounds the maps a map's source and values may lead
// through; the configuration refuses cycles, this only keeps a cycle
// that slipped through from recursing without end.
const maxMapDepth = 32

// lookupMap returns the map called name, or nil.
func (f *Format) lookupMap(name string) *vars.Map {
	if f.maps == nil {
		return nil
	}
	return f.maps(name)
}

// mapOp returns the op of map m, its source compiled as a variable of the
// format, and marks what its values need as used.
func (f *Format) mapOp(m *vars.Map, depth int) (op, error) {
	if depth > maxMapDepth {
		return op{}, fmt.Errorf("%w: $%s: maps lead through more than %d maps (a cycle?)", ErrFormat, m.Name, maxMapDepth)
	}
	var src op
	var err error
	if sm := f.lookupMap(m.SourceName); sm != nil && varNames[m.SourceName] == 0 && !strings.HasPrefix(m.SourceName, "http_") {
		src, err = f.mapOp(sm, depth+1)
	} else {
		src, err = f.variable(m.SourceName)
		if err != nil {
			err = fmt.Errorf("%w: map $%s: its source $%s is not a log variable", ErrUnknownVar, m.Name, m.SourceName)
		}
	}
	if err != nil {
		return op{}, err
	}
	f.uses |= 1 << src.v
	var verr error
	m.Templates(func(t vars.Template) {
		if err := f.useTemplate(t, depth); err != nil && verr == nil {
			verr = err
		}
	})
	if verr != nil {
		return op{}, verr
	}
	f.uses |= 1 << VarMap
	return op{v: VarMap, m: m, src: &src}, nil
}

// useTemplate marks the entry fields that t's variables are made from as
// used, and those of the maps it names.
func (f *Format) useTemplate(t vars.Template, depth int) error {
	if depth > maxMapDepth {
		return fmt.Errorf("%w: maps lead through more than %d maps (a cycle?)", ErrFormat, maxMapDepth)
	}
	uses := []struct {
		v   vars.Var
		log Var
	}{
		{vars.Host, VarHost}, {vars.RequestURI, VarRequestURI}, {vars.URI, VarURI}, {vars.Args, VarArgs},
		{vars.IsArgs, VarArgs}, {vars.RemoteAddr, VarRemoteAddr}, {vars.ProxyAddXFF, VarRemoteAddr},
		{vars.RequestID, VarRequestID},
	}
	for _, u := range uses {
		if t.Uses(u.v) {
			f.uses |= 1 << u.log
		}
	}
	header := func(name string, idx *int) error {
		if *idx >= 0 {
			return nil
		}
		o, err := f.variable(name)
		if err != nil {
			return err
		}
		*idx = o.hdr
		return nil
	}
	if t.Uses(vars.HTTPHost) {
		if err := header("http_host", &f.hostHdr); err != nil {
			return err
		}
	}
	if t.Uses(vars.ProxyAddXFF) {
		if err := header("http_x_forwarded_for", &f.xffHdr); err != nil {
			return err
		}
	}
	var err error
	t.Headers(func(name string) {
		if err == nil {
			_, err = f.header(name)
		}
	})
	t.Maps(func(m *vars.Map) {
		if err == nil {
			err = f.useTemplate(m.Source, depth+1)
		}
		m.Templates(func(v vars.Template) {
			if err == nil {
				err = f.useTemplate(v, depth+1)
			}
		})
	})
	return err
}

// mapValue returns map op o's result for e: cached for the line, or its
// source read and looked up.
func (l *Log) mapValue(o *op, e *Entry) []byte {
	if r, ok := l.maps.Get(o.m.ID); ok {
		return r
	}
	var subject []byte
	if o.src.v == VarMap {
		subject = l.mapValue(o.src, e) // in the cache, which appending to leaves as it is
	} else {
		l.srcBuf = l.appendVar(l.srcBuf[:0], EscapeNone, o.src, e)
		subject = l.srcBuf
	}
	l.valBuf = o.m.AppendValue(l.valBuf[:0], subject, l.entryValues(e))
	r, _ := l.maps.Get(o.m.ID)
	return r
}

// entryValues returns the variables of package vars for e, for maps'
// values.
func (l *Log) entryValues(e *Entry) *vars.Values {
	l.addrBuf = l.addrBuf[:0]
	if e.Addr.IsValid() {
		l.addrBuf = e.Addr.AppendTo(l.addrBuf)
	}
	l.entry = e
	l.vals = vars.Values{
		Scheme: bytesOf(e.Scheme), Host: e.Host, RequestURI: e.RequestURI, URI: e.URI, Args: e.Args,
		RemoteAddr: l.addrBuf, ServerPort: bytesOf(e.ServerPort), RequestID: e.RequestID, Maps: &l.maps,
		Headers: (*entryHeaders)(l),
	}
	if f := l.format; f != nil {
		if f.hostHdr >= 0 {
			l.vals.HTTPHost = e.Headers[f.hostHdr]
		}
		if f.xffHdr >= 0 {
			l.vals.XFF = e.Headers[f.xffHdr]
		}
	}
	return &l.vals
}

// entryHeaders are the header fields of the entry being written, for
// $http_NAME in maps' values (vars.HeaderSource): those the format
// collects (useTemplate adds the ones the values name).
type entryHeaders Log

// Header returns the entry's field name, if the format collects it.
func (h *entryHeaders) Header(name string) ([]byte, bool) {
	if h.format == nil || h.entry == nil {
		return nil, false
	}
	for i, n := range h.format.Headers {
		if n == name {
			v := h.entry.Headers[i]
			return v, v != nil
		}
	}
	return nil, false
}

// bytesOf returns s's bytes without copying them; they are only read.
func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// IsVar reports whether name (without '$') is a variable of log formats:
// one of the table's or $http_NAME.
func IsVar(name string) bool {
	_, ok := varNames[name]
	return ok || strings.HasPrefix(name, "http_") && len(name) > len("http_")
}
