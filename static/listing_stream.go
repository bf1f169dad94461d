//go:build linux

package static

import (
	"bytes"
	"strconv"
	"time"

	"github.com/nproxy/nproxy/http"
)

// serveListing answers directory dir (a path ending in '/', with no index
// file) with a listing of its entries (autoindex = on).
//
// Serve reads the directory for at most listLimits.syncOps. A directory
// read whole by then, with at most syncEntries entries, is answered at
// once like a file: 200 with Content-Length, or 304. A larger one is
// handed to a listStream, which hijacks the connection and sends the page
// as it reads the directory.
func (h *Handler) serveListing(x *http.Exchange, dir []byte) {
	l, status := h.openLister(dir, len(x.Prefix) == 0)
	if status != 0 {
		x.Resp.Error(status)
		return
	}
	// The page shows the path the client asked for: what a location's
	// alias cut from it goes back in front.
	shown := dir
	if len(x.Prefix) > 0 {
		shown = append(bytes.Clone(x.Prefix), dir...)
	}
	form := listFormOf(x)
	ops := h.list.syncOps
	done, err := l.scan(&ops)
	if err != nil {
		l.close()
		x.Resp.Error(500)
		return
	}
	if done && !l.evicted && l.count <= h.list.syncEntries {
		h.answerListing(x, l, form, shown)
		l.close()
		return
	}
	if x.Takeover == nil || h.streams >= h.list.maxStreams {
		l.close()
		x.Resp.Error(503)
		x.Resp.AddHeaderString("Retry-After", "1")
		return
	}
	req := x.Req
	s := &listStream{
		h: h, l: l, form: form,
		dir:       bytes.Clone(shown),
		head:      req.Method == http.MethodHead,
		http10:    req.Minor == 0,
		keepAlive: req.KeepAlive,
		inm:       bytes.Clone(req.IfNoneMatch.Bytes(x.Buf)),
		ims:       bytes.Clone(req.IfModifiedSince.Bytes(x.Buf)),
		passDone:  done,
		chunkAt:   -1,
	}
	h.streams++
	s.c = x.Takeover.Hijack(s)
	// The stream may not send from inside Serve (responses to earlier
	// pipelined requests may still be queued): it starts on the loop's
	// next timer tick.
	s.yield()
}

// listETag returns the listing's entity tag, quotes included: the hash
// and count of its entries and the form.
func listETag(l *lister, form listForm) []byte {
	b := make([]byte, 0, 40)
	b = append(b, '"')
	b = strconv.AppendUint(b, l.sum, 16)
	b = append(b, '-')
	b = strconv.AppendInt(b, int64(l.count), 16)
	if form == formJSON {
		b = append(b, "-json"...)
	}
	return append(b, '"')
}

// listNotModified reports whether the request's validators (the values of
// If-None-Match and If-Modified-Since) match the listing's: a 304.
func listNotModified(inm, ims, etag []byte, lastMod int64) bool {
	if len(inm) > 0 {
		return etagMatch(inm, etag)
	}
	if len(ims) > 0 {
		t, ok := parseHTTPDate(ims)
		return ok && t >= lastMod
	}
	return false
}

// answerListing answers x with the whole listing l read in one pass; dir
// is the directory's path as the page shows it.
func (h *Handler) answerListing(x *http.Exchange, l *lister, form listForm, dir []byte) {
	r := &x.Resp
	etag, lastMod := listETag(l, form), l.latest/int64(time.Second)
	req := x.Req
	if listNotModified(req.IfNoneMatch.Bytes(x.Buf), req.IfModifiedSince.Bytes(x.Buf), etag, lastMod) {
		r.Status, r.ContentLength, r.Kind = 304, -1, http.BodyNone
		r.Header = appendListHeaders(r.Header, form, etag, lastMod, false)
		return
	}
	entries, _ := l.batch()
	body := make([]byte, 0, 1024+len(entries)*160)
	body = appendPageStart(body, form, dir)
	for i := range entries {
		body = appendEntry(body, form, &entries[i], i == 0)
	}
	body = appendPageEnd(body, form)
	r.Header = appendListHeaders(r.Header, form, etag, lastMod, true)
	r.Status, r.Body, r.Kind, r.ContentLength = 200, body, http.BodyBytes, int64(len(body))
}

// listStream sends a listing too large for Serve on the connection it
// hijacked (http.Stream): the head once the first pass has given the
// validators, then the page batch by batch, in chunks of listLimits.chunk
// (Transfer-Encoding: chunked; close-delimited for HTTP/1.0). Each loop
// turn does at most listLimits.stepOps of work: it waits for its send to
// complete (ClientSent) or, when the send completed at once, for the
// loop's next timer tick (ClientTimeout), so one huge directory cannot
// hold up the loop's other connections.
//
// Its methods run on the loop thread. States: scanning a pass, rendering
// a batch, ended (the last bytes in flight), closed (no call of the
// Client follows).
type listStream struct {
	h    *Handler
	l    *lister
	c    http.Client
	form listForm
	dir  []byte // the directory's path as the client asked for it

	head, http10, keepAlive bool   // from the request
	inm, ims                []byte // its If-None-Match and If-Modified-Since

	state    listState
	passDone bool        // the pass in progress reached the directory's end
	started  bool        // the head is produced
	batch    []listEntry // the batch being rendered
	pos      int         // next entry of batch
	more     bool        // another pass follows batch
	rendered int         // entries on the page so far

	out     []byte // the bytes being produced or sent
	headLen int    // the head at the start of out, until it is sent
	chunkAt int    // offset in out of the open chunk's size field; -1 when none
	status  int    // for the access log
	body    int64  // payload bytes produced

	waiting   bool // a send is in flight: ClientSent follows
	yielding  bool // the timer is armed to go on at the next tick
	clientEOF bool // the client half-closed: close after the page
}

type listState uint8

const (
	lsScan   listState = iota // a pass over the directory
	lsRender                  // rendering batch into out
	lsEnded                   // the response is produced; its last send is in flight
	lsClosed                  // released or aborted
)

var _ http.Stream = (*listStream)(nil)

// chunkField is the room left for a chunk's size: eight hex digits (a
// chunk is at most listLimits.chunk plus one entry) and CRLF. Leading
// zeros are allowed in a chunk size (RFC 9112 §7.1).
const chunkField = 10

// yieldDelay arms the timer for the next tick: the smallest positive
// timeout, which the timing wheel rounds up to its tick.
const yieldDelay = time.Nanosecond

// yield goes on at the loop's next timer tick.
func (s *listStream) yield() {
	s.yielding = true
	s.c.SetTimeout(yieldDelay)
}

// advance produces and sends the response for one loop turn.
func (s *listStream) advance() {
	ops := s.h.list.stepOps
	for s.state != lsClosed {
		if s.state != lsEnded {
			if err := s.produce(&ops); err != nil {
				s.abort()
				return
			}
		}
		if s.pending() == 0 && s.state != lsEnded {
			s.yield() // the budget ran out before anything was ready
			return
		}
		if !s.send() {
			return // ClientSent, or the stream was aborted
		}
		if s.state == lsEnded {
			s.finish()
			return
		}
		if ops <= 0 {
			s.yield()
			return
		}
	}
}

// pending is the payload (body bytes) waiting in out.
func (s *listStream) pending() int {
	if s.chunkAt >= 0 {
		return len(s.out) - s.chunkAt - chunkField
	}
	return len(s.out) - s.headLen
}

// chunked reports whether the body is sent in chunks (HTTP/1.1).
func (s *listStream) chunked() bool { return !s.http10 }

// openChunk starts a chunk in out.
func (s *listStream) openChunk() {
	s.chunkAt = -1
	if s.chunked() {
		s.chunkAt = len(s.out)
		s.out = append(s.out, "00000000\r\n"...)
	}
}

// produce fills out until it holds a chunk, the response ends, or ops
// run out.
func (s *listStream) produce(ops *int) error {
	for *ops > 0 && len(s.out) < s.h.list.chunk {
		switch s.state {
		case lsScan:
			if !s.passDone {
				done, err := s.l.scan(ops)
				if err != nil {
					return err
				}
				if !done {
					return nil
				}
				s.passDone = true
			}
			s.batch, s.more = s.l.batch()
			s.pos = 0
			s.state = lsRender
			if !s.started {
				s.started = true
				if s.startResponse() {
					return nil
				}
			}
		case lsRender:
			if s.pos == len(s.batch) {
				if s.more {
					if err := s.l.nextPass(); err != nil {
						return err
					}
					s.state, s.passDone, s.batch = lsScan, false, nil
					continue
				}
				s.out = appendPageEnd(s.out, s.form)
				s.state = lsEnded
				return nil
			}
			e := &s.batch[s.pos]
			s.pos++
			*ops--
			if !e.known {
				*ops -= resolveOps
				if !s.l.resolve(e) {
					continue
				}
			}
			s.out = appendEntry(s.out, s.form, e, s.rendered == 0)
			s.rendered++
		default:
			return nil
		}
	}
	return nil
}

// startResponse produces the head once the first pass is done, and
// reports whether that is the whole response (304, HEAD).
func (s *listStream) startResponse() (whole bool) {
	etag, lastMod := listETag(s.l, s.form), s.l.latest/int64(time.Second)
	var r http.Response
	r.Reset(make([]byte, 0, 512))
	closeConn := s.http10 || !s.keepAlive
	if listNotModified(s.inm, s.ims, etag, lastMod) {
		r.Status = 304
		r.Header = appendListHeaders(r.Header, s.form, etag, lastMod, false)
		if !s.filterHead(&r, closeConn) {
			return true
		}
		s.out = http.AppendHead(s.out, &r, s.c.Date(), closeConn, false)
		s.headLen = len(s.out)
		s.status, s.state = 304, lsEnded
		return true
	}
	r.Status = 200
	r.Header = appendListHeaders(r.Header, s.form, etag, lastMod, true)
	if s.chunked() {
		r.Header = append(r.Header, "Transfer-Encoding: chunked\r\n"...)
	}
	if !s.filterHead(&r, closeConn) {
		return true
	}
	s.out = http.AppendHead(s.out, &r, s.c.Date(), closeConn, false)
	s.headLen = len(s.out)
	s.status = 200
	if s.head {
		s.state = lsEnded
		return true
	}
	s.openChunk()
	s.out = appendPageStart(s.out, s.form, s.dir)
	return false
}

// filterHead gives r to the server's head filter (the modules' response
// hooks), when the exchange has one. When it fails, out holds a whole
// 500 answer instead and the listing has ended: it reports false.
func (s *listStream) filterHead(r *http.Response, closeConn bool) bool {
	f := s.c.HeadFilter()
	if f == nil || f.FilterHead(r) == nil {
		return true
	}
	r.Reset(r.Header)
	r.Error(500)
	s.out = http.AppendHead(s.out, r, s.c.Date(), closeConn, false)
	s.headLen = len(s.out)
	if !s.head {
		s.out = append(s.out, r.Body...)
	}
	s.status, s.state = 500, lsEnded
	return false
}

// send closes the open chunk (and the body, once it has ended) and sends
// out. It reports whether the send completed at once; otherwise
// ClientSent follows, or the stream was aborted.
func (s *listStream) send() bool {
	s.body += int64(s.pending())
	if s.chunkAt >= 0 {
		n := s.pending()
		if n == 0 {
			s.out = s.out[:s.chunkAt]
		} else {
			field := s.out[s.chunkAt : s.chunkAt+8]
			for i := 7; i >= 0; i-- {
				field[i] = "0123456789abcdef"[n&15]
				n >>= 4
			}
			s.out = append(s.out, "\r\n"...)
		}
		s.chunkAt = -1
	}
	if s.state == lsEnded && s.chunked() && s.status == 200 && !s.head {
		s.out = append(s.out, "0\r\n\r\n"...)
	}
	done, err := s.c.Send(s.out)
	if err != nil {
		s.abort()
		return false
	}
	if !done {
		s.waiting = true
		s.c.SetTimeout(s.h.sendTimeout)
		return false
	}
	s.sent()
	return true
}

// sent makes out ready for the next chunk.
func (s *listStream) sent() {
	s.out, s.headLen = s.out[:0], 0
	if s.state != lsEnded && s.started {
		s.openChunk()
	}
}

// finish ends a response sent whole: the connection goes back to the
// server, kept alive unless the request or the response framing says
// otherwise.
func (s *listStream) finish() {
	s.c.SetResult(s.status, s.body)
	s.c.Release(s.keepAlive && !s.http10 && !s.clientEOF)
	s.close()
}

// abort ends a response that cannot be completed: the connection is
// closed, so the client sees a truncated body, not a complete one.
func (s *listStream) abort() {
	if s.state == lsClosed {
		return
	}
	s.c.SetResult(s.status, s.body)
	s.c.Abort()
	s.close()
}

// close gives back the directory and the stream's place among the
// Handler's streams.
func (s *listStream) close() {
	if s.state == lsClosed {
		return
	}
	s.state = lsClosed
	s.l.close()
	s.h.streams--
	s.out, s.batch = nil, nil
}

// ClientData keeps the client's next request for after the listing.
func (s *listStream) ClientData(b []byte) int { return 0 }

// ClientClosed ends the stream when the connection is gone; after the
// client's half-close (err nil) the page is still sent.
func (s *listStream) ClientClosed(err error) {
	if err != nil {
		s.close()
		return
	}
	s.clientEOF = true
}

// ClientSent goes on once a send that had to wait is done.
func (s *listStream) ClientSent(err error) {
	s.waiting = false
	if s.state == lsClosed {
		return
	}
	if err != nil {
		s.abort()
		return
	}
	s.sent()
	if s.state == lsEnded {
		s.finish()
		return
	}
	s.advance()
}

// ClientTimeout goes on after a yield, or gives up on a client that did
// not take a chunk within send_timeout.
func (s *listStream) ClientTimeout() {
	if s.state == lsClosed {
		return
	}
	if s.yielding {
		s.yielding = false
		s.advance()
		return
	}
	s.abort()
}
