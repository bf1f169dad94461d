//go:build linux

package server

import (
	"compress/gzip"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nproxy/nproxy/accesslog"
	"github.com/nproxy/nproxy/config"
	"github.com/nproxy/nproxy/htpasswd"
	"github.com/nproxy/nproxy/http"
	"github.com/nproxy/nproxy/logging"
	"github.com/nproxy/nproxy/metrics"
	"github.com/nproxy/nproxy/proxy"
	"github.com/nproxy/nproxy/reactor"
	"github.com/nproxy/nproxy/rewrite"
	nptls "github.com/nproxy/nproxy/tls"
	"github.com/nproxy/nproxy/vars"
)

// Server is the HTTP service of one worker: the connection state machine
// and the routing chain of every [server] block, run on one reactor loop.
// All of it runs on the loop's thread.
type Server struct {
	cfg    *config.Config
	loop   *reactor.Loop
	log    *logging.Logger
	groups map[string]*addrGroup // by listen address

	date    http.DateCache
	x       http.Exchange // reused for every request of the loop
	hdr     []byte        // the steps' header scratch
	pathBuf []byte
	body    []byte     // scratch for small generated bodies
	h2pFree []*h2proxy // recycled HTTP/2 stream clients (h2proxy.go)
	// affineFree are the client connections' affine slots given back
	// (affine.go).
	affineFree []*http.AffineSlot

	// The variables of the request being routed (return.go), and the
	// scratch their text is built in.
	vals                         vars.Values
	addrText, portText, hostText []byte
	// capSubject and capMatch are the captures of the request's regex
	// location (capture.go): the path it matched and its groups'
	// indexes; nil for a route that names none.
	capSubject []byte
	capMatch   []int

	// upstreams are the worker's runtime [upstream NAME] groups, shared
	// by every route that names one (router.go, upstreamGroup).
	upstreams map[string]*proxy.Group
	// compressors are the gzip compressors of proxied responses, shared
	// by the routes with gzip = on.
	compressors *proxy.Compressors

	// userFiles are the auth_basic_user_file files by path (access.go),
	// read once and shared by the routes that name them.
	userFiles map[string]*htpasswd.File

	// Compression (gzip.go): the worker's one compressor, its sink, the
	// free list of body releasers, and scratch for a file's bytes and a
	// precompressed variant's path.
	gz        *gzip.Writer
	gzLevel   int
	gzSink    gzSink
	gzFree    []*gzBuf
	gzIn      []byte
	gzPath    []byte
	parseFree []*parsing
	pendFree  []*pending
	connFree  []*conn
	tkFree    []*takeover
	auxFree   []*connAux

	// Conns whose streams asked for something from outside a conn
	// method, settled by RunDeferred (takeover.go).
	ready, readyRun []connRef
	readyQueued     bool
	started         time.Time
	served          uint64
	// headLen is the size of the response head that queue just made, for
	// the access log's $bytes_sent of the exchange recorded next.
	headLen int

	// Metrics (metrics.go): counters is nil unless a [server] block has
	// metrics = on; table is the worker table /metrics sums (UseMetrics).
	// route and handler are what the router chose for the request being
	// served (its series, and local or proxy), read when it is recorded.
	table      *metrics.Table
	counters   *metrics.Counters
	route      *route
	handler    int
	nextSample int64
	connsShown [metrics.NumConnStates]int64
	// Access logs by path, shared by the blocks that name the same file
	// (or syslog: destination).
	logs  map[string]*accesslog.Log
	entry accesslog.Entry // scratch for one line
	// logDropped is how many lines of the access logs and the error log
	// syslog servers did not take, as counted in metrics so far, at
	// logCheck (unix ns), about once a second.
	logDropped uint64
	logCheck   int64
	// $request_id (accesslog.go): the exchange's, once made, and the
	// worker's generator.
	reqID      [32]byte
	reqIDSet   bool
	idGen      *rand.ChaCha8
	obsFree    []*streamObs
	obsvFree   []*observed
	stopReopen func()      // stops the SIGUSR1 watch of the access logs
	mods       moduleState // the modules' response and log phases (modulelog.go)

	// Drain (drain.go): the listening sockets, to take what is queued on
	// them when the worker stops accepting.
	listeners []listener
	draining  bool
	onIdle    func() // called when draining and the last connection closed

	// TLS: plaintext scratch of the record layer, the free list of
	// per-connection TLS states, the shared ticket keys.
	tlsPlain    []byte
	tlsFree     []*tlsConn
	ticketKeys  [][32]byte
	yield       *handshakeYield
	yieldQueued bool
}

// addrGroup is the [server] blocks that share one listen address; the
// first is the default for Host values no block names.
type addrGroup struct {
	addr   string
	vhosts []*vhost
	tls    *nptls.Context // nil for a plain address
	ktls   bool           // hand TLS connections to the kernel after the handshake
	// proxyProto: connections start with a PROXY protocol header
	// (listen = ADDR proxy_protocol; every block on the address agrees).
	proxyProto bool
}

// vhost is one [server] block with its routing chain.
type vhost struct {
	cfg    *config.Server
	chain  []http.Handler
	static statics        // every distinct static handler of the block's routes
	proxy  proxies        // every distinct upstream group of the block's routes
	alog   *accesslog.Log // nil when access_log is off
	// alogFmt is access_log's format (accesslog.Combined by default).
	alogFmt *accesslog.Format
	rt      *router // the block's routes
}

// New builds the server for cfg on loop. Listening sockets are added with
// Serve.
func New(cfg *config.Config, loop *reactor.Loop, log *logging.Logger) (*Server, error) {
	s := &Server{
		cfg:     cfg,
		loop:    loop,
		log:     log,
		groups:  make(map[string]*addrGroup),
		hdr:     make([]byte, 0, 1024),
		pathBuf: make([]byte, 0, http.MaxURILen),
		started: time.Now(),
		logs:    make(map[string]*accesslog.Log),
	}
	for _, sc := range cfg.Servers {
		if sc.Metrics && s.table == nil {
			// A private table until a master hands over the shared one.
			s.table = metrics.New()
			s.counters = s.table.Attach(0)
		}
	}
	// A closed connection leaves the loop's count only when its backend
	// is done with it (io_uring: after the last completion), so a drain
	// also re-checks after every poll.
	loop.AddTicker(func(int64) {
		if s.draining {
			s.checkIdle()
		}
	})
	for _, sc := range cfg.Servers {
		vh, err := s.newVhost(sc)
		if err != nil {
			s.Close()
			return nil, err
		}
		for _, addr := range sc.Listen {
			g := s.groups[addr]
			if g == nil {
				g = &addrGroup{addr: addr, proxyProto: slices.Contains(sc.ProxyProtocol, addr)}
				s.groups[addr] = g
			}
			if slices.Contains(sc.DefaultServer, addr) {
				// listen ... default_server: the block for a Host or SNI
				// no block names is the first of its address (pickVhost,
				// the TLS context's default certificate).
				g.vhosts = slices.Insert(g.vhosts, 0, vh)
			} else {
				g.vhosts = append(g.vhosts, vh)
			}
		}
	}
	for _, g := range s.groups {
		if len(g.vhosts[0].cfg.TLSCerts) == 0 {
			continue
		}
		if err := s.newTLSContext(g); err != nil {
			s.Close()
			return nil, err
		}
		if s.tlsPlain == nil {
			s.tlsPlain = make([]byte, nptls.MaxRecordPlaintext)
		}
	}
	if s.counters != nil {
		s.bindMetrics()
		loop.AddTicker(s.sampleConns)
	}
	if len(s.logs) > 0 {
		loop.AddTicker(s.tickLogs)
		s.stopReopen = watchReopen(loop, s.ReopenLogs)
	}
	return s, nil
}

// UseMetrics makes the server count into slot of the shared table t (see
// package metrics) instead of its private one, so that /metrics sums
// every worker. It does nothing when no [server] block enables metrics.
// Call it before Serve.
func (s *Server) UseMetrics(t *metrics.Table, slot int) {
	if s.counters == nil || t == nil {
		return
	}
	s.table = t
	s.counters = t.Attach(slot)
	s.bindMetrics()
}

// tickLogs flushes the access logs whose oldest line waited a second,
// reports the lines syslog servers did not take to the error log and
// counts them in metrics. Loop thread only.
func (s *Server) tickLogs(now int64) {
	t := time.Unix(0, now)
	var dropped uint64
	for _, al := range s.logs {
		if err := al.Tick(t); err != nil {
			s.log.Errorf("%s: %v", al.Path(), err)
		}
		dropped += al.Dropped()
	}
	if s.counters != nil && now-s.logCheck >= int64(time.Second) {
		s.logCheck = now
		if dropped += s.log.Dropped(); dropped > s.logDropped {
			s.counters.AddLogDropped(dropped - s.logDropped)
			s.logDropped = dropped
		}
	}
}

// ReopenLogs flushes the access logs and opens their files again (SIGUSR1,
// after log rotation). Loop thread only.
func (s *Server) ReopenLogs() {
	for _, al := range s.logs {
		if err := al.Reopen(); err != nil {
			s.log.Errorf("%s: reopen: %v", al.Path(), err)
		}
	}
}

// flushLogs writes what the access logs buffer. Loop thread only.
func (s *Server) flushLogs() {
	for _, al := range s.logs {
		if err := al.Flush(); err != nil {
			s.log.Errorf("%s: %v", al.Path(), err)
		}
	}
}

// newVhost builds the routing chain of one [server] block: modules (the
// global and the block's; modules.go), its rewrite rules, then the router
// (router.go), which chooses the [location] and runs its steps.
func (s *Server) newVhost(sc *config.Server) (*vhost, error) {
	vh := &vhost{cfg: sc}
	if sc.AccessLog != "" {
		al := s.logs[sc.AccessLog]
		if al == nil {
			var err error
			if al, err = accesslog.Open(sc.AccessLog); err != nil {
				return nil, fmt.Errorf("server: %w", err)
			}
			s.logs[sc.AccessLog] = al
		}
		vh.alog, vh.alogFmt = al, sc.AccessFormat
		if vh.alogFmt == nil {
			vh.alogFmt = accesslog.Combined
		}
	}
	if rules := rewrite.New(sc.Rewrites); rules != nil {
		vh.chain = append(vh.chain, &rewriteStep{s: s, rules: rules, path: make([]byte, 0, 256)})
	}
	rt, err := s.newRouter(vh)
	if err != nil {
		return nil, err
	}
	vh.rt = rt
	vh.chain = append(vh.chain, rt)
	if sc.Status {
		return vh, nil // status_listen's: no module
	}
	if vh.chain, err = s.withModules(vh, vh.chain); err != nil {
		return nil, err
	}
	return vh, nil
}

// Serve starts accepting on the listening socket fd, which is bound to
// addr (one of the configuration's listen addresses).
func (s *Server) Serve(fd int, addr string) error {
	g := s.groups[addr]
	if g == nil {
		return fmt.Errorf("server: no [server] listens on %s", addr)
	}
	if _, err := s.loop.Listen(fd, func(c *reactor.Conn) error { return s.accept(c, g) }); err != nil {
		return err
	}
	s.listeners = append(s.listeners, listener{fd: fd, g: g})
	return nil
}

func (s *Server) checkIdle() {
	if s.draining && s.onIdle != nil && s.loop.Active() == 0 {
		f := s.onIdle
		s.onIdle = nil
		f()
	}
}

// liveConns lists the open client connections (drain is rare: it may
// allocate).
func (s *Server) liveConns() []*conn {
	var out []*conn
	s.loop.ForEach(func(rc *reactor.Conn) {
		if c, ok := rc.Ctx.(*conn); ok {
			out = append(out, c)
		}
	})
	return out
}

// Close releases the static file caches and the proxy pools, and flushes
// and closes the access logs.
func (s *Server) Close() {
	s.closeModules()
	if s.counters != nil {
		s.publishConns([metrics.NumConnStates]int64{}) // this worker's leave
	}
	if s.stopReopen != nil {
		s.stopReopen()
		s.stopReopen = nil
	}
	for path, al := range s.logs {
		if err := al.Close(); err != nil {
			s.log.Errorf("%s: %v", path, err)
		}
	}
	clear(s.logs)
	seen := map[*vhost]bool{}
	for _, g := range s.groups {
		for _, vh := range g.vhosts {
			if !seen[vh] && vh.static != nil {
				vh.static.Close()
			}
			if !seen[vh] && vh.proxy != nil {
				vh.proxy.Close()
			}
			seen[vh] = true
		}
	}
}

// pickVhost chooses the [server] block for the request's Host among those
// on the connection's address: exact names first, then the longest
// wildcard suffix, else the address's default (the first block). named
// reports that a block's server_name matched (not the default).
func (g *addrGroup) pickVhost(host []byte) (vh *vhost, named bool) {
	if len(g.vhosts) == 1 || len(host) == 0 {
		return g.vhosts[0], false
	}
	h := host
	if i := lastColon(h); i >= 0 {
		h = h[:i]
	}
	var best *vhost
	bestLen := 0
	for _, vh := range g.vhosts {
		for _, name := range vh.cfg.ServerNames {
			if strings.HasPrefix(name, "*.") {
				suffix := name[1:]
				if len(h) > len(suffix) && hasSuffixFold(h, suffix) && len(suffix) > bestLen {
					best, bestLen = vh, len(suffix)
				}
			} else if http.EqualFold(h, name) {
				return vh, true
			}
		}
	}
	if best != nil {
		return best, true
	}
	return g.vhosts[0], false
}

func lastColon(h []byte) int {
	if len(h) > 0 && h[0] == '[' { // [v6]:port
		for i := len(h) - 1; i >= 0; i-- {
			if h[i] == ']' {
				if i+1 < len(h) && h[i+1] == ':' {
					return i + 1
				}
				return -1
			}
		}
		return -1
	}
	for i := len(h) - 1; i >= 0; i-- {
		if h[i] == ':' {
			return i
		}
	}
	return -1
}

func hasSuffixFold(b []byte, suffix string) bool {
	return len(b) >= len(suffix) && http.EqualFold(b[len(b)-len(suffix):], suffix)
}

// healthz answers GET /healthz with a small JSON body: always present,
// whatever the block configures.
type healthz struct{ s *Server }

var healthzPath = []byte("/healthz")

func (h healthz) Serve(x *http.Exchange) bool {
	if string(x.Path) != string(healthzPath) {
		return false
	}
	s := h.s
	b := append(s.body[:0], `{"status":"ok","pid":`...)
	b = strconv.AppendInt(b, int64(os.Getpid()), 10)
	b = append(b, `,"uptime_seconds":`...)
	b = strconv.AppendInt(b, int64(x.Now.Sub(s.started)/time.Second), 10)
	b = append(b, `,"connections":`...)
	b = strconv.AppendInt(b, int64(s.loop.Active()), 10)
	b = append(b, `,"requests":`...)
	b = strconv.AppendInt(b, int64(s.served), 10)
	b = append(b, "}\n"...)
	s.body = b
	x.Resp.AddHeaderString("Cache-Control", "no-store")
	x.Resp.SetBody(200, "application/json", b)
	return true
}
