package vars

// Prepared holds templates expanded for one request while the request
// is at hand, all but their response variables ($status,
// $upstream_addr, $upstream_status), which Append fills in once the
// response head is written: a proxied response's head arrives after the
// request's buffer has gone to the next request, so what a template
// needs of the request is expanded before (Add), and only the response's
// variables after.
//
// The zero Prepared is empty. It grows to the largest request it holds
// once and allocates nothing after; Reset empties it for the next. A
// Prepared belongs to one goroutine.
type Prepared struct {
	buf  []byte    // the request's parts of every template, expanded, in order
	segs []segment // each template's runs of buf, each followed by a response variable or its end
	ends []int32   // ends[i]: the index in segs past template i's last segment
}

// segment is one run of Prepared.buf, from the previous segment's end
// to end, then response variable v (literal: the template ends there).
type segment struct {
	end int32
	v   Var
}

// Reset empties p, keeping its memory.
func (p *Prepared) Reset() {
	p.buf, p.segs, p.ends = p.buf[:0], p.segs[:0], p.ends[:0]
}

// Len returns the number of templates added since the last Reset.
func (p *Prepared) Len() int { return len(p.ends) }

// Add expands t with vals, all but its response variables, as the next
// template of p (its index is the Len before the call).
func (p *Prepared) Add(t Template, vals *Values) {
	for i := range t.parts {
		part := &t.parts[i]
		if isResponseVar(part.v) {
			p.segs = append(p.segs, segment{end: int32(len(p.buf)), v: part.v})
			continue
		}
		p.buf = appendPart(p.buf, part, vals, nil, t.esc)
	}
	p.segs = append(p.segs, segment{end: int32(len(p.buf)), v: literal})
	p.ends = append(p.ends, int32(len(p.segs)))
}

// Append appends template i of p with its response variables taken from
// vals (only those are read).
func (p *Prepared) Append(dst []byte, i int, vals *Values) []byte {
	first, start := int32(0), int32(0)
	if i > 0 {
		first = p.ends[i-1]
		start = p.segs[first-1].end
	}
	for _, s := range p.segs[first:p.ends[i]] {
		dst = append(dst, p.buf[start:s.end]...)
		start = s.end
		dst = appendResponse(dst, s.v, vals)
	}
	return dst
}
