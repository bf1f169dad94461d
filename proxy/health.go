//go:build linux

package proxy

import (
	"bytes"
	"net/netip"
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

func startProbe(g *Group, b *backend, every time.Duration) {
	p := &probe{}
	u := newUpConn(g, b)
	u.probe = p
	p.u = u
	rc, err := g.loop.Dial(b.sa, u)
	if err != nil {
		p.u = nil
		b.failed(g.loop.NowNano())
		return
	}
	u.rc = rc
	g.newPP(u, netip.AddrPort{}, netip.AddrPort{})
	timeout := every
	if g.probeTimeout > 0 && g.probeTimeout < timeout {
		timeout = g.probeTimeout
	}
	rc.SetTimeout(timeout)
	p.buf = append(p.buf, "GET "...)
	p.buf = append(p.buf, g.healthCheck...)
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
		if !b.up(u.g.loop.NowNano()) {
			u.g.log.Infof("proxy: backend %s is up (health check)", b.label)
		}
		b.succeeded()
	} else {
		if b.up(u.g.loop.NowNano()) {
			u.g.log.Warnf("proxy: backend %s failed its health check", b.label)
		}
		b.fails = b.maxFails
		b.probed = true
		b.setDown(u.g.loop.NowNano() + int64(u.g.healthEvery) + int64(time.Second))
	}
	u.close()
}
