//go:build linux

package server

import (
	"github.com/nproxy/nproxy/http"
	"github.com/nproxy/nproxy/metrics"
	"github.com/nproxy/nproxy/ratelimit"
	"github.com/nproxy/nproxy/rewrite"
	"strconv"
)

// The routing steps before /healthz: rewrite rules, the rate limit and
// /metrics (see newVhost for the order).
var (
	_ http.Handler = (*rewriteStep)(nil)
	_ http.Handler = (*limitStep)(nil)
	_ http.Handler = metricsStep{}
)

// rewriteStep applies a block's rewrite rules to x.Path and passes the
// request on; it answers only a redirect rule (return.go) and, with 400,
// a result that escapes the root. The new path lives in the step's buffer
// until the next request.
type rewriteStep struct {
	s       *Server
	rules   *rewrite.Rules
	path    []byte
	scratch []byte
}

func (r *rewriteStep) Serve(x *http.Exchange) bool {
	p, scratch, ok, rule, m, err := r.rules.ApplyRule(r.path, r.scratch, x.Path)
	r.scratch = scratch
	if err == rewrite.ErrRedirect {
		r.redirect(x, rule, m)
		return true
	}
	if err != nil {
		x.Resp.Error(400)
		x.Resp.Close = true
		return true
	}
	if ok {
		r.path = p[:0]
		x.Path = p
		x.Rewritten = true
	}
	return false
}

// limitStep refuses a client past its rate with 429 and Retry-After.
type limitStep struct {
	s *Server
	l *ratelimit.Limiter
}

func (ls *limitStep) Serve(x *http.Exchange) bool {
	c, ok := x.Takeover.(*conn)
	if !ok {
		return false
	}
	allowed, wait := ls.l.Allow(ratelimit.Key(c.peerAddr().As16()), ls.s.loop.NowNano())
	if allowed {
		return false
	}
	if r := ls.s.route; r != nil && r.m != nil {
		r.m.Limited()
	}
	var num [20]byte
	x.Resp.AddHeader("Retry-After", strconv.AppendInt(num[:0], ratelimit.RetryAfter(wait), 10))
	x.Resp.Error(429)
	return true
}

// metricsStep answers /metrics with the worker table's sum.
type metricsStep struct{ s *Server }

var metricsPath = []byte("/metrics")

func (m metricsStep) Serve(x *http.Exchange) bool {
	if string(x.Path) != string(metricsPath) {
		return false
	}
	s := m.s
	s.body = s.table.AppendText(s.body[:0], s.loop.NowNano())
	x.Resp.AddHeaderString("Cache-Control", "no-store")
	x.Resp.SetBody(200, metrics.ContentType, s.body)
	return true
}
