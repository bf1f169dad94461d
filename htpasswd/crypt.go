package htpasswd

import (
	"crypto/md5"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"hash"
	"strconv"
	"strings"
)

// The crypt(3) hash forms that are not bcrypt: SHA-crypt (Ulrich
// Drepper's "Unix crypt using SHA-256 and SHA-512", the $5$ and $6$ of
// glibc) and MD5-crypt (Poul-Henning Kamp's $1$, and Apache's $apr1$,
// which differs only in its magic). Both write their digest in crypt's
// own base64 alphabet, three bytes at a time in a fixed byte order.

// cryptAlphabet is crypt(3)'s base64 alphabet.
const cryptAlphabet = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// SHA-crypt's round bounds and default (the specification's).
const (
	shaRoundsDefault = 5000
	shaRoundsMin     = 1000
	shaRoundsMax     = 999999999
	shaSaltMax       = 16
)

// splitSHACrypt splits "$5$[rounds=N$]salt$digest".
func splitSHACrypt(h string) (magic string, rounds int, explicit bool, salt string, err error) {
	magic, rest := h[:3], h[3:]
	rounds = shaRoundsDefault
	if r, ok := strings.CutPrefix(rest, "rounds="); ok {
		num, after, found := strings.Cut(r, "$")
		n, ok := parseRounds(num)
		if !found || !ok {
			return "", 0, false, "", errors.New("bad SHA-crypt rounds")
		}
		rounds, explicit, rest = min(max(n, shaRoundsMin), shaRoundsMax), true, after
	}
	salt, digest, found := strings.Cut(rest, "$")
	want := 43
	if magic == "$6$" {
		want = 86
	}
	if !found || len(digest) != want || strings.Trim(digest, cryptAlphabet) != "" {
		return "", 0, false, "", errors.New("bad SHA-crypt hash")
	}
	return magic, rounds, explicit, salt[:min(len(salt), shaSaltMax)], nil
}

// shaCrypt returns the SHA-crypt hash of key with the settings of h.
func shaCrypt(key []byte, h string) string {
	magic, rounds, explicit, salt, err := splitSHACrypt(h)
	if err != nil {
		return ""
	}
	newHash := sha256.New
	order := sha256Order[:]
	if magic == "$6$" {
		newHash, order = sha512.New, sha512Order[:]
	}
	sum := func(h hash.Hash) []byte { return h.Sum(nil) }

	// Digest B: key, salt, key.
	b := newHash()
	b.Write(key)
	b.Write([]byte(salt))
	b.Write(key)
	db := sum(b)
	size := len(db)

	// Digest A: key, salt, B repeated over the key's length, then the
	// bits of the key's length choosing B or the key.
	a := newHash()
	a.Write(key)
	a.Write([]byte(salt))
	n := len(key)
	for ; n > size; n -= size {
		a.Write(db)
	}
	a.Write(db[:n])
	for n = len(key); n > 0; n >>= 1 {
		if n&1 != 0 {
			a.Write(db)
		} else {
			a.Write(key)
		}
	}
	da := sum(a)

	// P: the key hashed len(key) times, cut to len(key).
	dp := newHash()
	for range len(key) {
		dp.Write(key)
	}
	p := repeatTo(sum(dp), len(key))

	// S: the salt hashed 16 + A[0] times, cut to len(salt).
	ds := newHash()
	for range 16 + int(da[0]) {
		ds.Write([]byte(salt))
	}
	s := repeatTo(sum(ds), len(salt))

	c := da
	for i := range rounds {
		h := newHash()
		if i&1 != 0 {
			h.Write(p)
		} else {
			h.Write(c)
		}
		if i%3 != 0 {
			h.Write(s)
		}
		if i%7 != 0 {
			h.Write(p)
		}
		if i&1 != 0 {
			h.Write(c)
		} else {
			h.Write(p)
		}
		c = sum(h)
	}

	var out strings.Builder
	out.WriteString(magic)
	if explicit {
		out.WriteString("rounds=" + strconv.Itoa(rounds) + "$")
	}
	out.WriteString(salt)
	out.WriteByte('$')
	for i := 0; i+2 < len(order); i += 3 {
		encode24(&out, c[order[i]], c[order[i+1]], c[order[i+2]], 4)
	}
	if magic == "$6$" {
		encode24(&out, 0, 0, c[order[len(order)-1]], 2)
	} else {
		encode24(&out, 0, c[order[len(order)-2]], c[order[len(order)-1]], 3)
	}
	return out.String()
}

// The byte orders SHA-crypt writes its digests in, three at a time
// (the last one or two bytes alone).
var (
	sha256Order = [32]int{0, 10, 20, 21, 1, 11, 12, 22, 2, 3, 13, 23, 24, 4, 14, 15, 25, 5, 6, 16, 26, 27, 7, 17, 18, 28, 8, 9, 19, 29, 31, 30}
	sha512Order = [64]int{0, 21, 42, 22, 43, 1, 44, 2, 23, 3, 24, 45, 25, 46, 4, 47, 5, 26, 6, 27, 48, 28, 49, 7, 50, 8, 29, 9, 30, 51, 31, 52, 10,
		53, 11, 32, 12, 33, 54, 34, 55, 13, 56, 14, 35, 15, 36, 57, 37, 58, 16, 59, 17, 38, 18, 39, 60, 40, 61, 19, 62, 20, 41, 63}
)

// encode24 writes n characters of the 24-bit group b2 b1 b0, low bits
// first.
func encode24(out *strings.Builder, b2, b1, b0 byte, n int) {
	w := uint(b2)<<16 | uint(b1)<<8 | uint(b0)
	for range n {
		out.WriteByte(cryptAlphabet[w&0x3f])
		w >>= 6
	}
}

// repeatTo returns d repeated to n bytes.
func repeatTo(d []byte, n int) []byte {
	out := make([]byte, 0, n)
	for len(out) < n {
		out = append(out, d[:min(len(d), n-len(out))]...)
	}
	return out
}

// splitMD5Crypt splits "$apr1$salt$digest" or "$1$salt$digest".
func splitMD5Crypt(h string) (magic, salt, digest string, err error) {
	magic = "$1$"
	if strings.HasPrefix(h, "$apr1$") {
		magic = "$apr1$"
	}
	salt, digest, found := strings.Cut(h[len(magic):], "$")
	if !found || len(salt) > 8 || len(digest) != 22 || strings.Trim(digest, cryptAlphabet) != "" {
		return "", "", "", errors.New("bad MD5-crypt hash")
	}
	return magic, salt, digest, nil
}

// md5Crypt returns the MD5-crypt hash of key with the magic and salt of
// h.
func md5Crypt(key []byte, h string) string {
	magic, salt, _, err := splitMD5Crypt(h)
	if err != nil {
		return ""
	}
	b := md5.New()
	b.Write(key)
	b.Write([]byte(salt))
	b.Write(key)
	db := b.Sum(nil)

	a := md5.New()
	a.Write(key)
	a.Write([]byte(magic))
	a.Write([]byte(salt))
	for n := len(key); n > 0; n -= 16 {
		a.Write(db[:min(n, 16)])
	}
	for n := len(key); n > 0; n >>= 1 {
		if n&1 != 0 {
			a.Write([]byte{0})
		} else {
			a.Write(key[:1])
		}
	}
	c := a.Sum(nil)
	for i := range 1000 {
		h := md5.New()
		if i&1 != 0 {
			h.Write(key)
		} else {
			h.Write(c)
		}
		if i%3 != 0 {
			h.Write([]byte(salt))
		}
		if i%7 != 0 {
			h.Write(key)
		}
		if i&1 != 0 {
			h.Write(c)
		} else {
			h.Write(key)
		}
		c = h.Sum(nil)
	}
	var out strings.Builder
	out.WriteString(magic + salt + "$")
	encode24(&out, c[0], c[6], c[12], 4)
	encode24(&out, c[1], c[7], c[13], 4)
	encode24(&out, c[2], c[8], c[14], 4)
	encode24(&out, c[3], c[9], c[15], 4)
	encode24(&out, c[4], c[10], c[5], 4)
	encode24(&out, 0, 0, c[11], 2)
	return out.String()
}
