package tls

import (
	"crypto/sha256"
	"crypto/sha512"
	ctls "crypto/tls"
	"fmt"
	"hash"
)

// kernelKeys is one direction's record protection as the kernel takes it
// (linux/tls.h's tls12_crypto_info_aes_gcm_*): AES-GCM with key, a 4-byte
// salt and an 8-byte IV (together the 12-byte nonce base), and the
// sequence number of the next record.
type kernelKeys struct {
	version uint16 // ctls.VersionTLS12 or VersionTLS13
	key     []byte // 16 or 32 bytes
	salt    [4]byte
	iv      [8]byte
	seq     uint64
}

// suiteKeys is what the hand-over needs to know of a cipher suite.
type suiteKeys struct {
	keyLen int
	hash   func() hash.Hash
}

// kernelSuite reports the suites the hand-over supports: AES-GCM, which
// every kernel with TLS offload has. ChaCha20-Poly1305 is refused: the
// kernel has it, but the standard library has no ChaCha20-Poly1305 to
// verify the sequence numbers with.
func kernelSuite(id uint16) (suiteKeys, bool) {
	switch id {
	case ctls.TLS_AES_128_GCM_SHA256,
		ctls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
		ctls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256:
		return suiteKeys{keyLen: 16, hash: sha256.New}, true
	case ctls.TLS_AES_256_GCM_SHA384,
		ctls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
		ctls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384:
		return suiteKeys{keyLen: 32, hash: sha512.New384}, true
	}
	return suiteKeys{}, false
}

func unsafeHandOver(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrKTLSUnsafe}, a...)...)
}

// kernelKeys works out both directions' keys and sequence numbers for the
// kernel, or refuses with ErrKTLSUnsafe when they cannot be known exactly.
// It must run right after the handshake: before any Read or Write, with
// the handshake's output sent and nothing fed beyond it. Unless it
// refuses only because output is pending (send it and call again), the
// captured records are released. Loop thread.
func (t *Conn) kernelKeys() (tx, rx kernelKeys, err error) {
	switch {
	case t.state != stateEstablished:
		return tx, rx, t.recordsError()
	case !t.server:
		// A TLS 1.3 server sends NewSessionTicket records after the
		// handshake; the kernel would hand them to the socket's reader
		// as records it must parse.
		return tx, rx, unsafeHandOver("client connections stay in userspace")
	case t.used:
		return tx, rx, unsafeHandOver("records were read or written after the handshake")
	case t.p.pending() > 0:
		return tx, rx, unsafeHandOver("handshake output not yet sent")
	case t.p.buffered() > 0:
		// These bytes came off the socket already; the kernel would start
		// decrypting after them, mid-stream.
		t.p.takeCapture()
		return tx, rx, unsafeHandOver("ciphertext beyond the handshake was already received")
	}
	c := t.p.takeCapture()
	if c == nil {
		return tx, rx, unsafeHandOver("secrets were not captured (Context.SetKTLS is off)")
	}
	if c.badLine {
		return tx, rx, unsafeHandOver("key log line did not parse")
	}
	cs := t.tc.ConnectionState()
	suite, ok := kernelSuite(cs.CipherSuite)
	if !ok {
		return tx, rx, unsafeHandOver("cipher suite %s is not offloaded", ctls.CipherSuiteName(cs.CipherSuite))
	}
	var serverKey, serverIV, clientKey, clientIV []byte
	tls13 := cs.Version == ctls.VersionTLS13
	switch {
	case tls13:
		if c.clientTraffic == nil || c.serverTraffic == nil {
			return tx, rx, unsafeHandOver("TLS 1.3 traffic secrets missing from the key log")
		}
		if serverKey, serverIV, err = trafficKeys13(suite.hash, c.serverTraffic, suite.keyLen); err != nil {
			return tx, rx, unsafeHandOver("%v", err)
		}
		if clientKey, clientIV, err = trafficKeys13(suite.hash, c.clientTraffic, suite.keyLen); err != nil {
			return tx, rx, unsafeHandOver("%v", err)
		}
	case cs.Version == ctls.VersionTLS12:
		if c.masterSecret == nil && cs.DidResume {
			// crypto/tls logs the master secret of full TLS 1.2
			// handshakes only; a resumed session's stays in the ticket.
			return tx, rx, unsafeHandOver("resumed TLS 1.2 session: crypto/tls does not log its master secret")
		}
		serverRandom, ok := serverHelloRandom(c.out)
		if c.masterSecret == nil || len(c.clientRandom) != 32 || !ok {
			return tx, rx, unsafeHandOver("TLS 1.2 master secret or randoms missing")
		}
		clientKey, serverKey, clientIV, serverIV = keyBlock12(suite.hash, c.masterSecret, c.clientRandom, serverRandom, suite.keyLen)
	default:
		return tx, rx, unsafeHandOver("version %#x is not offloaded", cs.Version)
	}
	txSeq, err := countRecords(tls13, serverKey, serverIV, c.out)
	if err != nil {
		return tx, rx, unsafeHandOver("records sent: %v", err)
	}
	rxSeq, err := countRecords(tls13, clientKey, clientIV, c.in)
	if err != nil {
		return tx, rx, unsafeHandOver("records received: %v", err)
	}
	// TLS 1.2's Finished is the first record under the new keys in each
	// direction: exactly one each is expected, and finding it proves the
	// key block right. TLS 1.3 sends nothing else under the client's
	// application key before the handshake ends, and the pipe delivers no
	// byte past the client's Finished.
	if !tls13 && (txSeq != 1 || rxSeq != 1) {
		return tx, rx, unsafeHandOver("TLS 1.2 Finished records not found (sent %d, received %d)", txSeq, rxSeq)
	}
	if tls13 && rxSeq != 0 {
		return tx, rx, unsafeHandOver("%d application records received during the handshake", rxSeq)
	}
	return makeKernelKeys(cs.Version, serverKey, serverIV, txSeq), makeKernelKeys(cs.Version, clientKey, clientIV, rxSeq), nil
}

// makeKernelKeys lays out one direction for the kernel. TLS 1.3: the
// 12-byte IV splits into salt (4) and iv (8); the kernel XORs the
// sequence number into them. TLS 1.2: salt is the implicit nonce and iv
// the explicit nonce of the next record, which the kernel sends and then
// increments. crypto/tls uses the sequence number as the explicit nonce,
// so iv must be the next sequence number: starting it anywhere lower
// would repeat a nonce crypto/tls already used with this key.
func makeKernelKeys(version uint16, key, iv []byte, seq uint64) kernelKeys {
	k := kernelKeys{version: version, key: key, seq: seq}
	copy(k.salt[:], iv[:4])
	if version == ctls.VersionTLS13 {
		copy(k.iv[:], iv[4:12])
	} else {
		for i := range k.iv {
			k.iv[i] = byte(seq >> (56 - 8*i))
		}
	}
	return k
}

// countRecords counts the records of stream protected with key: the
// records before the key took over (plaintext, or under the handshake
// key) do not open with it; from the first that opens, every later
// record must open with the next sequence number. ChangeCipherSpec
// records are never protected and are skipped.
func countRecords(tls13 bool, key, iv []byte, stream []byte) (uint64, error) {
	aead, err := newGCM(key)
	if err != nil {
		return 0, err
	}
	var seq uint64
	for len(stream) > 0 {
		rec, rest, ok := nextRecord(stream)
		if !ok {
			return 0, fmt.Errorf("partial record of %d bytes", len(stream))
		}
		stream = rest
		if rec[0] == recordTypeChangeCipherSpec {
			continue
		}
		if _, _, err := openRecord(tls13, aead, iv, seq, rec); err != nil {
			if seq > 0 {
				return 0, fmt.Errorf("record %d after the key change does not open", seq)
			}
			continue
		}
		seq++
	}
	return seq, nil
}

// serverHelloRandom finds the server random in the server's first flight:
// the first record is a plaintext handshake record starting with the
// ServerHello (type 2), whose body is version (2 bytes), then random (32).
func serverHelloRandom(out []byte) ([]byte, bool) {
	rec, _, ok := nextRecord(out)
	if !ok || rec[0] != recordTypeHandshake || len(rec) < recordHeaderLen+4+2+32 {
		return nil, false
	}
	msg := rec[recordHeaderLen:]
	if msg[0] != 2 {
		return nil, false
	}
	return msg[4+2 : 4+2+32], true
}
