//go:build linux

package proxy

import (
	"bytes"
	"time"

	"github.com/nproxy/nproxy/config"
	"github.com/nproxy/nproxy/http"
	"github.com/nproxy/nproxy/logging"
	"github.com/nproxy/nproxy/reactor"
)

// maxTries bounds the backends one request is tried on.
const maxTries = 3

// Handler is the reverse-proxy step of one route (a [server] block or a
// [location]) in one worker: the route's settings (prefix, timeouts,
// headers) in front of an upstream Group, which it may share with other
// routes. It runs on the loop thread only.
type Handler struct {
	cfg    *config.Server
	g      *Group
	loop   *reactor.Loop
	log    *logging.Logger
	prefix []byte

	free []*session

	// respHeaders are cfg's add_header lines (headers.go).
	respHeaders http.ExtraHeaders

	// gzip is gzip = on for proxied responses (gzip.go); nil when off.
	gzip *gzipConfig
}

var _ http.Handler = (*Handler)(nil)

// New builds the proxy step for cfg's proxy_pass on loop, with a group
// of its own.
func New(cfg *config.Server, loop *reactor.Loop, log *logging.Logger) (*Handler, error) {
	g, err := NewGroup(cfg, loop, log)
	if err != nil {
		return nil, err
	}
	return NewRoute(cfg, g), nil
}

// NewRoute builds the proxy step of a route with cfg's settings in front
// of g, which other routes may share.
func NewRoute(cfg *config.Server, g *Group) *Handler {
	h := &Handler{cfg: cfg, g: g, loop: g.loop, log: g.log, prefix: []byte(cfg.ProxyPrefix)}
	if len(h.prefix) == 0 {
		h.prefix = []byte("/")
	}
	h.initHeaders()
	return h
}

// Group returns the upstream group h proxies to.
func (h *Handler) Group() *Group { return h.g }

// SendsProxyProtocol reports whether h's backends are sent a PROXY
// protocol header: the server must then fill in http.Exchange's
// ClientAddr and LocalAddr before Serve.
func (h *Handler) SendsProxyProtocol() bool { return h.g.sendProxy != 0 }

// Serve takes the requests under proxy_prefix: it hijacks the client
// connection and streams the exchange through a session.
func (h *Handler) Serve(x *http.Exchange) bool {
	if !bytes.HasPrefix(x.Path, h.prefix) || x.Takeover == nil {
		return false
	}
	if !h.g.anyUp(h.loop.NowNano()) {
		// Every backend is down: answer at once rather than hang, and
		// let the next request try them again (nginx's quick recovery).
		if h.log.Enabled(logging.Error) {
			h.log.Errorf("proxy: no live backends for %q (the next request tries them again)", x.Path)
		}
		h.g.recoverAll()
		x.Resp.Error(502)
		return true
	}
	h.getSession().start(x)
	return true
}

func (h *Handler) getSession() *session {
	if n := len(h.free); n > 0 {
		s := h.free[n-1]
		h.free = h.free[:n-1]
		return s
	}
	return &session{h: h}
}

func (h *Handler) putSession(s *session) {
	*s = session{h: h, reqChunk: s.reqChunk, respChunk: s.respChunk,
		addVars: s.addVars, varText: s.varText[:0], errHdr: s.errHdr[:0]}
	h.free = append(h.free, s)
}

// Tick runs the group's active health probes that are due.
func (h *Handler) Tick(now time.Time) { h.g.Tick(now) }

// Close closes the pooled connections of h's group (of every route that
// shares it).
func (h *Handler) Close() { h.g.Close() }
