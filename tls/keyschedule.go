package tls

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"encoding/binary"
	"errors"
	"hash"
)

// The key schedule that turns the secrets crypto/tls logs into record
// keys, for the kernel TLS hand-over. crypto/tls keeps its keys to
// itself; these functions redo the last step of its derivation, and the
// tests check them against RFC 8448's published trace and against the
// records crypto/tls actually sends.

// aeadTagLen is the authentication tag of AES-GCM.
const aeadTagLen = 16

// tls12ExplicitNonceLen is the per-record nonce a TLS 1.2 AES-GCM record
// carries in front of its ciphertext (RFC 5288 §3).
const tls12ExplicitNonceLen = 8

// expandLabel is HKDF-Expand-Label (RFC 8446 §7.1):
//
//	HKDF-Expand(Secret, HkdfLabel, Length), where HkdfLabel is
//	uint16 length, opaque label<7..255> = "tls13 " + Label,
//	opaque context<0..255>.
func expandLabel(h func() hash.Hash, secret []byte, label string, context []byte, length int) ([]byte, error) {
	info := make([]byte, 0, 2+1+len("tls13 ")+len(label)+1+len(context))
	info = binary.BigEndian.AppendUint16(info, uint16(length))
	info = append(info, byte(len("tls13 ")+len(label)))
	info = append(info, "tls13 "...)
	info = append(info, label...)
	info = append(info, byte(len(context)))
	info = append(info, context...)
	return hkdf.Expand(h, secret, string(info), length)
}

// trafficKeys13 derives a TLS 1.3 write key and IV from a traffic secret
// (RFC 8446 §7.3): key = HKDF-Expand-Label(secret, "key", "", key_length),
// iv = HKDF-Expand-Label(secret, "iv", "", 12).
func trafficKeys13(h func() hash.Hash, secret []byte, keyLen int) (key, iv []byte, err error) {
	if key, err = expandLabel(h, secret, "key", nil, keyLen); err != nil {
		return nil, nil, err
	}
	if iv, err = expandLabel(h, secret, "iv", nil, 12); err != nil {
		return nil, nil, err
	}
	return key, iv, nil
}

// prf12 is the TLS 1.2 PRF (RFC 5246 §5): P_hash(secret, label + seed),
// where P_hash(secret, seed) = HMAC(secret, A(1) + seed) +
// HMAC(secret, A(2) + seed) + ..., A(0) = seed, A(i) = HMAC(secret, A(i-1)).
func prf12(h func() hash.Hash, secret []byte, label string, seed []byte, length int) []byte {
	labelSeed := append([]byte(label), seed...)
	m := hmac.New(h, secret)
	m.Write(labelSeed)
	a := m.Sum(nil)
	out := make([]byte, 0, length+m.Size())
	for len(out) < length {
		m.Reset()
		m.Write(a)
		m.Write(labelSeed)
		out = m.Sum(out)
		m.Reset()
		m.Write(a)
		a = m.Sum(a[:0])
	}
	return out[:length]
}

// keyBlock12 derives the TLS 1.2 AEAD write keys and implicit nonces
// ("salts") from the master secret (RFC 5246 §6.3; RFC 5288 §3: an
// AES-GCM suite has no MAC keys and a 4-byte fixed IV per direction):
// key_block = PRF(master_secret, "key expansion", server_random +
// client_random), cut into client key, server key, client IV, server IV.
func keyBlock12(h func() hash.Hash, master, clientRandom, serverRandom []byte, keyLen int) (clientKey, serverKey, clientSalt, serverSalt []byte) {
	seed := append(append([]byte{}, serverRandom...), clientRandom...)
	kb := prf12(h, master, "key expansion", seed, 2*keyLen+2*4)
	return kb[:keyLen], kb[keyLen : 2*keyLen], kb[2*keyLen : 2*keyLen+4], kb[2*keyLen+4:]
}

// newGCM makes the AES-GCM AEAD of a record key.
func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

var errRecordOpen = errors.New("tls: record does not open")

// openRecord decrypts one whole record (header included) protected with
// aead at sequence number seq, as TLS 1.3 (iv is the 12-byte write IV) or
// TLS 1.2 AES-GCM (iv is the 4-byte salt) does. It returns the content
// type and plaintext; the record's bytes are not modified.
func openRecord(tls13 bool, aead cipher.AEAD, iv []byte, seq uint64, rec []byte) (byte, []byte, error) {
	if len(rec) < recordHeaderLen {
		return 0, nil, errRecordOpen
	}
	var nonce [12]byte
	if tls13 {
		if len(rec) < recordHeaderLen+aeadTagLen+1 {
			return 0, nil, errRecordOpen
		}
		copy(nonce[:], iv)
		var s [8]byte
		binary.BigEndian.PutUint64(s[:], seq)
		for i := range s {
			nonce[4+i] ^= s[i]
		}
		plain, err := aead.Open(nil, nonce[:], rec[recordHeaderLen:], rec[:recordHeaderLen])
		if err != nil {
			return 0, nil, errRecordOpen
		}
		// TLSInnerPlaintext: content, then the real type, then zero padding.
		i := len(plain) - 1
		for i >= 0 && plain[i] == 0 {
			i--
		}
		if i < 0 {
			return 0, nil, errRecordOpen
		}
		return plain[i], plain[:i], nil
	}
	body := rec[recordHeaderLen:]
	if len(body) < tls12ExplicitNonceLen+aeadTagLen {
		return 0, nil, errRecordOpen
	}
	copy(nonce[:4], iv)
	copy(nonce[4:], body[:tls12ExplicitNonceLen])
	var ad [13]byte
	binary.BigEndian.PutUint64(ad[:8], seq)
	ad[8], ad[9], ad[10] = rec[0], rec[1], rec[2]
	binary.BigEndian.PutUint16(ad[11:], uint16(len(body)-tls12ExplicitNonceLen-aeadTagLen))
	plain, err := aead.Open(nil, nonce[:], body[tls12ExplicitNonceLen:], ad[:])
	if err != nil {
		return 0, nil, errRecordOpen
	}
	return rec[0], plain, nil
}
