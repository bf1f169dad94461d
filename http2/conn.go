//go:build linux

package http2

import (
	"time"

	"github.com/nproxy/nproxy/http"
	"golang.org/x/net/http2/hpack"
)

// Handler receives a connection's stream events, on the loop thread, from
// inside Conn.Input (or Feed) and, for OnWritable only, Conn.Output.
//
// A Handler may call Conn.Respond, WriteData, WriteTrailers, Reset,
// Consume and Shutdown from inside these methods (they only queue
// output and update state) but never Input, Feed or Output. After
// OnReset, or once the Handler has ended a stream's response, no event
// follows for that stream.
type Handler interface {
	// OnRequest reports a new stream and its request head. h and
	// everything its spans point to are valid only during the call.
	// endStream reports that no body follows.
	OnRequest(id uint32, h *RequestHead, endStream bool)

	// OnData reports request body bytes; p is valid only during the
	// call. The stream's flow-control credit comes back only as the
	// Handler calls Conn.Consume: the Handler may hold at most the
	// stream window (Config.StreamWindow) of a stream, and the
	// connection window (Config.ConnWindow) of all, unconsumed.
	// endStream reports the end of the body (p may then be empty).
	OnData(id uint32, p []byte, endStream bool)

	// OnTrailers reports the request's trailer fields, in h.Req.Headers
	// (h.Req holds nothing else); they end the stream. h is valid only
	// during the call.
	OnTrailers(id uint32, h *RequestHead)

	// OnReset reports that the stream is gone: the client reset it
	// (code is the client's), a protocol error reset it, or the
	// connection failed or closed (code is the connection's).
	OnReset(id uint32, code ErrCode)

	// OnWritable reports that a stream whose WriteData took less than
	// it was offered may write again: its window or the output has
	// room.
	OnWritable(id uint32)
}

// RequestHead is a stream's request head, laid out as the server's
// HTTP/1.1 requests are so that the same routing chain serves both:
// Req's spans point into Buf (http.Exchange.Buf), Req.Major is 2,
// Req.URI and Req.Path/Query come from :path, Req.Host from :authority
// (or the host field when :authority is absent), Req.Headers holds the
// regular fields with lowercase names (cookie fields joined into one,
// RFC 9113 §8.2.3), and Req.ContentLength, Expect100, Range,
// IfNoneMatch, IfModifiedSince and HasUnderscoreHeader are filled as the
// HTTP/1.1 parser fills them. RequestHeads are pooled: one is lent to a
// connection for a header block and its Handler call, then reused by any
// connection.
type RequestHead struct {
	Req http.Request
	Buf []byte
	// Scheme is :scheme ("https" or "http", as the client sent it);
	// empty for CONNECT.
	Scheme http.Span
}

// connState is the state of a connection.
//
//	statePreface --24 preface bytes--> stateSettings --SETTINGS--> stateOpen
//	stateOpen --Shutdown's final GOAWAY or GOAWAY received--> stateDraining
//	any --connection error or Close--> stateClosed
//
// Between Shutdown's first GOAWAY and its final one the connection stays
// in stateOpen: streams the client opens are served. stateDraining
// accepts no new stream (ignoring, after decoding their header blocks,
// those the client opens anyway) and is Done once the last open stream
// closes. stateClosed accepts no input at all.
type connState uint8

const (
	statePreface connState = iota
	stateSettings
	stateOpen
	stateDraining
	stateClosed
)

// Conn is the server side of one HTTP/2 connection, without I/O: the
// caller feeds it the bytes it receives (Input or Feed), sends the bytes
// it produces (Output, Pending), and answers the streams it reports to
// the Handler. Every method runs on the loop thread that owns the
// connection. A Conn must not be copied.
type Conn struct {
	h     Handler
	lim   limits
	state connState
	err   error

	in     []byte // Feed's partial frame, kept until the rest arrives
	out    []byte // frames to send; out[outOff:] is pending
	outOff int
	// ob is the pooled holder out's storage came from and goes back to
	// once Output drains it (grab, release): an idle connection holds
	// no output buffer.
	ob *outBuf
	// control counts control frames queued since the output was last
	// drained (the SETTINGS/PING flood bound).
	control int

	streams     map[uint32]*stream
	localClosed int // streams in halfClosedLocal
	free        []*stream
	maxClientID uint32 // highest stream id the client opened
	goAwaySent  bool   // the final GOAWAY (or a connection error's)
	goAwayRecv  bool
	// shutdownDue is when a Shutdown waiting for its PING's ACK sends
	// the final GOAWAY anyway (Expire); zero when no Shutdown waits.
	shutdownDue time.Time
	// blocked lists streams owed an OnWritable, oldest first, so that
	// windows are shared in turn; entries whose stream is gone or no
	// longer blocked are skipped.
	blocked []uint32

	recentResets    [16]uint32
	recentResetNext uint32

	// Connection flow control: sendWindow is what the client lets us
	// send; recvWindow what it may still send; recvUnacked what the
	// Handler consumed and no WINDOW_UPDATE has returned yet.
	sendWindow  int64
	recvWindow  int64
	recvUnacked int64

	// The client's settings that matter to us.
	peerInitialWindow int32
	peerMaxFrame      int

	dec  *hpack.Decoder
	enc  *hpack.Encoder
	encw encBuf
	hb   headerBlock
	// head is the request head being decoded: taken from headPool when a
	// header block starts and given back once it is handled, so that an
	// idle connection carries neither its field table nor its text.
	head *RequestHead

	// fieldNames and fieldValues intern response field text the encoder
	// may keep in its dynamic table (see encodeField).
	fieldNames  map[string]string
	fieldValues map[string]string
	lineName    []byte

	// The abuse bucket (Config.ResetBurst).
	tokens     float64
	lastRefill time.Time
}

// NewConn returns a connection that serves h with the limits of cfg (nil
// means the defaults). Our SETTINGS and the connection window's
// WINDOW_UPDATE are queued at once, as the server's preface (RFC 9113
// §3.4 lets it go before the client's): send Output right away.
func NewConn(h Handler, cfg *Config) *Conn {
	c := &Conn{
		h:                 h,
		lim:               cfg.limits(),
		streams:           make(map[uint32]*stream),
		sendWindow:        defaultWindow,
		peerInitialWindow: defaultWindow,
		peerMaxFrame:      minMaxFrameSize,
		fieldNames:        make(map[string]string),
		fieldValues:       make(map[string]string),
	}
	c.recvWindow = int64(c.lim.connWindow)
	c.tokens = float64(c.lim.resetBurst)
	c.lastRefill = c.lim.now()
	c.dec = hpack.NewDecoder(4096, c.onField)
	c.dec.SetMaxStringLength(c.lim.maxListSize)
	c.enc = hpack.NewEncoder(&c.encw)

	c.grab()
	c.out = appendFrameHeader(c.out, 4*6, frameSettings, 0, 0)
	c.out = appendSetting(c.out, settingMaxConcurrentStreams, uint32(c.lim.maxStreams))
	c.out = appendSetting(c.out, settingInitialWindowSize, uint32(c.lim.streamWindow))
	c.out = appendSetting(c.out, settingMaxHeaderListSize, uint32(c.lim.maxListSize))
	c.out = appendSetting(c.out, settingEnablePush, 0)
	if c.lim.connWindow > defaultWindow {
		c.out = appendWindowUpdate(c.out, 0, uint32(c.lim.connWindow-defaultWindow))
	}
	return c
}

// Input processes the whole frames at the front of b (and, first, the
// client preface) and reports how many bytes it consumed; the caller
// keeps the rest (a partial frame) and passes it again, completed, on the
// next call. Handler events are delivered from inside Input, with slices
// of b. A non-nil error is a *ConnError, returned by this call and every
// later one: send Output (it holds a GOAWAY) and close. After the error,
// or once Done, all of b is consumed and dropped.
func (c *Conn) Input(b []byte) (int, error) {
	if c.state == stateClosed {
		return len(b), c.err
	}
	n := 0
	if c.state == statePreface {
		if len(b) < len(Preface) {
			if !isPrefacePrefix(b) {
				c.connError(ErrCodeProtocol, "bad connection preface")
				return len(b), c.err
			}
			return 0, nil
		}
		if string(b[:len(Preface)]) != Preface {
			c.connError(ErrCodeProtocol, "bad connection preface")
			return len(b), c.err
		}
		n = len(Preface)
		c.state = stateSettings
	}
	for c.state != stateClosed {
		rest := b[n:]
		if len(rest) < frameHeaderLen {
			break
		}
		fh := readFrameHeader(rest)
		if fh.length > minMaxFrameSize {
			c.connError(ErrCodeFrameSize, "frame larger than SETTINGS_MAX_FRAME_SIZE")
			break
		}
		end := frameHeaderLen + int(fh.length)
		if len(rest) < end {
			break
		}
		n += end
		c.processFrame(fh, rest[frameHeaderLen:end])
	}
	if c.state == stateClosed {
		return len(b), c.err
	}
	c.wakeBlocked()
	return n, nil
}

// Feed is Input for a caller that does not keep unconsumed bytes: a
// partial frame at the end of b is copied and completed by the next
// Feed.
func (c *Conn) Feed(b []byte) error {
	if len(c.in) == 0 {
		n, err := c.Input(b)
		if err == nil && n < len(b) {
			c.in = append(c.in, b[n:]...)
		}
		return err
	}
	c.in = append(c.in, b...)
	n, err := c.Input(c.in)
	if err != nil {
		c.in = c.in[:0]
		return err
	}
	c.in = c.in[:copy(c.in, c.in[n:])]
	return nil
}

// Output appends the bytes to send to dst and returns the extended
// slice; what it appends is no longer Pending. When dst has spare
// capacity, Output appends at most that much (a pooled send buffer is
// filled, never regrown) and keeps the rest for the next call; with none
// it appends everything. Before and after copying, streams waiting for
// room are given OnWritable, so one call gathers as much as the windows
// allow.
func (c *Conn) Output(dst []byte) []byte {
	for range 2 {
		c.wakeBlocked()
		p := c.out[c.outOff:]
		if room := cap(dst) - len(dst); room > 0 && room < len(p) {
			p = p[:room]
		}
		dst = append(dst, p...)
		c.outOff += len(p)
		if c.outOff == len(c.out) {
			c.release()
		} else if c.outOff > len(c.out)/2 {
			c.out = c.out[:copy(c.out, c.out[c.outOff:])]
			c.outOff = 0
		}
		if cap(dst) == len(dst) {
			break
		}
	}
	return dst
}

// Pending reports the bytes Output would append to a dst without spare
// capacity.
func (c *Conn) Pending() int { return len(c.out) - c.outOff }

// Shutdown starts a graceful close (a reload or stop draining the
// worker) in the two steps of RFC 9113 §6.8. First a GOAWAY with the
// largest stream id (2^31-1, NO_ERROR) tells the client to open no more
// streams, and a PING follows it; streams the client opens meanwhile
// (those already on the wire when the GOAWAY left) are served. Once the
// PING's ACK arrives, one round trip later, every such stream has
// arrived: the final GOAWAY names the last stream the client opened, and
// any stream opened after it is ignored (the client retries it on a new
// connection). A client that does not answer the PING gets the final
// GOAWAY at ShutdownDue (Config.ShutdownPingTimeout), through Expire.
// Done reports when the last stream has finished after the final GOAWAY.
// A client that sent GOAWAY itself opens no more streams: it gets the
// final GOAWAY at once.
func (c *Conn) Shutdown() {
	if c.goAwaySent || c.state == stateClosed || !c.shutdownDue.IsZero() {
		return
	}
	if c.goAwayRecv {
		c.finishShutdown()
		return
	}
	c.grab()
	c.out = appendGoAway(c.out, maxStreamID, ErrCodeNo)
	c.out = append(appendFrameHeader(c.out, 8, framePing, 0, 0), shutdownPing[:]...)
	c.shutdownDue = c.lim.now().Add(c.lim.shutdownPing)
}

// shutdownPing is the payload of Shutdown's PING; an ACK carrying
// anything else answers some other PING and is ignored.
var shutdownPing = [8]byte{'n', 'p', 'x', 'd', 'r', 'a', 'i', 'n'}

// maxStreamID is the largest stream id (RFC 9113 §5.1.1), the first
// GOAWAY's last-stream-id: no stream the client opens is refused by it.
const maxStreamID = 1<<31 - 1

// ShutdownDue reports when a Shutdown still waiting for its PING's ACK
// sends the final GOAWAY without it (the caller's timer calls Expire
// then); zero when no Shutdown waits.
func (c *Conn) ShutdownDue() time.Time { return c.shutdownDue }

// Expire sends the final GOAWAY of a Shutdown whose PING was not
// acknowledged by ShutdownDue (Config.Now decides); before then, or when
// no Shutdown waits, it does nothing.
func (c *Conn) Expire() {
	if !c.shutdownDue.IsZero() && !c.lim.now().Before(c.shutdownDue) {
		c.finishShutdown()
	}
}

// finishShutdown queues the final GOAWAY, naming the last stream the
// client opened, and stops accepting streams.
func (c *Conn) finishShutdown() {
	if c.goAwaySent || c.state == stateClosed {
		return
	}
	c.shutdownDue = time.Time{}
	c.goAwaySent = true
	c.grab()
	c.out = appendGoAway(c.out, c.maxClientID, ErrCodeNo)
	if c.state == stateOpen {
		c.state = stateDraining
	}
}

// Done reports that the connection has nothing left to do: it failed, or
// it is draining (Shutdown, or the client's GOAWAY) and no stream is left.
// The caller sends what is Pending and closes the socket.
func (c *Conn) Done() bool {
	return c.state == stateClosed || ((c.goAwaySent || c.goAwayRecv) && c.Streams() == 0)
}

// Err returns the connection error that closed the connection, or nil.
func (c *Conn) Err() error { return c.err }

// Streams reports how many streams the Handler is answering: open ones
// whose response has not ended (the server's drain waits on Done; this
// is for timers, metrics and tests).
func (c *Conn) Streams() int { return len(c.streams) - c.localClosed }

// MaxStreams returns the streams the client may have open at once (the
// SETTINGS_MAX_CONCURRENT_STREAMS the connection announced).
func (c *Conn) MaxStreams() int { return c.lim.maxStreams }

// Close ends the connection from the server's side (the socket failed or
// closed): every open stream is reported reset with CANCEL and the Conn's
// buffers are dropped. Nothing is queued; no method has an effect after.
func (c *Conn) Close() {
	if c.state != stateClosed {
		c.state = stateClosed
		c.err = errClosed
		c.resetAll(ErrCodeCancel)
	}
	c.in, c.out, c.outOff, c.blocked = nil, nil, 0, nil
}

// errClosed is Err after Close.
var errClosed = &ConnError{Code: ErrCodeCancel, Reason: "closed by the server"}

// connError fails the connection (RFC 9113 §5.4.1): a GOAWAY naming the
// last stream we processed, every stream reported reset, no more input.
func (c *Conn) connError(code ErrCode, reason string) {
	if c.state == stateClosed {
		return
	}
	c.grab()
	c.out = appendGoAway(c.out, c.maxClientID, code)
	c.state = stateClosed
	c.err = &ConnError{Code: code, Reason: reason}
	c.resetAll(code)
}

// resetAll reports every open stream reset with code and empties the
// table.
func (c *Conn) resetAll(code ErrCode) {
	for _, s := range c.streams {
		c.closeReported(s, code)
	}
}

// streamError resets stream id (RFC 9113 §5.4.2) and charges the
// connection for it. s is the stream if the table holds it: it is closed
// and, since the Handler knows it, reported with OnReset.
func (c *Conn) streamError(s *stream, id uint32, code ErrCode) {
	c.queueRST(id, code)
	if s != nil {
		c.closeReported(s, code)
	}
	c.charge("stream errors")
}

// queueRST queues a RST_STREAM and remembers the reset.
func (c *Conn) queueRST(id uint32, code ErrCode) {
	c.grab()
	c.out = appendRSTStream(c.out, id, code)
	c.rememberReset(id)
	c.countControl()
}

// countControl counts a control frame just queued and fails the
// connection when the client lets too many pile up unread.
func (c *Conn) countControl() {
	c.control++
	if c.control > c.lim.maxControl {
		c.connError(ErrCodeEnhanceYourCalm, "too many control frames queued (SETTINGS, PING or reset flood)")
	}
}

// charge takes one token from the abuse bucket (Config.ResetBurst) and
// fails the connection when it is empty; what says what was counted.
func (c *Conn) charge(what string) {
	now := c.lim.now()
	if d := now.Sub(c.lastRefill); d > 0 {
		c.tokens = min(c.tokens+d.Seconds()*float64(c.lim.resetRate), float64(c.lim.resetBurst))
		c.lastRefill = now
	}
	c.tokens--
	if c.tokens < 0 {
		c.connError(ErrCodeEnhanceYourCalm, "too many "+what)
	}
}
