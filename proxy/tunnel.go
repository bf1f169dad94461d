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
	if buf := s.cl.Buffered(); len(buf) > 0 {
		s.cl.Consume(s.takeTunnel(buf))
	}
	if len(s.cl.Buffered()) == 0 {
		s.cl.ResumeRecv()
	}
	if len(s.reqBuf) > 0 {
		s.sendUp()
	}
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
