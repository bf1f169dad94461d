//go:build linux

package http

import "bytes"

// AcceptsCoding reports whether an Accept-Encoding value v names coding
// (gzip, br) with a q value other than zero (RFC 9110 §12.5.3). "*" is
// not read as naming every coding: a client that sends only "*" gets
// the identity, which it accepts too.
func AcceptsCoding(v []byte, coding string) bool {
	for len(v) > 0 {
		var item []byte
		if i := bytes.IndexByte(v, ','); i >= 0 {
			item, v = v[:i], v[i+1:]
		} else {
			item, v = v, nil
		}
		name, params, _ := bytes.Cut(item, []byte{';'})
		if !EqualFold(bytes.TrimSpace(name), coding) {
			continue
		}
		params = bytes.TrimSpace(params)
		if q, ok := bytes.CutPrefix(params, []byte("q=")); ok && zeroQ(q) {
			return false
		}
		return true
	}
	return false
}

// zeroQ reports whether a q value is 0 (0, 0.0, 0.000).
func zeroQ(q []byte) bool {
	if len(q) == 0 || q[0] != '0' {
		return false
	}
	for _, c := range q[1:] {
		if c != '.' && c != '0' {
			return false
		}
	}
	return true
}
