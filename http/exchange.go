//go:build linux

package http

import (
	"net/netip"
	"time"

	"github.com/nproxy/nproxy/reactor"
	"github.com/nproxy/nproxy/vars"
)

// Exchange is one request on its way through the routing chain, and the
// response a step answers it with. The server reuses one Exchange for every
// request of a loop, so steps must not keep it (or slices of it) after
// Serve returns, except through Response fields the server consumes.
type Exchange struct {
	Req *Request
	Buf []byte // the bytes Req's spans refer to

	// TLS reports that the request came over TLS (X-Forwarded-Proto:
	// https upstream, $scheme).
	TLS bool

	// Path is the request path, percent-decoded and normalized (dot
	// segments resolved, duplicate slashes merged); it always starts with
	// '/'. Rewrite rules replace it; the static step serves it.
	Path []byte
	// Rewritten reports that a rewrite rule replaced Path: the reverse
	// proxy then forwards Path (re-encoded, with the original query)
	// instead of the client's request-target, as nginx does.
	Rewritten bool
	// Prefix is what a location's strip_prefix (or alias) cut from the
	// front of Path; a redirect built from Path (a directory's trailing
	// slash) puts it back. Empty when nothing was cut.
	Prefix []byte
	// Vars are the request's variables ($remote_addr, $host, ...) when
	// the route's reverse proxy expands some (proxy_set_header); nil
	// otherwise.
	Vars *vars.Values

	Now  time.Time
	Date []byte // current Date header value (RFC 1123, GMT)

	Resp Response

	// ErrorPage, set by the server for a route with error_page lines
	// before its reverse proxy's Serve, fills resp with the route's page
	// for status and reports whether it did. The proxy keeps it and calls
	// it, outside Serve, for an error of its own (502, 504) that comes
	// after Serve returned and before any byte of the response went out.
	// The page's Header and Body are valid until the next call; a
	// Release in resp is the caller's to call. nil without error_page.
	ErrorPage func(status int, resp *Response) bool
	// Cause, set by a step that refuses the request for a reason an
	// operator must see (the server logs it once, with the client's
	// address), says why; CauseNone otherwise.
	Cause Cause
	// ClientAddr and LocalAddr are the client's address (the real
	// client's, from a PROXY header received or real_ip_from, when
	// known) and the address it connected to. The server fills them in
	// only for a reverse proxy that passes them on
	// (proxy_send_proxy_protocol); they are stale otherwise.
	ClientAddr, LocalAddr netip.AddrPort
	// Takeover lets a step (the reverse proxy) take the connection over
	// after Serve: the server then stops reading requests and hands
	// received bytes to the step until it gives the connection back.
	Takeover Takeover
}

// Takeover is implemented by the server for steps that stream (the
// reverse proxy, a tunnel). Hijack, called from Serve, hands the client
// connection to st once Serve returns true: the server stops parsing
// requests and routes the connection's events to st until st calls
// Client.Release or Client.Abort. The request head in Exchange.Buf is
// valid only during Serve: st copies what it needs there.
type Takeover interface {
	Hijack(st Stream) Client
}

// Stream receives a hijacked client connection's events (on the loop
// thread).
//
// Control runs one way. The connection drives the stream through these
// calls; the stream answers through their results and through the
// Client's request methods (Release, Abort, ResumeRecv), which only record
// what the stream wants: the connection applies it once the Stream call
// (or, for a call the stream makes from one of its own events, the
// current event) has returned. So no Stream method ever runs inside
// another, no connection state changes under a caller that is still
// looking at it, and no Client method hands a stream the connection's
// input while the connection is iterating over it.
type Stream interface {
	// ClientData offers bytes received from the client after the request
	// head (body, tunnel data). It returns how many it took. Taking fewer
	// than len(b) means the stream is full: the connection keeps the
	// rest, stops reading, and offers it again only after the stream
	// calls Client.ResumeRecv (from a later event: a ResumeRecv made
	// inside ClientData before a short return is overridden by it). What
	// is left at Release is parsed as the next request.
	ClientData(b []byte) int
	// ClientClosed reports the client's EOF (err nil), after every byte
	// received before it was offered, or a read error or the connection
	// closing (err non-nil). No Stream call follows a non-nil err.
	ClientClosed(err error)
	// ClientSent reports that a Client.Send or SpliceFrom that did not
	// finish at once is done.
	ClientSent(err error)
	// ClientTimeout reports that the timer set with SetTimeout expired.
	ClientTimeout()
}

// Client is what a Stream may do with the hijacked client connection.
type Client interface {
	// Send writes b to the client; done=false means ClientSent follows,
	// and b must stay untouched until then.
	Send(b []byte) (done bool, err error)
	// SpliceFrom moves n bytes from src (a connection of the same loop,
	// an upstream) to the client with splice(2), never through user
	// space; see reactor.Conn.Splice. The end is reported by ClientSent,
	// always after SpliceFrom returns (done is true only for n == 0).
	SpliceFrom(src *reactor.Conn, n int64) (done bool, err error)
	// CanSplice reports whether SpliceFrom may be used (not over TLS,
	// where every byte is encrypted in user space).
	CanSplice() bool
	// PauseRecv stops ClientData calls (backpressure). ResumeRecv asks
	// for them again: bytes the connection already holds are offered
	// first, never inside the ResumeRecv call itself.
	PauseRecv()
	ResumeRecv()
	// SetTimeout arms the client connection's timer (ClientTimeout).
	SetTimeout(d time.Duration)
	// SetResult records the status of the final response the stream
	// sends and the body bytes sent so far, for the access log and the
	// metrics; the last values recorded before Release, Abort or the
	// connection closing are the ones logged. Status 0 logs as 499.
	SetResult(status int, bodyBytes int64)
	// StreamLog returns where the stream records the backends it tries,
	// for the access log ($upstream_addr, ...), or nil when nothing
	// reads them. It is valid until Release or Abort.
	StreamLog() *StreamLog
	// Release gives the connection back: with keepAlive the server reads
	// the next request, else it closes the connection once output is
	// sent. Abort closes it at once. Both are applied after the current
	// call or event returns; no Stream call follows either, from the
	// moment they are called. A buffer whose Send is still in flight when
	// the stream calls Abort belongs to the connection from then on: it
	// goes back to the loop's pool once the send can no longer read it,
	// so the stream must not give it back itself.
	Release(keepAlive bool)
	Abort()
	// ShutdownWrite half-closes the client connection (tunnels), after
	// any output still in flight.
	ShutdownWrite()
	// PeerAddr appends the client's IP address in text form to b.
	PeerAddr(b []byte) []byte
	// Date returns the current Date header value.
	Date() []byte
	// HeadFilter returns the server's filter of the final response head
	// the stream sends (the modules' response hooks), or nil when the
	// exchange has none, as is the case without modules: the stream
	// then builds its head as it is.
	HeadFilter() HeadFilter
	// Affine returns the client connection's slot for an upstream
	// connection that serves this client connection alone (affine.go),
	// or nil when the client connection is closing: the stream then
	// closes such a connection itself. Valid until Release or Abort.
	Affine() *AffineSlot
}

// HeadFilter changes the head of a response a stream sends: the server's
// modules' response hooks, which a stream's exchange reaches only after
// Serve.
type HeadFilter interface {
	// FilterHead may change r.Status (not to or from a status without a
	// body) and r.Header, which holds the response's header lines but
	// for those the stream writes itself (the status line, Server, Date,
	// Content-Length, Transfer-Encoding, Connection), "Name: value\r\n"
	// each; r.Header may grow (append). Called once per exchange, for
	// the final head, before any byte of it goes out. An error means
	// the exchange must be answered 500 instead (the server logged why).
	FilterHead(r *Response) error
}

// Body sources of a Response.
type BodyKind uint8

// Kinds of response body.
const (
	BodyNone  BodyKind = iota // no body (HEAD, 204, 304, or empty)
	BodyBytes                 // Response.Body
	BodyFile                  // File from FileOff, FileLen bytes, by sendfile
)

// Cause is why a step refused a request, for the error log.
type Cause uint8

const (
	CauseNone          Cause = iota
	CauseForbiddenFile       // the file system refused to open a static file (EACCES, EPERM): 403
	CauseDirIndex            // a directory without an index file, autoindex off: 403
)

// Releaser is given back a resource (an open-file cache entry) once the
// response that used it is fully sent or abandoned.
type Releaser interface {
	Release()
}

// StatusNoResponse is nginx's 444: a step that answers it asks the
// server to send nothing and close the connection (HTTP/2: reset the
// stream); the access log records 444.
const StatusNoResponse = 444

// Response is what a routing step answers with. The server writes the
// status line, Date, Server, Content-Length and Connection itself; Header
// holds every other header line, "Name: value\r\n" each.
type Response struct {
	Status int
	// ContentLength is the length of the representation; -1 omits the
	// header (for 304 and 204). For HEAD, the server sends it without a
	// body.
	ContentLength int64
	Header        []byte
	Body          []byte
	Kind          BodyKind
	File          int
	FileOff       int64
	FileLen       int64
	Release       Releaser
	// Close asks the server to close the connection after this response.
	Close bool
	// NoServer leaves out the Server header (server_tokens = off).
	NoServer bool
	// SendTimeout and BodyTimeout are the send_timeout and body_timeout
	// of the route that answered (a [location]'s), for this response and
	// for the request body the server drops after it; 0 means the
	// [server]'s.
	SendTimeout, BodyTimeout time.Duration
}

// Reset prepares r for the next request; hdr becomes the (empty) header
// buffer the step appends to.
func (r *Response) Reset(hdr []byte) {
	*r = Response{ContentLength: -1, Header: hdr[:0], File: -1}
}

// AddHeader appends "name: value\r\n" to the response's extra headers.
func (r *Response) AddHeader(name string, value []byte) {
	r.Header = append(r.Header, name...)
	r.Header = append(r.Header, ": "...)
	r.Header = append(r.Header, value...)
	r.Header = append(r.Header, "\r\n"...)
}

// AddHeaderString is AddHeader for a string value.
func (r *Response) AddHeaderString(name, value string) {
	r.Header = append(r.Header, name...)
	r.Header = append(r.Header, ": "...)
	r.Header = append(r.Header, value...)
	r.Header = append(r.Header, "\r\n"...)
}

// SetBody makes b the body, of type ctype ("" sends no Content-Type).
func (r *Response) SetBody(status int, ctype string, b []byte) {
	r.Status = status
	if ctype != "" {
		r.AddHeaderString("Content-Type", ctype)
	}
	r.Body, r.Kind, r.ContentLength = b, BodyBytes, int64(len(b))
}

// Error answers with status and a short HTML body naming it, as nginx
// does.
func (r *Response) Error(status int) {
	r.SetBody(status, "text/html", ErrorBody(status))
}

// Handler is one step of the routing chain (rewrite, rate limit, metrics,
// healthz, proxy, static). Serve answers x by filling x.Resp and returns
// true, or returns false to pass x to the next step.
type Handler interface {
	Serve(x *Exchange) bool
}
