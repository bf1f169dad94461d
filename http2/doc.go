// Package http2 is the server side of HTTP/2 (RFC 9113) as a protocol
// state machine without I/O: one Conn per client connection, driven from
// the worker's loop thread like the rest of nproxy, with no goroutine per
// connection or stream.
//
// # Shape
//
// A Conn never touches a socket, as tls.Conn does not. The caller hands
// it what the socket received (Input, which consumes whole frames and
// leaves a partial one in the caller's buffer, or Feed, which keeps it),
// and sends what it produced (Output, Pending). The Conn reports streams
// to a Handler and the Handler answers them through the Conn:
//
//	Input/Feed --> OnRequest(id, head, end) --> Respond(id, status, lines, end)
//	           --> OnData(id, p, end)        --> WriteData(id, p, end) (n taken)
//	           --> OnTrailers(id, head)      --> WriteTrailers(id, lines)
//	           --> OnReset(id, code)         --> Reset(id, code)
//	Output     --> OnWritable(id)            --> Consume(id, n) (body credit)
//
// Control runs one way, as on the server's stream seam: Handler methods
// run only inside Input, Feed and (OnWritable) Output; inside them the
// Handler may answer and consume, which only queue output and update
// state, but never feed or drain the Conn. After OnReset, or once the
// Handler ended a response, nothing more is said about that stream.
//
// # Requests are http.Requests
//
// A stream's request head is delivered as a RequestHead: an http.Request
// whose spans point into a buffer the Conn reuses, filled the way the
// HTTP/1.1 parser fills it (method, :path as URI, Path and Query,
// :authority as Host, content-length, Range, conditional fields, Expect,
// the fields themselves with lowercase names, cookies joined). So the
// server serves a stream through the same http.Exchange and routing
// chain as an HTTP/1.1 request, with Major 2; it copies what it keeps,
// since the head is valid only during OnRequest, as http.Exchange.Buf is
// only during Serve. A response head goes the other way in the form the
// server already builds for HTTP/1.1 ("Name: value\r\n" lines, minus the
// status line), which Respond lowercases and strips of connection-
// specific fields.
//
// # Flow control and backpressure
//
// DATA is framed straight into the output, as far as the stream's and
// the connection's send windows and Config.MaxOutput allow; WriteData
// reports how much it took, and a stream that got less hears OnWritable
// when a WINDOW_UPDATE, a SETTINGS change or a drained output makes room
// (oldest first). The body waits in the Handler (a proxy's upstream
// buffer, a file offset), never in a per-stream queue. Request body
// credit comes back only as the Handler calls Consume, so a slow
// upstream slows the client down instead of filling memory; the
// connection window is raised to Config.ConnWindow right after our
// SETTINGS so that one stream's upload or several at once run at line
// rate.
//
// # Errors and defenses
//
// Every rule RFC 9113 §4-§8 gives a receiver is checked where the frame
// is handled, answered with the connection error (GOAWAY, Input returns
// a *ConnError) or stream error (RST_STREAM) it names. Header blocks are
// always decoded, even for streams that are refused or ignored, because
// HPACK's table is shared by the connection. The attacks HTTP/2 servers
// met since 2019 are bounded: rapid reset (CVE-2023-44487) and its
// cousins by a token bucket charged for every stream the client resets
// early, every refused or erroring stream, every empty DATA or
// CONTINUATION frame; CONTINUATION floods (CVE-2024-27316) by the
// compressed size and frame count of a header block; HPACK bombs by the
// decoded header list size (answered 431, as HTTP/1.1 is); SETTINGS and
// PING floods by the number of control frames queued while the client
// does not read. A zero-window stall is a send timeout's job, in the
// server, which owns the clock.
//
// # HPACK
//
// Header compression is golang.org/x/net/http2/hpack, one decoder and
// one encoder per connection. Decoding a fully indexed request (a
// browser's repeated requests) allocates nothing; a field sent as a new
// literal costs x/net one string. Encoding keeps what the encoder may
// index as strings that live as long as its table (constant common
// names, per-connection interned values) and sends values unique to a
// response (content-length, etag, ...) never-indexed, straight from the
// caller's bytes. A warm connection's request and response allocate
// nothing (TestSteadyStateAllocs).
//
// # Idle connections
//
// An idle connection holds its protocol state (settings, windows, the
// HPACK tables) and no buffer: the request head a header block is decoded
// into (with its 64-entry field table) and the output buffer frames are
// queued in are lent from process-wide pools while a block is decoded or
// output waits, and given back once handled or drained.
//
// # How the server plugs it in
//
//   - TLS: a listener with http2 on offers ALPN "h2,http/1.1"
//     (tls.Site.NextProtos, ALPN here); after the handshake, a connection
//     whose tls.Conn.State().NegotiatedProtocol is "h2" gets a Conn
//     instead of the HTTP/1.1 parser, and the plaintext tlsInput yields
//     goes to Input.
//   - Plain listeners: h2c with prior knowledge. The first bytes are
//     checked with LooksLikePreface before the HTTP/1.1 parser sees them
//     (which refuses PRI anyway); a match switches the connection to a
//     Conn, handing it every byte, preface included. Upgrade: h2c is
//     not offered.
//   - Each OnRequest fills an http.Exchange from the RequestHead and runs
//     the routing chain; the step's http.Response maps onto Respond and
//     WriteData (a file is read into WriteData as windows allow, since
//     sendfile cannot frame DATA), a streaming step (the proxy) gets a
//     per-stream seam whose ClientData is OnData and whose Release ends
//     the stream. Proxying stays HTTP/1.1 upstream.
//   - Output goes through the transport (send in the clear, encrypted
//     over TLS) in pooled buffers: Output fills at most a buffer's spare
//     capacity and keeps the rest. Done tells the server to close once
//     Pending is sent.
//   - A reload or stop (server.Drain) calls Shutdown, which closes in the
//     two steps of RFC 9113 §6.8: GOAWAY with the largest stream id and a
//     PING; streams the client opens until the PING's ACK (requests that
//     were on the wire) are served; then the final GOAWAY names the last
//     of them. A client that does not answer gets the final GOAWAY at
//     ShutdownDue (Config.ShutdownPingTimeout, 1 s): the server's timer
//     calls Expire. Open streams finish and Done follows, so the drain
//     stays lossless.
package http2
