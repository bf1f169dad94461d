//go:build linux

package proxy

import (
	"bytes"
	"time"
)

// probe is one active health check: a GET of health_check's path on a new
// connection; a 2xx or 3xx status marks the backend up, anything else (a
// refused connect, a timeout, another status) marks it down until the next
// probe. Passive tracking goes on between probes. To an https:// backend
// the probe speaks TLS, verified as requests are (resuming the session
// its backend's requests cached), so a certificate that fails
// verification fails the probe.
type probe struct {
	u    *upConn
	buf  []byte
	resp []byte
}

func startProbe(h *Handler, b *backend, every time.Duration) {
	p := &probe{}
	u := newUpConn(h, b)
	u.probe = p
	p.u = u
	rc, err := h.loop.Dial(b.sa, u)
	if err != nil {
		p.u = nil
		b.failed(h.loop.NowNano())
		return
	}
	u.rc = rc
	timeout := every
	if h.cfg.ProxyConnectTimeout < timeout {
		timeout = h.cfg.ProxyConnectTimeout
	}
	rc.SetTimeout(timeout)
	p.buf = append(p.buf, "GET "...)
	p.buf = append(p.buf, h.cfg.HealthCheck...)
	p.buf = append(p.buf, " HTTP/1.1\r\nHost: "...)
	p.buf = append(p.buf, b.addr...)
	p.buf = append(p.buf, "\r\nUser-Agent: nproxy-health-check\r\nConnection: close\r\n\r\n"...)
}

func (p *probe) connected(err error) {
	if err != nil {
		p.done(false)
		return
	}
	p.u.startRecv()
	if _, err := p.u.send(p.buf); err != nil {
		p.done(false)
	}
}

func (p *probe) recv(data []byte) {
	p.resp = append(p.resp, data...)
	if i := bytes.IndexByte(p.resp, '\n'); i >= 0 {
		line := p.resp[:i]
		ok := len(line) >= 12 && bytes.HasPrefix(line, []byte("HTTP/1.")) && (line[9] == '2' || line[9] == '3')
		p.done(ok)
	} else if len(p.resp) > 4096 {
		p.done(false)
	}
}

// done records the probe's verdict and closes its connection.
func (p *probe) done(ok bool) {
	u := p.u
	if u == nil {
		return
	}
	p.u = nil
	b := u.b
	if ok {
		if !b.up(u.h.loop.NowNano()) {
			u.h.log.Infof("proxy: backend %s is up (health check)", b.addr)
		}
		b.succeeded()
	} else {
		if b.up(u.h.loop.NowNano()) {
			u.h.log.Warnf("proxy: backend %s failed its health check", b.addr)
		}
		b.fails = maxFails
		b.downUntil = u.h.loop.NowNano() + int64(u.h.cfg.HealthEvery) + int64(time.Second)
	}
	u.close()
}
