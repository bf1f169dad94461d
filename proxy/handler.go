//go:build linux

package proxy

import (
	"bytes"
	"fmt"
	"time"

	"github.com/nproxy/nproxy/config"
	"github.com/nproxy/nproxy/http"
	"github.com/nproxy/nproxy/logging"
	"github.com/nproxy/nproxy/reactor"
)

// maxTries bounds the backends one request is tried on.
const maxTries = 3

// Handler is the reverse-proxy step of one [server] block in one worker:
// its backends, balancer, keep-alive pools and health probes. It runs on
// the loop thread only.
type Handler struct {
	cfg      *config.Server
	loop     *reactor.Loop
	log      *logging.Logger
	prefix   []byte
	backends []*backend
	bal      Balancer

	free      []*session
	closed    bool
	nextProbe int64

	// tlsPlain is the scratch buffer records from https:// backends are
	// decrypted into (one record at a time), nil for plain ones.
	tlsPlain []byte

	// respHeaders are cfg's add_header lines (headers.go).
	respHeaders http.ExtraHeaders
}

var _ http.Handler = (*Handler)(nil)

// New builds the proxy step for cfg's proxy_pass on loop.
func New(cfg *config.Server, loop *reactor.Loop, log *logging.Logger) (*Handler, error) {
	h := &Handler{cfg: cfg, loop: loop, log: log, prefix: []byte(cfg.ProxyPrefix)}
	if len(h.prefix) == 0 {
		h.prefix = []byte("/")
	}
	if len(cfg.ProxyPass) > 64 {
		return nil, fmt.Errorf("proxy: %d backends, at most 64", len(cfg.ProxyPass))
	}
	for i, up := range cfg.ProxyPass {
		sa, err := resolve(up.Addr)
		if err != nil {
			return nil, fmt.Errorf("proxy: proxy_pass %s: %w", up.Addr, err)
		}
		w := up.Weight
		if w <= 0 {
			w = 1
		}
		h.backends = append(h.backends, &backend{index: i, addr: up.Addr, sa: sa, weight: w})
	}
	// As in nginx, a lone backend is never marked down by failures:
	// refusing every request for fail_timeout would only add an outage.
	h.backends[0].single = len(h.backends) == 1
	if cfg.ProxyTLS {
		if err := h.newClientContexts(); err != nil {
			return nil, err
		}
	}
	h.initHeaders()
	if cfg.Balance == "least_conn" {
		h.bal = &leastConn{}
	} else {
		h.bal = roundRobin{}
	}
	return h, nil
}

// Serve takes the requests under proxy_prefix: it hijacks the client
// connection and streams the exchange through a session.
func (h *Handler) Serve(x *http.Exchange) bool {
	if !bytes.HasPrefix(x.Path, h.prefix) || x.Takeover == nil {
		return false
	}
	if !h.anyUp(h.loop.NowNano()) {
		// Every backend is down: answer at once rather than hang.
		x.Resp.Error(502)
		return true
	}
	h.getSession().start(x)
	return true
}

// anyUp reports whether some backend may take a request. It does not ask
// the balancer, whose pick moves its state (smooth round-robin would
// otherwise advance twice per request).
func (h *Handler) anyUp(now int64) bool {
	for _, b := range h.backends {
		if b.up(now) {
			return true
		}
	}
	return false
}

// pick asks the balancer, ignoring backends already tried.
func (h *Handler) pick(tried uint64, now int64) *backend {
	return h.bal.Pick(h.backends, tried, now)
}

// getConn returns an idle pooled connection to b, or dials a new one.
func (h *Handler) getConn(b *backend, s *session) (*upConn, bool, error) {
	for n := len(b.idle); n > 0; n = len(b.idle) {
		u := b.idle[n-1]
		b.idle = b.idle[:n-1]
		if u.rc == nil || !u.rc.Open() {
			continue
		}
		if !s.idempotent && peerClosed(u.rc.Fd()) {
			// A request that must not be sent twice cannot be retried
			// if the backend turns out to have closed this connection:
			// check for its FIN first (one recv, only for such
			// requests), as the race is then ours to lose.
			u.close()
			continue
		}
		u.s = s
		u.rc.ClearTimeout()
		return u, true, nil
	}
	u := newUpConn(h, b)
	u.s = s
	rc, err := h.loop.Dial(b.sa, u)
	if err != nil {
		return nil, false, err
	}
	u.rc = rc
	rc.SetTimeout(h.cfg.ProxyConnectTimeout)
	return u, false, nil
}

// putIdle returns a connection that finished a response cleanly to its
// backend's pool.
func (h *Handler) putIdle(u *upConn) {
	u.s = nil
	u.reused = true
	b := u.b
	if len(b.idle) >= maxIdlePerBackend || u.rc == nil || !u.rc.Open() || h.closed {
		u.close()
		return
	}
	b.idle = append(b.idle, u)
	u.rc.SetTimeout(upstreamIdleTimeout)
	u.startRecv() // notice the backend closing it
}

// dropIdle closes an idle pooled connection and removes it from its pool.
func (h *Handler) dropIdle(u *upConn) {
	b := u.b
	for i, x := range b.idle {
		if x == u {
			copy(b.idle[i:], b.idle[i+1:])
			b.idle[len(b.idle)-1] = nil
			b.idle = b.idle[:len(b.idle)-1]
			break
		}
	}
	u.close()
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
	*s = session{h: h, reqChunk: s.reqChunk, respChunk: s.respChunk}
	h.free = append(h.free, s)
}

// Tick runs the active health probes that are due; the server calls it
// from the loop about once a second and more often when probes are near.
func (h *Handler) Tick(now time.Time) {
	if h.cfg.HealthCheck == "" {
		return
	}
	n := now.UnixNano()
	if n < h.nextProbe {
		return
	}
	every := h.cfg.HealthEvery
	if every <= 0 {
		every = 5 * time.Second
	}
	h.nextProbe = n + int64(every)
	for _, b := range h.backends {
		startProbe(h, b, every)
	}
}

// Close closes every pooled connection; connections that finish their
// request afterwards are closed instead of pooled (a draining worker must
// not wait on idle upstream connections).
func (h *Handler) Close() {
	h.closed = true
	for _, b := range h.backends {
		for _, u := range b.idle {
			u.close()
		}
		b.idle = nil
	}
}
