//go:build linux

package server

import (
	"errors"
	"time"

	"github.com/nproxy/nproxy/http"
	"github.com/nproxy/nproxy/reactor"
)

// The body of a request the server answers itself (a static file, an
// error, /healthz) is not needed, but it must be read past to find the
// next request on the connection: it is read and dropped (nginx's
// ngx_http_discard_request_body), under body_timeout.

var errBodyTooLarge = errors.New("server: request body too large")

// continue100 is the interim response that tells a client waiting on
// Expect: 100-continue to send its body.
const continue100 = "HTTP/1.1 100 Continue\r\n\r\n"

// skipBody arranges for the body of the request being answered to be
// dropped; closing reports that the connection closes after the answer,
// timeout is the route's body_timeout (0: the [server]'s).
//
// A client that sent Expect: 100-continue may wait for a 100 before it
// sends the body (RFC 9110 §10.1.1), so the server answers as nginx does:
// when the connection stays open, 100 Continue goes out first, then the
// final response, and the body is read and dropped; when it closes, the
// final response goes out at once without a 100 (no body is invited that
// nobody would read), and lingering drops whatever the client sends
// anyway. Either way the client gets its answer, never a bare close.
func (c *conn) skipBody(req *http.Request, closing bool, timeout time.Duration) {
	if req.Expect100 {
		if closing {
			c.lingerAfter = true
			return
		}
		if c.out == nil {
			c.out = c.s.loop.GetBuf(reactor.SmallBuf)
		}
		c.out = append(c.out, continue100...)
	}
	c.startDiscard(req, timeout)
}

// startDiscard prepares to read and drop the body of a request whose
// answer does not need it (nginx discards it the same way), so that the
// next request on the connection is found.
func (c *conn) startDiscard(req *http.Request, timeout time.Duration) {
	c.state = stBody
	a := c.getAux()
	a.bodyTimeout, a.chunked, a.discard = timeout, req.Chunked, req.ContentLength
	if req.Chunked {
		a.chunk.Reset()
		a.discard = 0
	}
}

// endDiscard ends the dropping of a body: the state returns to stRead.
func (c *conn) endDiscard() {
	c.state = stRead
	c.putAux()
}

// bodyTimeout is the body_timeout of the body being dropped: its route's.
func (c *conn) bodyTimeout() time.Duration {
	if a := c.aux; a != nil && a.bodyTimeout > 0 {
		return a.bodyTimeout
	}
	return c.vh.cfg.BodyTimeout
}

// discardBody consumes body bytes from b; the state returns to stRead at
// the end of the body.
func (c *conn) discardBody(b []byte) (int, error) {
	c.rc.SetTimeout(c.bodyTimeout())
	a := c.aux
	if !a.chunked {
		n := int64(len(b))
		if n > a.discard {
			n = a.discard
		}
		a.discard -= n
		if a.discard == 0 {
			c.endDiscard()
		}
		return int(n), nil
	}
	pos := 0
	for pos < len(b) {
		n, _, done, err := a.chunk.Next(b[pos:])
		pos += n
		if err != nil {
			return pos, err
		}
		if max := c.vh.cfg.MaxBodySize; max > 0 && a.chunk.Payload() > max {
			return pos, errBodyTooLarge
		}
		if done {
			c.endDiscard()
			break
		}
		if n == 0 {
			break
		}
	}
	return pos, nil
}
