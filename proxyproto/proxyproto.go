// Package proxyproto reads the PROXY protocol header (HAProxy's, versions
// 1 and 2) that a load balancer puts in front of a connection's bytes to
// pass on the client's address (listen = ADDR proxy_protocol).
//
// Version 1 is one text line, "PROXY TCP4 src dst sport dport\r\n", at
// most 107 bytes; version 2 is a 16-byte binary header (a 12-byte
// signature, command, family, length) followed by the addresses and
// optional TLVs, which are skipped. A LOCAL command (a health check of the
// balancer itself) and an UNKNOWN or non-IP family carry no client
// address: the connection's own peer stands.
package proxyproto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"strconv"
)

// ErrBadHeader is returned by Parse when the connection does not start
// with a valid PROXY header.
var ErrBadHeader = errors.New("proxyproto: bad PROXY protocol header")

// MaxHeader bounds a header Parse waits for: a version 2 header with TLVs
// larger than this is refused (the balancers that add TLVs keep them to a
// few hundred bytes).
const MaxHeader = 4 << 10

// maxV1 is the longest version 1 line (the specification's 107 bytes).
const maxV1 = 107

// v2Sig is the version 2 signature.
var v2Sig = []byte("\r\n\r\n\x00\r\nQUIT\n")

// Parse reads the header at the start of b. With a whole header it
// returns its length and the client's address (invalid when the header
// carries none); with a valid beginning it returns n == 0 and no error,
// and more bytes are needed.
func Parse(b []byte) (n int, src netip.Addr, err error) {
	if len(b) == 0 {
		return 0, src, nil
	}
	if b[0] == 'P' {
		return parseV1(b)
	}
	k := min(len(b), len(v2Sig))
	if !bytes.Equal(b[:k], v2Sig[:k]) {
		return 0, src, ErrBadHeader
	}
	return parseV2(b)
}

func parseV1(b []byte) (int, netip.Addr, error) {
	var none netip.Addr
	const prefix = "PROXY "
	k := min(len(b), len(prefix))
	if string(b[:k]) != prefix[:k] {
		return 0, none, ErrBadHeader
	}
	end := bytes.Index(b[:min(len(b), maxV1)], []byte("\r\n"))
	if end < 0 {
		if len(b) >= maxV1 {
			return 0, none, ErrBadHeader
		}
		return 0, none, nil
	}
	f := bytes.Split(b[len(prefix):end], []byte{' '})
	n := end + 2
	switch {
	case len(f) >= 1 && string(f[0]) == "UNKNOWN":
		return n, none, nil
	case len(f) != 5 || string(f[0]) != "TCP4" && string(f[0]) != "TCP6":
		return 0, none, ErrBadHeader
	}
	src, err := netip.ParseAddr(string(f[1]))
	if err != nil || src.Is4() != (string(f[0]) == "TCP4") || src.Zone() != "" {
		return 0, none, ErrBadHeader
	}
	if _, err := netip.ParseAddr(string(f[2])); err != nil {
		return 0, none, ErrBadHeader
	}
	for _, p := range f[3:] {
		if v, err := strconv.Atoi(string(p)); err != nil || v < 0 || v > 65535 || len(p) > 1 && p[0] == '0' {
			return 0, none, ErrBadHeader
		}
	}
	return n, src.Unmap(), nil // an IPv4-mapped TCP6 source is the IPv4 client, as in version 2
}

func parseV2(b []byte) (int, netip.Addr, error) {
	var none netip.Addr
	if len(b) < 16 {
		return 0, none, nil
	}
	verCmd, fam := b[12], b[13]
	length := int(binary.BigEndian.Uint16(b[14:16]))
	if verCmd>>4 != 2 || verCmd&0xf > 1 || 16+length > MaxHeader {
		return 0, none, ErrBadHeader
	}
	n := 16 + length
	if len(b) < n {
		return 0, none, nil
	}
	if verCmd&0xf == 0 { // LOCAL
		return n, none, nil
	}
	addrs := b[16:n]
	switch fam >> 4 {
	case 1: // AF_INET
		if len(addrs) < 12 {
			return 0, none, ErrBadHeader
		}
		return n, netip.AddrFrom4([4]byte(addrs[:4])), nil
	case 2: // AF_INET6
		if len(addrs) < 36 {
			return 0, none, ErrBadHeader
		}
		return n, netip.AddrFrom16([16]byte(addrs[:16])).Unmap(), nil
	}
	return n, none, nil // AF_UNSPEC or AF_UNIX: no IP address
}
