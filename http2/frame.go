//go:build linux

package http2

import "encoding/binary"

// The frame layer (RFC 9113 §4, §6): a 9-byte header in front of every
// frame, and the helpers that append whole frames to the output. Frames
// are read in place from the bytes the caller hands to Input; none is
// copied or allocated.

// Preface is the client connection preface (RFC 9113 §3.4): the first 24
// bytes of every HTTP/2 connection, after the TLS handshake with ALPN h2
// and in the clear with prior knowledge (h2c) alike. It reads as an
// HTTP/1.x request line with the method PRI, which http's parser refuses,
// so a plain listener can sniff it before choosing a protocol.
const Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// ALPN is the protocol name a TLS listener offers for HTTP/2.
const ALPN = "h2"

// frameHeaderLen is the size of a frame header.
const frameHeaderLen = 9

// The frame types of RFC 9113 §6.
type frameType uint8

const (
	frameData         frameType = 0x0
	frameHeaders      frameType = 0x1
	framePriority     frameType = 0x2
	frameRSTStream    frameType = 0x3
	frameSettings     frameType = 0x4
	framePushPromise  frameType = 0x5
	framePing         frameType = 0x6
	frameGoAway       frameType = 0x7
	frameWindowUpdate frameType = 0x8
	frameContinuation frameType = 0x9
)

// Frame flags; each is defined only for the types named beside it.
const (
	flagEndStream  = 0x1  // DATA, HEADERS
	flagAck        = 0x1  // SETTINGS, PING
	flagEndHeaders = 0x4  // HEADERS, CONTINUATION
	flagPadded     = 0x8  // DATA, HEADERS
	flagPriority   = 0x20 // HEADERS
)

// The settings of RFC 9113 §6.5.2.
const (
	settingHeaderTableSize      = 0x1
	settingEnablePush           = 0x2
	settingMaxConcurrentStreams = 0x3
	settingInitialWindowSize    = 0x4
	settingMaxFrameSize         = 0x5
	settingMaxHeaderListSize    = 0x6
)

// Protocol constants of RFC 9113.
const (
	// defaultWindow is every flow-control window before SETTINGS and
	// WINDOW_UPDATE change it (§6.9.2).
	defaultWindow = 65535
	// maxWindow is the largest window a sender may be granted (§6.9.1).
	maxWindow = 1<<31 - 1
	// minMaxFrameSize is the frame size every endpoint must accept; we
	// advertise no other, so it is also our receive limit (§4.2).
	minMaxFrameSize = 16384
	// maxMaxFrameSize is the largest SETTINGS_MAX_FRAME_SIZE (§6.5.2).
	maxMaxFrameSize = 1<<24 - 1
)

// frameHeader is a parsed frame header.
type frameHeader struct {
	length   uint32
	typ      frameType
	flags    uint8
	streamID uint32
}

// readFrameHeader parses the 9 bytes at the front of b, which must hold
// them. The reserved bit of the stream identifier is ignored (§4.1).
func readFrameHeader(b []byte) frameHeader {
	return frameHeader{
		length:   uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2]),
		typ:      frameType(b[3]),
		flags:    b[4],
		streamID: binary.BigEndian.Uint32(b[5:9]) & (1<<31 - 1),
	}
}

// appendFrameHeader appends a frame header; length must be below 2^24.
func appendFrameHeader(dst []byte, length int, typ frameType, flags uint8, id uint32) []byte {
	return append(dst, byte(length>>16), byte(length>>8), byte(length), byte(typ), flags,
		byte(id>>24), byte(id>>16), byte(id>>8), byte(id))
}

// appendUint32 appends v big-endian.
func appendUint32(dst []byte, v uint32) []byte {
	return binary.BigEndian.AppendUint32(dst, v)
}

// appendSetting appends one SETTINGS parameter.
func appendSetting(dst []byte, id uint16, v uint32) []byte {
	return appendUint32(binary.BigEndian.AppendUint16(dst, id), v)
}

// appendRSTStream appends a RST_STREAM frame.
func appendRSTStream(dst []byte, id uint32, code ErrCode) []byte {
	return appendUint32(appendFrameHeader(dst, 4, frameRSTStream, 0, id), uint32(code))
}

// appendWindowUpdate appends a WINDOW_UPDATE frame; incr is 1..2^31-1.
func appendWindowUpdate(dst []byte, id uint32, incr uint32) []byte {
	return appendUint32(appendFrameHeader(dst, 4, frameWindowUpdate, 0, id), incr)
}

// appendGoAway appends a GOAWAY frame without debug data.
func appendGoAway(dst []byte, lastID uint32, code ErrCode) []byte {
	dst = appendFrameHeader(dst, 8, frameGoAway, 0, 0)
	return appendUint32(appendUint32(dst, lastID), uint32(code))
}

// isPrefacePrefix reports whether b is a prefix of the preface (or the
// whole of it).
func isPrefacePrefix(b []byte) bool {
	if len(b) > len(Preface) {
		b = b[:len(Preface)]
	}
	return string(b) == Preface[:len(b)]
}

// LooksLikePreface reports what the first bytes b of a plain connection
// say: match is false as soon as they cannot start the preface (serve
// HTTP/1.1), complete is true once all 24 bytes are there and match (serve
// h2c with prior knowledge, handing b, preface included, to the Conn).
// With match true and complete false, wait for more bytes. An HTTP/1.1
// request never matches past its first byte or two ("PRI" is no method
// nproxy serves), so the wait costs nothing in practice.
func LooksLikePreface(b []byte) (match, complete bool) {
	if !isPrefacePrefix(b) {
		return false, false
	}
	return true, len(b) >= len(Preface)
}
