//go:build linux

package bench

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"sync"
	"time"
)

// idleDialers is how many connections the idle scenario opens at once: enough
// to open 8000 in about a second, few enough not to overflow a listen backlog.
const idleDialers = 32

// runIdle opens N keep-alive connections to srv, each after one complete
// request, and reports how much the server's process tree grew per
// connection (VmRSS of the server and its children, before vs after).
// Over TLS the connections are crypto/tls clients: the figure is the
// server's memory, and the dialers are goroutines anyway.
func (e *env) runIdle(ctx context.Context, srv *server, sc *scenario, rec *runRecord) error {
	n := sc.conns
	if e.opts.connections > 0 {
		n = e.opts.connections
	}
	var tlsConf *tls.Config
	if cert, err := e.certFor(sc); err != nil {
		return err
	} else if cert != nil {
		tlsConf = &tls.Config{RootCAs: cert.pool, ServerName: tlsServerName, MinVersion: tls.VersionTLS13}
	}
	before := stableRSS(srv.pid())
	req := buildRequest(sc.path, srv.addr, false)
	conns := make([]net.Conn, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < idleDialers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 16<<10)
			for i := range next {
				conns[i], errs[i] = openIdle(srv.addr, req, sc.length, buf, e.opts.timeout, tlsConf)
			}
		}()
	}
	start := time.Now()
feed:
	for i := 0; i < n; i++ {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	rec.Seconds = time.Since(start).Seconds()
	var failed int
	var first error
	for _, err := range errs {
		if err != nil {
			failed++
			if first == nil {
				first = err
			}
		}
	}
	after := stableRSS(srv.pid())
	rec.IdleConns = n - failed
	rec.RSSBeforeKiB = before
	rec.RSSAfterKiB = after
	if rec.IdleConns > 0 {
		rec.BytesPerConn = float64(after-before) * 1024 / float64(rec.IdleConns)
	}
	rec.Requests = uint64(rec.IdleConns)
	if failed > 0 {
		rec.Errors.Read = uint64(failed)
		return fmt.Errorf("%w: idle against %s: %d of %d connections failed, first: %v%s",
			ErrValidation, srv.t.name, failed, n, first, srv.tail())
	}
	return ctx.Err()
}

// openIdle connects (over TLS when tlsConf is not nil), makes one request,
// reads the whole answer and returns the connection open.
func openIdle(addr string, req []byte, length int64, buf []byte, timeout time.Duration, tlsConf *tls.Config) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(timeout))
	if tlsConf != nil {
		c = tls.Client(c, tlsConf) // the handshake runs with the first Write, within the deadline
	}
	if _, err := c.Write(req); err != nil {
		c.Close()
		return nil, err
	}
	var p respParser
	p.reset()
	for {
		m, err := c.Read(buf)
		b := buf[:m]
		for len(b) > 0 {
			k, done, perr := p.feed(b)
			if perr != nil {
				c.Close()
				return nil, perr
			}
			if done {
				c.SetDeadline(time.Time{})
				if p.status != 200 || p.bodyLen != length || p.closing {
					c.Close()
					return nil, fmt.Errorf("%w: status %d, %d body bytes (want 200, %d), closing %v", ErrValidation, p.status, p.bodyLen, length, p.closing)
				}
				return c, nil
			}
			b = b[k:]
		}
		if err != nil {
			c.Close()
			return nil, err
		}
	}
}
