//go:build linux

package server

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/nproxy/nproxy/config"
	"github.com/nproxy/nproxy/http"
	"github.com/nproxy/nproxy/metrics"
	"github.com/nproxy/nproxy/proxy"
	"github.com/nproxy/nproxy/ratelimit"
	"github.com/nproxy/nproxy/realip"
	"github.com/nproxy/nproxy/static"
	"github.com/nproxy/nproxy/vars"
)

// route is how the requests of one [location], or of the [server] itself
// (its root route), are handled: its effective settings and the handlers
// built from them. Routes that do not change a part share their block's
// (one upstream pool, one open-file cache, one rate-limit table; see
// config.Group).
type route struct {
	cfg       *config.Server
	loc       *config.Location    // nil for the root route
	pathBytes []byte              // loc.Path, for the prefix comparison
	strip     bool                // strip_prefix (or alias): cut the matched prefix
	access    []config.AccessRule // allow and deny, in order
	auth      *basicAuth          // nil without auth_basic
	limit     *limitStep
	ret       *returnStep // return: answers every request of the route
	// aliasPath is config.Server.AliasPath: the file's path under the
	// route's directory, built from its regex's captures (capture.go).
	aliasPath []byte
	// headers are the route's add_header lines, for the responses the
	// server sends (the proxy adds its own route's to what it streams).
	headers *http.ExtraHeaders
	// proxyVars: a proxy_set_header of the route, its proxy_pass's
	// URI part, or an add_header line (whose request's parts the proxy
	// expands before the backend answers) holds variables, so the proxy
	// needs x.Vars.
	proxyVars bool
	// sendProxy: the route's backends get a PROXY protocol header, so
	// the proxy needs x.ClientAddr and x.LocalAddr (sendproxy.go).
	sendProxy bool
	errors    *errorPages // nil without error_page
	gzip      *gzipStep   // nil without gzip or gzip_static
	proxy     *proxy.Handler
	static    *static.Handler
	modules   *moduleStep    // the [location]'s own modules (modules.go); nil without
	m         *metrics.Route // the route's series (metrics.go); nil without metrics
	// pages is http.Exchange.ErrorPage for the route's reverse proxy;
	// nil without error_page or proxy.
	pages func(status int, resp *http.Response) bool
}

// router is the routing step of a block, after its rewrite rules: it
// chooses the route of the request's path and runs, in order, the
// route's allow/deny (403), /healthz (exempt from the rate limit and
// from authentication, so a load balancer's probe is never refused;
// allow/deny and healthz = off protect it), the route's rate limit, its
// basic authentication (401; after the rate limit, which so bounds the
// password checks a client can make), /metrics, the route's
// max_body_size, its return, strip_prefix, then its handler: the reverse
// proxy, static files, or 404.
type router struct {
	s       *Server
	table   *routeTable // nil without [location] sections
	root    *route
	healthz bool
	metrics bool
	// trusted is real_ip_from; realIPHeader the header they name the
	// client in ("" for proxy_protocol: the connection's peer already is
	// the client).
	trusted      realip.Trusted
	realIPHeader string
	// stripBuf holds a stripped path that needs a '/' put in front.
	stripBuf []byte
	// aliasBuf and aliasOut hold an alias path built from captures,
	// before and after it is normalized (capture.go).
	aliasBuf, aliasOut []byte
	// errHdr holds an error's headers that its error page keeps.
	errHdr []byte
	// status is $status's text (responseValues).
	status [3]byte
	// page, pageReq and pageHdr are proxyErrorPage's exchange.
	page    http.Exchange
	pageReq http.Request
	pageHdr []byte
}

var _ http.Handler = (*router)(nil)

// proxies and statics are the distinct handlers of a block's routes; Close
// closes every one.
type (
	proxies []*proxy.Handler
	statics []*static.Handler
)

// Close closes the pools of every upstream group.
func (ps proxies) Close() {
	for _, p := range ps {
		p.Close()
	}
}

// Close releases every open-file cache.
func (ss statics) Close() {
	for _, st := range ss {
		st.Close()
	}
}

// newRouter builds the routes of vh's block: its own, then one per
// [location]. On error it closes what it built.
func (s *Server) newRouter(vh *vhost) (rt *router, err error) {
	sc := vh.cfg
	rt = &router{s: s, healthz: sc.Healthz, metrics: sc.Metrics, trusted: realip.Trusted(sc.RealIPFrom)}
	if s.cfg.StatusListen != "" && !sc.Status {
		// status_listen: /healthz and /metrics answer there alone.
		rt.healthz, rt.metrics = false, false
	}
	if sc.RealIPHeader != "proxy_protocol" {
		rt.realIPHeader = sc.RealIPHeader
	}
	defer func() {
		if err != nil {
			vh.proxy.Close()
			vh.static.Close()
			vh.proxy, vh.static = nil, nil
		}
	}()
	if rt.root, err = s.newRoute(vh, sc, nil, nil); err != nil {
		return nil, err
	}
	rt.root.pages = rt.proxyErrorPage(rt.root)
	if len(sc.Locations) == 0 {
		return rt, nil
	}
	routes := make([]*route, 0, len(sc.Locations))
	for _, loc := range sc.Locations {
		r, err := s.newRoute(vh, loc.Server, loc, rt.root)
		if err != nil {
			return nil, fmt.Errorf("[location %s] (line %d): %w", loc.Match, loc.Line, err)
		}
		r.pages = rt.proxyErrorPage(r)
		routes = append(routes, r)
	}
	rt.table = newRouteTable(rt.root, routes)
	return rt, nil
}

// newRoute builds the route of cfg: the block's own when loc is nil, else
// a location's, sharing root's parts where the location does not own
// them.
func (s *Server) newRoute(vh *vhost, cfg *config.Server, loc *config.Location, root *route) (*route, error) {
	r := &route{cfg: cfg, loc: loc, strip: cfg.StripPrefix}
	if loc != nil {
		r.pathBytes = []byte(loc.Path)
		if cfg.AliasPath != "" && loc.Regexp != nil {
			r.aliasPath = []byte(cfg.AliasPath)
		}
	}
	r.access = cfg.Access
	r.errors = newErrorPages(cfg.ErrorPages)
	r.gzip = newGzipStep(s, cfg)
	if cfg.AuthBasic != "" && cfg.AuthUserFile != "" {
		var err error
		if r.auth, err = s.newBasicAuth(cfg); err != nil {
			return nil, err
		}
	}
	if cfg.Return != nil {
		r.ret = newReturnStep(s, cfg.Return)
	}
	if len(cfg.AddHeaders) > 0 {
		r.headers = new(http.ExtraHeaders)
		for _, h := range cfg.AddHeaders {
			r.headers.AddValue(h.Name, h.Vars, h.Always)
		}
		r.proxyVars = r.headers.HasVars()
	}
	for _, h := range cfg.ProxySetHeaders {
		if _, literal := h.Value.Literal(); !literal {
			r.proxyVars = true
		}
	}
	if !cfg.ProxyURI.Empty() {
		r.proxyVars = true // proxy_pass = http://b/$1: the target is built from them
	}
	owns := func(g config.Group) bool { return loc == nil || loc.Owns(g) }
	if cfg.RateLimit > 0 {
		if owns(config.GroupLimit) || root.limit == nil {
			r.limit = &limitStep{s: s, l: ratelimit.New(cfg.RateLimit, cfg.RateBurst, ratelimit.DefaultCapacity, cfg.RateLimitIPv6Prefix)}
		} else {
			r.limit = root.limit
		}
	}
	if cfg.HasProxy() {
		if owns(config.GroupProxy) || root.proxy == nil {
			g, err := s.upstreamGroup(cfg, loc, root)
			if err != nil {
				return nil, fmt.Errorf("server: %w", err)
			}
			px := proxy.NewRoute(cfg, g)
			r.sendProxy = px.SendsProxyProtocol()
			if cfg.Gzip {
				if s.compressors == nil {
					s.compressors = proxy.NewCompressors()
				}
				px.SetCompressors(s.compressors)
			}
			vh.proxy = append(vh.proxy, px)
			r.proxy = px
		} else {
			r.proxy = root.proxy
			r.sendProxy = root.sendProxy
		}
	}
	if cfg.StaticRoot != "" {
		if owns(config.GroupStatic) || root.static == nil {
			st, err := static.New(cfg)
			if err != nil {
				return nil, fmt.Errorf("server: %w", err)
			}
			vh.static = append(vh.static, st)
			r.static = st
		} else {
			r.static = root.static
		}
	}
	mods, err := s.newRouteModules(vh.cfg, loc)
	if err != nil {
		return nil, err
	}
	r.modules = mods
	return r, nil
}

// upstreamGroup returns the runtime upstream group of a route with
// settings cfg: the worker's one for an [upstream NAME] group (made on
// first use), the [server]'s own when a [location] inherits its backends
// and only changes per-route settings (headers, timeouts), else a new
// one. Routes naming one group with different proxy_tls_* settings get
// one runtime group per distinct setting: a connection verified under
// one setting is never reused under another.
func (s *Server) upstreamGroup(cfg *config.Server, loc *config.Location, root *route) (*proxy.Group, error) {
	key := ""
	if cfg.UpstreamName != "" {
		key = fmt.Sprintf("%s\x00%t\x00%s\x00%s\x00%t", cfg.UpstreamName, cfg.ProxyTLS, cfg.ProxyTLSCA, cfg.ProxyTLSServerName, cfg.ProxyTLSVerify)
		if g := s.upstreams[key]; g != nil {
			return g, nil
		}
	} else if loc != nil && root != nil && root.proxy != nil && !ownsBackends(loc) {
		return root.proxy.Group(), nil
	}
	g, err := proxy.NewGroup(cfg, s.loop, s.log)
	if err != nil {
		return nil, err
	}
	g.SetResolveInterval(s.cfg.ResolveInterval)
	if g.NeedsTick() {
		s.loop.AddTicker(func(now int64) { g.Tick(time.Unix(0, now)) })
	}
	if key != "" {
		if s.upstreams == nil {
			s.upstreams = make(map[string]*proxy.Group)
		}
		s.upstreams[key] = g
	}
	return g, nil
}

// ownsBackends reports whether loc sets a key that makes its backends
// other than its [server]'s: proxy_pass, balance, health_check,
// proxy_send_proxy_protocol, proxy_keepalive or a TLS setting.
func ownsBackends(loc *config.Location) bool {
	for _, k := range [...]string{"proxy_pass", "balance", "health_check", "proxy_send_proxy_protocol", "proxy_keepalive", "proxy_tls_ca", "proxy_tls_server_name", "proxy_tls_verify"} {
		if loc.Sets(k) {
			return true
		}
	}
	return false
}

// Serve routes x and answers it: it always does (404 when the route has
// no handler that takes the request).
func (rt *router) Serve(x *http.Exchange) bool {
	x.Prefix, x.Vars = nil, nil
	if c, ok := x.Takeover.(*conn); ok {
		if c.obsv != nil {
			c.obsv.clientSet = false
		}
		if len(rt.trusted) > 0 && rt.realIPHeader != "" {
			rt.setClient(x, c)
		}
	}
	r := rt.root
	rt.s.setCaptures(nil, nil)
	if rt.table != nil {
		var redirect bool
		var m []int
		if r, redirect, m = rt.table.matchCaptures(x.Path); redirect {
			redirectSlash(x, x.Path)
			return true
		}
		rt.s.setCaptures(x.Path, m)
	}
	rt.s.route = r
	rt.serveModules(x, r)
	if r.errors != nil && !streaming(x) {
		rt.serveErrorPage(x, r)
	}
	if r.gzip != nil && !streaming(x) {
		r.gzip.compress(x)
	}
	if r.headers != nil && !streaming(x) {
		x.Resp.Header = r.headers.Append(x.Resp.Header, x.Resp.Status)
		if r.headers.HasVars() {
			x.Resp.Header = r.headers.AppendVars(x.Resp.Header, x.Resp.Status, rt.responseValues(x))
		}
	}
	if !streaming(x) {
		// A proxied answer's timeouts are its session's (the proxy
		// reads the route's own copy of the settings).
		x.Resp.SendTimeout, x.Resp.BodyTimeout = r.cfg.SendTimeout, r.cfg.BodyTimeout
	}
	return true
}

// responseValues returns the variables of x's response for add_header:
// the request's, and $status. $upstream_addr and $upstream_status are
// empty: a response the server sends itself comes from no backend (the
// proxy's own error inside Serve included, which the access log shows
// without them too).
func (rt *router) responseValues(x *http.Exchange) *vars.Values {
	v := rt.s.requestValues(x)
	st := x.Resp.Status
	rt.status = [3]byte{byte('0' + st/100%10), byte('0' + st/10%10), byte('0' + st%10)}
	v.Status = rt.status[:]
	return v
}

// setClient finds the request's real client when it comes from a
// trusted proxy (real_ip_from): in the last X-Forwarded-For field, the
// rightmost address that is not a trusted proxy's; or in X-Real-IP. It
// is then the address of the request for allow/deny, the rate limit,
// the logs and the X-Forwarded-For sent upstream.
func (rt *router) setClient(x *http.Exchange, c *conn) {
	if !rt.trusted.Contains(c.peerAddr()) {
		return
	}
	req, buf := x.Req, x.Buf
	var v []byte
	for i := req.NumHeaders - 1; i >= 0; i-- {
		if h := &req.Headers[i]; http.EqualFold(h.Name.Bytes(buf), rt.realIPHeader) {
			v = h.Value.Bytes(buf)
			break
		}
	}
	if v == nil {
		return
	}
	var a netip.Addr
	var ok bool
	if rt.realIPHeader == "X-Real-IP" {
		a, ok = realip.FromXRealIP(v)
	} else {
		a, ok = realip.FromXFF(v, rt.trusted)
	}
	if ok {
		o := c.observed()
		o.client, o.clientSet = a, true
	}
}

// streaming reports whether a step took the connection over and answers
// by itself (x.Resp is not sent).
func streaming(x *http.Exchange) bool {
	c, ok := x.Takeover.(*conn)
	return ok && c.state == stTakeover && c.tk.want == wantNothing
}

// serveRoute runs route r's steps on x.
func (rt *router) serveRoute(x *http.Exchange, r *route) bool {
	return rt.serveRouteInternal(x, r, false)
}

// serveRouteInternal runs route r's steps on x; an internal request (an
// error page) skips the checks its request already passed or failed:
// allow/deny, the rate limit, authentication and max_body_size.
func (rt *router) serveRouteInternal(x *http.Exchange, r *route, internal bool) bool {
	// satisfy = any: an allowed address needs no credentials, and a
	// refused one may still pass with them (401 then, not 403).
	either := r.cfg.SatisfyAny && len(r.access) > 0 && r.auth != nil
	addrOK := true
	if !internal && len(r.access) > 0 {
		if addrOK = allowed(r.access, clientAddr(x)); !addrOK && !either {
			x.Resp.Error(403)
			return true
		}
	}
	// /healthz asks for no password, so an address refused under
	// satisfy = any does not get it either.
	if rt.healthz && addrOK && healthz.Serve(healthz{rt.s}, x) {
		return true
	}
	if !internal && r.limit != nil && r.limit.Serve(x) {
		return true
	}
	if !internal && r.auth != nil && !(either && addrOK) && r.auth.Serve(x) {
		return true
	}
	if rt.metrics && metricsStep.Serve(metricsStep{rt.s}, x) {
		return true
	}
	if max := r.cfg.MaxBodySize; !internal && max > 0 && x.Req.ContentLength > max {
		x.Resp.Error(413)
		x.Resp.Close = true
		if c, ok := x.Takeover.(*conn); ok {
			c.lingerAfter = true // close without reading the body
		}
		return true
	}
	if r.ret != nil {
		return r.ret.Serve(x)
	}
	if r.strip {
		rt.stripPrefix(x, r)
	}
	if r.aliasPath != nil && !rt.aliasPath(x, r) {
		return true
	}
	if r.proxy != nil {
		if r.proxyVars {
			x.Vars = rt.s.requestValues(x)
		}
		x.ErrorPage = r.pages
		rt.s.handler = metrics.HandlerProxy
		if r.sendProxy {
			setConnAddrs(x)
		}
		if r.proxy.Serve(x) {
			return true
		}
		rt.s.handler = metrics.HandlerLocal
	}
	if r.static != nil {
		if r.gzip != nil && r.gzip.static && r.gzip.serveStatic(x, r.static) {
			return true
		}
		if r.static.Serve(x) {
			return true
		}
	}
	x.Resp.Error(404)
	return true
}

// stripPrefix cuts the prefix route r matched from x.Path, keeping a '/'
// in front: "/api/users" in "location /api/" becomes "/users", as does
// "/api/users" in "location /api"; "/api" in "location = /api" becomes
// "/". The proxy then forwards the new path (re-escaped) with the
// client's query, as after a rewrite.
func (rt *router) stripPrefix(x *http.Exchange, r *route) {
	n := len(r.pathBytes)
	if n == 0 || n > len(x.Path) {
		return
	}
	rest := x.Path[n:]
	switch {
	case len(rest) > 0 && rest[0] == '/':
		x.Prefix = x.Path[:n]
	case r.pathBytes[n-1] == '/':
		rest = x.Path[n-1:]
		x.Prefix = x.Path[:n-1]
	default:
		// "/apix" in "location /api": the '/' is added, so Prefix
		// and Path no longer spell the request's path ("/api" "/x");
		// a redirect built from them names a path nginx would not
		// have (a corner case of prefixes without a trailing '/').
		x.Prefix = x.Path[:n]
		rt.stripBuf = append(append(rt.stripBuf[:0], '/'), rest...)
		rest = rt.stripBuf
	}
	x.Path, x.Rewritten = rest, true
}

// redirectSlash answers 301 to p with a '/' appended, keeping the query,
// as nginx answers a request for a proxied prefix location's path
// without its trailing slash.
func redirectSlash(x *http.Exchange, p []byte) {
	r := &x.Resp
	r.Error(301)
	r.Header = append(r.Header, "Location: "...)
	r.Header = http.AppendEscapedPath(r.Header, p)
	r.Header = append(r.Header, '/')
	if q := x.Req.Query; !q.Empty() {
		r.Header = append(r.Header, '?')
		r.Header = append(r.Header, q.Bytes(x.Buf)...)
	}
	r.Header = append(r.Header, "\r\n"...)
}
