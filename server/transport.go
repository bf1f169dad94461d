//go:build linux

package server

import "github.com/nproxy/nproxy/reactor"

// The transport of a connection: how its bytes reach the socket. Every
// byte the conn or its stream sends goes through these methods, never
// straight to the reactor.Conn, so that a TLS connection (tlsconn.go)
// cannot leak plaintext: in the clear they are the reactor's operations;
// over TLS the bytes are encrypted into records first, a file is read and
// encrypted instead of sendfile'd, and splice is not offered.

// send writes b; done=false means OnSendDone follows (b untouched until
// then).
func (c *conn) send(b []byte) (bool, error) {
	if c.tls != nil {
		return c.tls.out.Send(b)
	}
	return c.rc.Send(b)
}

// sendFile writes n bytes of file fd from off.
func (c *conn) sendFile(fd int, off, n int64) (bool, error) {
	if c.tls != nil {
		return c.tls.out.SendFile(fd, off, n)
	}
	return c.rc.SendFile(fd, off, n)
}

// sendHead sends as much of a response head as the socket takes at once,
// flagged to go out with the file that follows (MSG_MORE); it returns how
// many bytes were sent. Over TLS nothing is sent this way: the head is
// encrypted with the first piece of the file by send.
func (c *conn) sendHead(b []byte) int {
	if c.tls != nil {
		return 0
	}
	return c.rc.SendHead(b)
}

// canSplice reports whether bytes may move kernel to kernel into this
// connection (never over userspace TLS).
func (c *conn) canSplice() bool { return c.tls == nil }

// spliceFrom moves n bytes from src to the client with splice(2).
func (c *conn) spliceFrom(src *reactor.Conn, n int64) (bool, error) {
	if !c.canSplice() {
		return false, errNoSplice
	}
	return c.rc.Splice(src, n)
}

// shutdownWrite half-closes the connection after its pending output (over
// TLS, after a close_notify alert).
func (c *conn) shutdownWrite() {
	if c.tls != nil {
		c.tls.shutdownWrite(c)
		return
	}
	c.rc.ShutdownWrite()
}
