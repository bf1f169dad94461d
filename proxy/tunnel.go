//go:build linux

package proxy

// After a 101 Switching Protocols the exchange becomes a tunnel: bytes go
// both ways unchanged until one side closes (the other side's output is
// then shut down, and the tunnel ends when both are done) or neither side
// sends for proxy_timeout.

// startTunnel switches the session to tunnel mode.
func (s *session) startTunnel() {
	s.keepClient, s.keepUp = false, false
	s.reqBuf, s.sentOff = s.reqBuf[:0], 0
	s.replayable = false
	s.cl.SetTimeout(s.h.cfg.ProxyTimeout)
	// Client bytes that came after the request (the first frames) are
	// offered through ClientData once this event has been handled.
	s.cl.ResumeRecv()
}

// takeTunnel appends client bytes to reqBuf as far as it has room.
func (s *session) takeTunnel(b []byte) int {
	if s.upSending || s.up == nil {
		return 0
	}
	room := cap(s.reqBuf) - len(s.reqBuf)
	if room < len(b) {
		b = b[:room]
	}
	s.reqBuf = append(s.reqBuf, b...)
	return len(b)
}

// endTunnel closes both sides.
func (s *session) endTunnel() { s.abort() }
