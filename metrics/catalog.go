//go:build linux

package metrics

import "sync/atomic"

// Register returns the catalog index of the route series named server,
// listen, location, appending it when the catalog does not hold it yet;
// 0 (the overflow series) when the catalog is full. The master calls it
// for every route of a configuration before starting its workers; the
// owner of a private table calls it itself. The table's one writer only.
func (t *Table) Register(server, listen, location string) int {
	return register(t.routes, &t.hdr.nRoutes, server, listen, location)
}

// RegisterBackend is Register for the backend series of address backend
// in upstream group upstream.
func (t *Table) RegisterBackend(upstream, backend string) int {
	return register(t.backends, &t.hdr.nBackends, upstream, backend, "")
}

// Lookup returns the catalog index of a route series (0, the overflow
// series, when it is not registered). For a private table it registers.
func (t *Table) Lookup(server, listen, location string) int {
	if t.private {
		return t.Register(server, listen, location)
	}
	return find(t.routes, t.hdr.nRoutes.Load(), server, listen, location)
}

// LookupBackend is Lookup for a backend series.
func (t *Table) LookupBackend(upstream, backend string) int {
	if t.private {
		return t.RegisterBackend(upstream, backend)
	}
	return find(t.backends, t.hdr.nBackends.Load(), upstream, backend, "")
}

// UseRoute marks route series i as part of this process's configuration:
// its scrapes render it. UseBackend is the same for a backend series.
func (t *Table) UseRoute(i int) {
	t.useRoute[i] = true
	t.hasRoutes = true
}

// UseBackend marks backend series i as rendered by this process.
func (t *Table) UseBackend(i int) { t.useBack[i] = true }

// ForgetUses clears what UseRoute and UseBackend marked (a server binding
// its series again).
func (t *Table) ForgetUses() {
	t.useRoute, t.useBack, t.hasRoutes = [MaxRoutes]bool{}, [MaxBackends]bool{}, false
}

func register(es []entry, n *atomic.Uint32, a, b, c string) int {
	cur := n.Load()
	if i := find(es, cur, a, b, c); i > 0 {
		return i
	}
	if int(cur) >= len(es) {
		return 0
	}
	e := &es[cur]
	*e = entry{}
	off := 0
	for k, s := range [3]string{a, b, c} {
		s = cut(s)
		e.lens[k] = uint8(len(s))
		off += copy(e.text[off:], s)
	}
	n.Store(cur + 1) // publishes the entry
	return int(cur)
}

// find returns the index of the entry named a, b, c among the first n
// (index 0 excluded), or 0.
func find(es []entry, n uint32, a, b, c string) int {
	a, b, c = cut(a), cut(b), cut(c)
	for i := 1; i < int(n) && i < len(es); i++ {
		x, y, z := es[i].labels()
		if string(x) == a && string(y) == b && string(z) == c {
			return i
		}
	}
	return 0
}

// labels returns the entry's three label values (views of its text).
// The lengths are bounded by the text: the catalog lives in memory every
// worker can write, and a worker that wrote nonsense there (one taken
// over) must not make the root master, which reads the catalog on each
// reload, panic.
func (e *entry) labels() (a, b, c []byte) {
	t := e.text[:]
	n0 := min(int(e.lens[0]), len(t))
	n1 := min(int(e.lens[1]), len(t)-n0)
	n2 := min(int(e.lens[2]), len(t)-n0-n1)
	return t[:n0], t[n0 : n0+n1], t[n0+n1 : n0+n1+n2]
}

// cut bounds a label value to maxLabel bytes, on a UTF-8 sequence's
// boundary (a label value must stay valid UTF-8).
func cut(s string) string {
	if len(s) <= maxLabel {
		return s
	}
	n := maxLabel
	for n > 0 && s[n]&0xc0 == 0x80 {
		n--
	}
	return s[:n]
}
