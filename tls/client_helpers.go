package tls

// Buffered reports the ciphertext fed to the connection that crypto/tls
// has not consumed yet. After the handshake only whole records are handed
// on, so once Read returns ErrWouldBlock a non-zero count is part of a
// record still to come: if the peer's end of stream arrives then, the
// stream was cut inside a record (a truncation, not a clean end). Loop
// thread only.
func (t *Conn) Buffered() int {
	return t.p.buffered()
}
