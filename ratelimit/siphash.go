package ratelimit

import (
	"crypto/rand"
	"encoding/binary"
	"math/bits"
)

// The set index of a client is SipHash-1-3 of its address under a 128-bit
// key that New draws from crypto/rand, one key per Limiter.
//
// Why a keyed PRF and not a cheaper mix: the table is a hash table whose
// keys the clients choose (any host of a /24 or a /64 can send from many
// addresses), and a client that can predict which set its addresses land
// in can fill one set with its own addresses and churn it, resetting its
// own buckets (finding 6 of issue 9). An unkeyed mix, or a multiply-xorshift
// with a secret seed mixed in linearly, has collisions that do not depend
// on the seed (a multiplication's low bits depend only on the input's low
// bits), so the secret does not help. SipHash is the PRF designed for this
// job, hash-flooding resistance for short inputs, and the 1-3 variant
// (one round per message word, three to finish) is the one the Linux
// kernel (hsiphash) and Rust's HashMap use for tables: it costs a few
// nanoseconds for our two words, allocates nothing, and its output cannot
// be steered without the key.

// sipKey returns a fresh random SipHash key. crypto/rand.Read does not
// fail on Linux (it crashes the program if the kernel's generator does).
func sipKey() (k0, k1 uint64) {
	var b [16]byte
	rand.Read(b[:])
	return binary.LittleEndian.Uint64(b[:8]), binary.LittleEndian.Uint64(b[8:])
}

// sipHash13 is SipHash-1-3 of the 16-byte message whose little-endian
// words are m0 and m1, under the key (k0, k1).
func sipHash13(k0, k1, m0, m1 uint64) uint64 {
	v0 := k0 ^ 0x736f6d6570736575
	v1 := k1 ^ 0x646f72616e646f6d
	v2 := k0 ^ 0x6c7967656e657261
	v3 := k1 ^ 0x7465646279746573

	v3 ^= m0
	v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	v0 ^= m0
	v3 ^= m1
	v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	v0 ^= m1

	const last = 16 << 56 // the message length in the top byte; no bytes left over
	v3 ^= last
	v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	v0 ^= last

	v2 ^= 0xff
	v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	return v0 ^ v1 ^ v2 ^ v3
}

func sipRound(v0, v1, v2, v3 uint64) (uint64, uint64, uint64, uint64) {
	v0 += v1
	v1 = bits.RotateLeft64(v1, 13)
	v1 ^= v0
	v0 = bits.RotateLeft64(v0, 32)
	v2 += v3
	v3 = bits.RotateLeft64(v3, 16)
	v3 ^= v2
	v0 += v3
	v3 = bits.RotateLeft64(v3, 21)
	v3 ^= v0
	v2 += v1
	v1 = bits.RotateLeft64(v1, 17)
	v1 ^= v2
	v2 = bits.RotateLeft64(v2, 32)
	return v0, v1, v2, v3
}
