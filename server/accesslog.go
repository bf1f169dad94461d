//go:build linux

package server

import (
	crand "crypto/rand"
	"fmt"
	"math/rand/v2"

	"github.com/nproxy/nproxy/accesslog"
	"github.com/nproxy/nproxy/http"
	"github.com/nproxy/nproxy/logging"
)

// This file fills the access log's entries (observe.go writes them): the
// request's fields a block's log_format uses, taken while the request
// head is valid, and $request_id.

// fillConn sets the fields of e that come from the connection and its
// block, and $request_id: those of every line, a request that could not
// be parsed included.
func (c *conn) fillConn(e *accesslog.Entry, f *accesslog.Format) {
	e.Scheme = "http"
	if c.g.tls != nil {
		e.Scheme = "https"
	}
	if names := c.vh.cfg.ServerNames; len(names) > 0 {
		e.ServerName = names[0]
	}
	e.ServerPort = portOf(c.g.addr)
	if f.Uses(accesslog.VarRequestID) {
		e.RequestID = c.s.requestID()
	}
}

// fillRequest sets the fields of e that f uses from req (buf holds its
// head), a request of c answered on its block, and fillConn's: line is
// the request line ($request), proto its protocol. x.Path is the routed
// path ($uri).
func (c *conn) fillRequest(e *accesslog.Entry, f *accesslog.Format, req *http.Request, buf, line []byte, proto string) {
	s := c.s
	c.fillConn(e, f)
	e.Request, e.Protocol = line, proto
	if f.Uses(accesslog.VarRequestMethod) {
		e.Method = req.MethodSpan.Bytes(buf)
	}
	if f.Uses(accesslog.VarRequestURI) {
		e.RequestURI = req.URI.Bytes(buf)
	}
	if f.Uses(accesslog.VarURI) {
		e.URI = s.x.Path
	}
	if f.Uses(accesslog.VarArgs) {
		e.Args = req.Query.Bytes(buf)
	}
	if f.Uses(accesslog.VarHost) {
		e.Host = s.hostValue(c, req.Host.Bytes(buf))
	}
	for i, name := range f.Headers {
		if v, ok := req.Header(buf, name); ok {
			e.Headers[i] = v
		}
	}
}

// protoOf returns req's $server_protocol.
func protoOf(req *http.Request) string {
	if req.Minor == 0 {
		return "HTTP/1.0"
	}
	return "HTTP/1.1"
}

// requestID returns $request_id of the exchange being served: 32 hex
// digits of 16 random bytes, made at its first use in the exchange (the
// access log and proxy_set_header see one value) by the worker's
// generator, ChaCha8 seeded from the kernel's randomness: unpredictable,
// and a few nanoseconds without a system call. Loop thread only; the
// text is valid until the next exchange.
func (s *Server) requestID() []byte {
	if !s.reqIDSet {
		if s.idGen == nil {
			var seed [32]byte
			crand.Read(seed[:]) // never fails on Linux (getrandom)
			s.idGen = rand.NewChaCha8(seed)
		}
		const hex = "0123456789abcdef"
		for i := 0; i < 2; i++ {
			v := s.idGen.Uint64()
			for j := 0; j < 16; j++ {
				s.reqID[i*16+j] = hex[v>>60]
				v <<= 4
			}
		}
		s.reqIDSet = true
	}
	return s.reqID[:]
}

// usesUpstream reports whether f holds an $upstream_ variable: then a
// streamed exchange keeps the backends it tried.
func usesUpstream(f *accesslog.Format) bool {
	return f.Uses(accesslog.VarUpstreamAddr) || f.Uses(accesslog.VarUpstreamStatus) ||
		f.Uses(accesslog.VarUpstreamConnectTime) || f.Uses(accesslog.VarUpstreamResponseTime)
}

// logRefused writes the error log line of a request a step refused for a
// reason an operator must see (http.Exchange.Cause), worded as nginx
// words it, with the client's address, the block and the request: once
// per request, and the logger's rate limit bounds a flood of them. line
// is the request line; nil on HTTP/2, where it is made from the method
// and target.
func (c *conn) logRefused(req *http.Request, buf, line []byte) {
	s := c.s
	if !s.log.Enabled(logging.Error) {
		return
	}
	x := &s.x
	root := ""
	if r := s.route; r != nil {
		root = r.cfg.StaticRoot
	}
	var what string
	switch x.Cause {
	case http.CauseForbiddenFile:
		what = fmt.Sprintf("open() %q failed (permission denied)", root+string(x.Path))
	case http.CauseDirIndex:
		what = fmt.Sprintf("directory index of %q is forbidden", root+string(x.Path))
	default:
		return
	}
	if line == nil {
		line = fmt.Appendf(nil, "%s %s HTTP/2.0", req.MethodSpan.Bytes(buf), req.URI.Bytes(buf))
	}
	s.log.Errorf("static: %s, client: %s, server: %s, request: %q, host: %q",
		what, c.peerAddr(), serverLabel(c.vh.cfg), line, req.Host.Bytes(buf))
}
