package proxyproto

import (
	"encoding/binary"
	"net/netip"
	"strconv"
)

// The sending side, for a proxy that passes its client's address on to a
// backend (HAProxy's send-proxy and send-proxy-v2): the header is
// written once, first on a new connection.

// MaxV1 is the longest header AppendV1 writes; MaxV2 AppendV2's.
const (
	MaxV1 = maxV1
	MaxV2 = 16 + 36
)

// AppendV1 appends the version 1 header for a connection from src to
// dst: "PROXY TCP4 ..." or "PROXY TCP6 ...", or "PROXY UNKNOWN" when
// either address is invalid (LOCAL: a connection of the proxy's own,
// such as a health check). An IPv4 address with an IPv6 one is written
// as IPv4-mapped IPv6, as the line has one family.
func AppendV1(b []byte, src, dst netip.AddrPort) []byte {
	if !src.IsValid() || !dst.IsValid() {
		return append(b, "PROXY UNKNOWN\r\n"...)
	}
	s, d := src.Addr(), dst.Addr()
	if s.Is4() && d.Is4() {
		b = append(b, "PROXY TCP4 "...)
	} else {
		b = append(b, "PROXY TCP6 "...)
		s, d = as6(s), as6(d)
	}
	b = s.AppendTo(b)
	b = append(b, ' ')
	b = d.AppendTo(b)
	b = append(b, ' ')
	b = strconv.AppendUint(b, uint64(src.Port()), 10)
	b = append(b, ' ')
	b = strconv.AppendUint(b, uint64(dst.Port()), 10)
	return append(b, "\r\n"...)
}

// AppendV2 appends the version 2 header for a connection from src to
// dst (PROXY command, TCP over IPv4 or IPv6), or a LOCAL one when either
// address is invalid.
func AppendV2(b []byte, src, dst netip.AddrPort) []byte {
	b = append(b, v2Sig...)
	if !src.IsValid() || !dst.IsValid() {
		return append(b, 0x20, 0x00, 0, 0) // version 2, LOCAL; AF_UNSPEC; no addresses
	}
	s, d := src.Addr(), dst.Addr()
	if s.Is4() && d.Is4() {
		b = append(b, 0x21, 0x11, 0, 12) // version 2, PROXY; AF_INET, STREAM
		a, c := s.As4(), d.As4()
		b = append(append(b, a[:]...), c[:]...)
	} else {
		b = append(b, 0x21, 0x21, 0, 36) // AF_INET6, STREAM
		a, c := as6(s).As16(), as6(d).As16()
		b = append(append(b, a[:]...), c[:]...)
	}
	b = binary.BigEndian.AppendUint16(b, src.Port())
	return binary.BigEndian.AppendUint16(b, dst.Port())
}

// as6 is a as an IPv6 address (IPv4-mapped for an IPv4 one).
func as6(a netip.Addr) netip.Addr {
	if a.Is4() {
		return netip.AddrFrom16(a.As16())
	}
	return a
}
