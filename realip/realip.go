// Package realip finds a request's real client address behind trusted
// proxies (real_ip_from, real_ip_header): in X-Forwarded-For, the
// rightmost address that is not a trusted proxy's (nginx's
// real_ip_recursive on), or the address in X-Real-IP. It parses the
// header's bytes in place and allocates nothing.
package realip

import (
	"net/netip"
	"unsafe"
)

// Trusted is the set of proxies whose headers are believed.
type Trusted []netip.Prefix

// Contains reports whether a is a trusted proxy's address.
func (t Trusted) Contains(a netip.Addr) bool {
	for _, p := range t {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// FromXFF returns the client's address from an X-Forwarded-For value
// received from a trusted peer: the addresses are read from the right,
// each trusted one is a proxy the request went through, and the first
// that is not is the client. When every address is trusted, the leftmost
// is the client. An element that is not an address ends the walk at the
// address to its right (or at the peer): beyond it, the chain cannot be
// read. ok is false when the value yields no address.
func FromXFF(v []byte, trusted Trusted) (client netip.Addr, ok bool) {
	end := len(v)
	for end > 0 {
		start := end
		for start > 0 && v[start-1] != ',' {
			start--
		}
		a, valid := ParseAddr(trim(v[start:end]))
		if !valid {
			return client, ok
		}
		client, ok = a, true
		if !trusted.Contains(a) {
			return client, true
		}
		end = start - 1
		if end < 0 {
			break
		}
	}
	return client, ok
}

// FromXRealIP returns the address of an X-Real-IP value.
func FromXRealIP(v []byte) (netip.Addr, bool) { return ParseAddr(trim(v)) }

// trim drops spaces and tabs around b.
func trim(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// ParseAddr parses an IPv4 or IPv6 address (an IPv4-mapped one is
// unmapped; a zone is refused) without allocating for a valid one.
func ParseAddr(b []byte) (netip.Addr, bool) {
	if len(b) == 0 || len(b) > 45 {
		return netip.Addr{}, false
	}
	if a, ok := parseIPv4(b); ok {
		return a, true
	}
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' || c == ':' || c == '.') {
			return netip.Addr{}, false // '%' zones included: netip would keep the text
		}
	}
	// netip.ParseAddr only reads the string of a valid address without a
	// zone: viewing b in place costs no copy.
	a, err := netip.ParseAddr(unsafe.String(&b[0], len(b)))
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// parseIPv4 parses a dotted quad without leading zeros.
func parseIPv4(b []byte) (netip.Addr, bool) {
	var ip [4]byte
	field, n, digits := 0, 0, 0
	for i := 0; i <= len(b); i++ {
		if i == len(b) || b[i] == '.' {
			if digits == 0 || field > 3 {
				return netip.Addr{}, false
			}
			ip[field] = byte(n)
			field, n, digits = field+1, 0, 0
			continue
		}
		c := b[i]
		if c < '0' || c > '9' || digits > 0 && n == 0 {
			return netip.Addr{}, false
		}
		n = n*10 + int(c-'0')
		digits++
		if n > 255 {
			return netip.Addr{}, false
		}
	}
	if field != 4 {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4(ip), true
}
