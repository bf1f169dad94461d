//go:build linux

package server

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strconv"

	"github.com/nproxy/nproxy/config"
	nptls "github.com/nproxy/nproxy/tls"
)

// TLS termination on the connection's transport (see transport.go). The
// record layer sits between the reactor.Conn and the HTTP state machine:
// ciphertext received is fed to the TLS engine and the plaintext it
// yields goes to recv, as plain input does; everything sent is encrypted
// into records first, by the engine's Sender (the one proxy's upstream
// connections use too). The handshake runs in a bounded goroutine of the
// engine (crypto/tls cannot resume a handshake on would-block); its
// progress is posted back to the loop, where the rest of the connection
// lives.

// plainOnTLSBody is nginx's answer to a plain-HTTP request on a TLS port;
// plainOnTLSBytes is the whole response, sent as is before closing.
const plainOnTLSBody = "<html>\r\n<head><title>400 The plain HTTP request was sent to HTTPS port</title></head>\r\n<body>\r\n" +
	"<center><h1>400 Bad Request</h1></center>\r\n<center>The plain HTTP request was sent to HTTPS port</center>\r\n</body>\r\n</html>\r\n"

// tlsConn is the TLS side of one client connection.
type tlsConn struct {
	t     *nptls.Conn
	out   nptls.Sender // sends t's records, and the conn's bytes and files (transport.go)
	ready bool         // handshake done

	failed     bool // the handshake failed: close once its alert is out
	plainReply bool // answering a plain-HTTP request in the clear
}

// newTLSContext builds the TLS context of one listen address, its
// blocks being the SNI sites in order.
func (s *Server) newTLSContext(g *addrGroup) error {
	var sites []nptls.Site
	for _, vh := range g.vhosts {
		site, err := siteOf(vh.cfg)
		if err != nil {
			return err
		}
		sites = append(sites, site)
	}
	ctx, err := nptls.NewContext(sites)
	if err != nil {
		return fmt.Errorf("server: listen %s: %w", g.addr, err)
	}
	g.tls = ctx
	ok, why := nptls.KTLSAvailable()
	if ok {
		ctx.SetKTLS(true)
		g.ktls = true
	}
	s.log.Infof("tls: listen %s: %s", g.addr, why)
	if s.ticketKeys != nil {
		ctx.SetTicketKeys(s.ticketKeys)
	}
	return nil
}

// siteOf loads a [server] block's certificates for its TLS site: the
// content the configuration was validated with (config.CertPair), so a
// worker started after the files changed serves what was checked.
func siteOf(sc *config.Server) (nptls.Site, error) {
	var certs, keys [][]byte
	for _, p := range sc.TLSCerts {
		certs, keys = append(certs, p.CertPEM), append(keys, p.KeyPEM)
	}
	site, err := nptls.SiteFromPEM(certs, keys, sc.ServerNames)
	if err != nil {
		return site, fmt.Errorf("server: %w", err)
	}
	site.MinVersion, site.MaxVersion = sc.TLSMinVersion, sc.TLSMaxVersion
	site.SessionTickets = sc.TLSSessionTickets
	site.Curves = sc.TLSCurves
	if sc.HTTP2 {
		site.NextProtos = []string{"h2", "http/1.1"}
	}
	if sc.TLSClientCA != "" {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(sc.TLSClientCAPEM) {
			return site, fmt.Errorf("server: tls_client_ca %s: no certificate", sc.TLSClientCA)
		}
		site.ClientCAs = pool
	}
	return site, nil
}

// SetTicketKeys hands every TLS address the session ticket keys the
// master shares with all workers (the first encrypts, all decrypt), so
// that a session resumes on any worker. Loop thread or before Serve.
func (s *Server) SetTicketKeys(keys [][32]byte) {
	s.ticketKeys = keys
	for _, g := range s.groups {
		if g.tls != nil {
			g.tls.SetTicketKeys(keys)
		}
	}
}

// startTLS begins the handshake of a connection accepted on a TLS address.
func (c *conn) startTLS() {
	tc := c.s.getTLS()
	s, seq := c.s, c.seq
	tc.t = c.g.tls.Server(func() { s.loop.Post(func() { s.tlsWake(c, seq) }) })
	tc.out.Init(tc.t, c.rc, s.loop)
	c.tls = tc
}

// tlsWake continues a handshake whose goroutine made progress.
func (s *Server) tlsWake(c *conn, seq uint32) {
	if c.seq != seq || c.state == stClosed || c.tls == nil {
		return
	}
	c.enter()
	c.tlsProgress()
	c.leave()
}

// tlsInput takes ciphertext from the socket.
func (c *conn) tlsInput(data []byte) {
	if c.state == stClosed || c.tls.failed {
		return
	}
	c.tls.t.Feed(data)
	if !c.tls.ready {
		c.s.yieldToHandshakes()
	}
	c.tlsProgress()
}

// handshakeYield lets the handshake goroutines run before the loop waits
// again (reactor.Deferred). With one P, a goroutine made runnable while
// the loop thread then blocks in epoll_wait or io_uring_enter would wait
// for the runtime's sysmon to take the P away from the blocked thread,
// which takes up to 10 ms when the process is otherwise idle: the
// handshake rate then stalls on that latency, not on the CPU. A Gosched
// on the loop thread once per turn in which a handshake got input hands
// the P over at once.
type handshakeYield struct{ s *Server }

// RunDeferred yields the loop thread's P to the handshake goroutines.
func (y *handshakeYield) RunDeferred() {
	y.s.yieldQueued = false
	runtime.Gosched()
}

// yieldToHandshakes queues one handshakeYield for the end of this turn.
func (s *Server) yieldToHandshakes() {
	if s.yieldQueued {
		return
	}
	s.yieldQueued = true
	if s.yield == nil {
		s.yield = &handshakeYield{s: s}
	}
	s.loop.DeferOnLoop(s.yield)
}

// tlsProgress advances the handshake, then decrypts every record received
// and hands the plaintext to recv.
func (c *conn) tlsProgress() {
	tc := c.tls
	if !tc.ready {
		if tc.t.LooksLikePlainHTTP() {
			c.plainOnTLS()
			return
		}
		done, err := tc.t.Handshake()
		if err != nil {
			c.s.log.Debugf("tls: handshake: %v", err)
			tc.failed = true
			if ok, _ := tc.out.Flush(); ok {
				c.closeNow()
			}
			return
		}
		if _, err := tc.out.Flush(); err != nil {
			c.closeNow()
			return
		}
		if !done {
			return
		}
		tc.ready = true
		if i := tc.t.Site(); i >= 0 && i < len(c.g.vhosts) {
			c.vh, c.sniPinned = c.g.vhosts[i], true
		}
		if tc.t.State().NegotiatedProtocol == "h2" {
			c.startH2()
		}
		if c.tlsToKernel() {
			return
		}
	}
	buf := c.s.tlsPlain
	for c.state != stClosed {
		n, err := tc.t.Read(buf)
		if n > 0 {
			c.recv(buf[:n])
			continue
		}
		switch {
		case errors.Is(err, nptls.ErrWouldBlock):
			return
		case errors.Is(err, io.EOF):
			c.readEnd(nil)
		default:
			c.s.log.Debugf("tls: read: %v", err)
			c.readEnd(err)
		}
		return
	}
}

// tlsToKernel hands the negotiated keys to the kernel (kTLS) when the
// context asked for it and nothing is in flight: from then on the
// connection is a plain one to the conn (sendfile and splice included) and
// the kernel makes the records. It reports whether the conn went on in the
// kernel (or closed); false leaves it in user space.
func (c *conn) tlsToKernel() bool {
	tc := c.tls
	if tc.out.Sending() || tc.t.Pending() > 0 || !c.g.ktls {
		return false
	}
	err := nptls.EnableKTLS(c.rc.Fd(), tc.t)
	switch {
	case err == nil:
		c.releaseTLS()
		return true
	case errors.Is(err, nptls.ErrKTLSHalf):
		c.s.log.Errorf("tls: %v", err)
		c.closeNow()
		return true
	}
	c.s.log.Debugf("tls: kernel TLS refused: %v", err)
	return false
}

// plainOnTLS answers a plain-HTTP request sent to a TLS port, in the
// clear, and closes (nginx's answer).
func (c *conn) plainOnTLS() {
	tc := c.tls
	tc.failed, tc.plainReply = true, true
	done, err := c.rc.Send(plainOnTLSBytes)
	switch {
	case err != nil:
		c.closeNow()
	case done:
		c.lingerClose()
	}
	// Else tlsSendDone closes once the answer is out.
}

var plainOnTLSBytes = []byte("HTTP/1.1 400 Bad Request\r\nServer: nproxy\r\nContent-Type: text/html\r\n" +
	"Content-Length: " + strconv.Itoa(len(plainOnTLSBody)) + "\r\nConnection: close\r\n\r\n" + plainOnTLSBody)

// lingerClose shuts the output down and drops input until the client's
// EOF (or lingerTimeout), so that the answer is read before a reset.
func (c *conn) lingerClose() {
	c.state = stLinger
	c.rc.ShutdownWrite()
	c.rc.SetTimeout(lingerTimeout)
	c.rc.StartRecv()
}

// shutdownWrite half-closes the connection, after a close_notify alert
// once the handshake is done.
func (tc *tlsConn) shutdownWrite(c *conn) {
	if !tc.ready || tc.failed {
		c.rc.ShutdownWrite()
		return
	}
	tc.out.ShutdownWrite()
}

// tlsSendDone handles the completion of a ciphertext send; it reports
// whether the conn's own OnSendDone handling must run (its send is
// complete, or failed), with the error to report.
func (c *conn) tlsSendDone(err error) (bool, error) {
	tc := c.tls
	if tc.plainReply {
		if err != nil {
			c.closeNow()
		} else {
			c.lingerClose()
		}
		return false, nil
	}
	busy, owed, err := tc.out.SendDone(err)
	switch {
	case busy:
	case tc.failed && err == nil:
		c.closeNow() // the handshake's alert is out
	case owed:
		return true, err
	case err != nil:
		c.closeNow()
	}
	return false, nil
}

// releaseTLS gives the TLS state back (teardown).
func (c *conn) releaseTLS() {
	tc := c.tls
	if tc == nil {
		return
	}
	c.tls = nil
	tc.t.Close()
	tc.out.Release()
	*tc = tlsConn{}
	c.s.tlsFree = append(c.s.tlsFree, tc)
}

func (s *Server) getTLS() *tlsConn {
	if n := len(s.tlsFree); n > 0 {
		tc := s.tlsFree[n-1]
		s.tlsFree = s.tlsFree[:n-1]
		return tc
	}
	return new(tlsConn)
}
