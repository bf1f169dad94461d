//go:build linux

package metrics

import (
	"os"
	"runtime"
	"strconv"
)

// ContentType is the media type of the text AppendText writes.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// histSum, routeSum and backendSum are the sums of every slot's series,
// made at each scrape in the table's scratch (no allocation).
type histSum struct {
	counts [numBuckets]uint64
	sum    uint64
}

func (h *histSum) add(x *Histogram) {
	for i := range h.counts {
		h.counts[i] += x.counts[i].Load()
	}
	h.sum += x.sum.Load()
}

func (h *histSum) count() uint64 {
	var n uint64
	for _, c := range h.counts {
		n += c
	}
	return n
}

type routeSum struct {
	requests [5]uint64
	body     uint64
	limited  uint64
	duration [numHandlers]histSum
}

type backendSum struct {
	requests uint64
	errors   [numErrKinds]uint64
	retries  uint64
	active   int64
	idle     int64
	down     bool
	connect  histSum
	response histSum
}

type scratch struct {
	live     [MaxSlots]bool // slot's holder is alive: its gauges count
	accepted uint64
	dropped  uint64 // log lines
	active   int64
	conns    [NumConnStates]int64
	routes   [MaxRoutes]routeSum
	backends [MaxBackends]backendSum
}

// sumSlots adds up every slot that was ever attached into t.sum: all of
// their counters, and the gauges of those whose holder is alive. now is
// the time backends' downUntil is compared with (Unix ns).
func (t *Table) sumSlots(now int64) {
	s := &t.sum
	*s = scratch{}
	for k := range t.slots {
		c := &t.slots[k]
		pid := c.pid.Load()
		if pid == 0 {
			continue // never used: its pages stay untouched
		}
		live := int(pid) == os.Getpid() || alive(int(pid))
		s.live[k] = live
		s.accepted += c.accepted.Load()
		s.dropped += c.logDropped.Load()
		if live {
			s.active += c.active.Load()
			for i := range s.conns {
				s.conns[i] += c.conns[i].Load()
			}
		}
		for i := range t.useRoute {
			if !t.useRoute[i] {
				continue
			}
			r, x := &s.routes[i], &c.routes[i]
			for j := range r.requests {
				r.requests[j] += x.requests[j].Load()
			}
			r.body += x.body.Load()
			r.limited += x.limited.Load()
			for j := range r.duration {
				r.duration[j].add(&x.duration[j])
			}
		}
		for i := range t.useBack {
			if !t.useBack[i] {
				continue
			}
			b, x := &s.backends[i], &c.backends[i]
			b.requests += x.requests.Load()
			for j := range b.errors {
				b.errors[j] += x.errors[j].Load()
			}
			b.retries += x.retries.Load()
			b.connect.add(&x.connect)
			b.response.add(&x.response)
			if live {
				b.active += x.active.Load()
				b.idle += x.idle.Load()
				if x.downUntil.Load() > now {
					b.down = true
				}
			}
		}
	}
	s.active = max(s.active, 0)
	for i := range s.conns {
		s.conns[i] = max(s.conns[i], 0)
	}
}

// AppendText appends every series in the Prometheus text format: the
// sum of every worker's slot, for the series this process's
// configuration uses. now is the time (Unix ns) backend health is judged
// at. It allocates nothing once the buffer has room.
func (t *Table) AppendText(b []byte, now int64) []byte {
	t.sumSlots(now)
	s := &t.sum

	b = header(b, "nproxy_build_info", "gauge", "Always 1: the version, Go version and event backend (io_uring or epoll) of the worker that answered.")
	b = append(b, `nproxy_build_info{version="`...)
	b = appendEscaped(b, Version)
	b = append(b, `",goversion="`...)
	b = append(b, runtime.Version()...)
	b = append(b, `",backend="`...)
	b = appendEscaped(b, t.backend)
	b = append(b, "\"} 1\n"...)

	b = t.routeFamilies(b)
	b = t.backendFamilies(b)

	b = header(b, "nproxy_connections_accepted_total", "counter", "Client connections accepted.")
	b = appendSample(b, "nproxy_connections_accepted_total", s.accepted)
	b = header(b, "nproxy_connections_active", "gauge", "Client connections open.")
	b = appendSample(b, "nproxy_connections_active", uint64(s.active))
	b = header(b, "nproxy_connections", "gauge", "Client connections open, by state (sampled by each worker about once a second).")
	for i, n := range s.conns {
		b = append(b, `nproxy_connections{state="`...)
		b = append(b, ConnStateNames[i]...)
		b = append(b, `"} `...)
		b = strconv.AppendInt(b, n, 10)
		b = append(b, '\n')
	}

	b = header(b, "nproxy_log_lines_dropped_total", "counter", "Log lines the workers could not send to a syslog server (its socket's buffer full, or nobody listening).")
	b = appendSample(b, "nproxy_log_lines_dropped_total", s.dropped)

	h := t.hdr
	b = header(b, "nproxy_worker_restarts_total", "counter", "Workers the master replaced after they exited unexpectedly, by cause.")
	for i := range restartCauseNames {
		b = append(b, `nproxy_worker_restarts_total{cause="`...)
		b = append(b, restartCauseNames[i]...)
		b = append(b, `"} `...)
		b = strconv.AppendUint(b, h.restarts[i].Load(), 10)
		b = append(b, '\n')
	}
	b = header(b, "nproxy_config_reloads_total", "counter", "Configuration reloads (SIGHUP), by result.")
	b = append(b, `nproxy_config_reloads_total{result="ok"} `...)
	b = strconv.AppendUint(b, h.reloadsOK.Load(), 10)
	b = append(b, "\nnproxy_config_reloads_total{result=\"failed\"} "...)
	b = strconv.AppendUint(b, h.reloadsFailed.Load(), 10)
	b = append(b, '\n')
	b = header(b, "nproxy_config_generation", "gauge", "Configurations loaded successfully since the master started: 1 after the start, one more per successful reload.")
	b = appendSample(b, "nproxy_config_generation", h.generation.Load())
	b = header(b, "nproxy_config_last_reload_success_timestamp_seconds", "gauge", "When the running configuration was loaded (Unix time).")
	b = appendSample(b, "nproxy_config_last_reload_success_timestamp_seconds", uint64(max(h.reloadTime.Load(), 0)))
	return b
}

// routeFamilies appends the families labelled by route.
func (t *Table) routeFamilies(b []byte) []byte {
	if !t.hasRoutes {
		return b
	}
	s := &t.sum
	b = header(b, "nproxy_http_requests_total", "counter", "HTTP responses sent, by [server] block, location and status class.")
	for i := range s.routes {
		if !t.useRoute[i] {
			continue
		}
		r := &s.routes[i]
		for j, n := range r.requests {
			b = append(b, "nproxy_http_requests_total"...)
			b = t.routeLabels(b, i)
			b = sampleTail(b, "code", codeNames[j], n)
		}
	}
	b = header(b, "nproxy_http_response_body_bytes_total", "counter", "Response body bytes sent to clients (nginx's $body_bytes_sent), by [server] block and location.")
	for i := range s.routes {
		if t.useRoute[i] {
			b = t.routeSample(b, "nproxy_http_response_body_bytes_total", i, s.routes[i].body)
		}
	}
	b = header(b, "nproxy_http_rate_limited_total", "counter", "Requests refused with 429 by rate_limit, by [server] block and location.")
	for i := range s.routes {
		if t.useRoute[i] {
			b = t.routeSample(b, "nproxy_http_rate_limited_total", i, s.routes[i].limited)
		}
	}
	const dur = "nproxy_http_request_duration_seconds"
	b = header(b, dur, "histogram", "Time from a request's first byte to its response being queued (local) or fully sent (proxy), by [server] block, location and handler.")
	for i := range s.routes {
		if !t.useRoute[i] {
			continue
		}
		for j := range s.routes[i].duration {
			h := &s.routes[i].duration[j]
			if h.count() == 0 {
				continue // a handler the route never used
			}
			b = appendHistogram(b, dur, h, func(b []byte) []byte {
				b = t.routeLabels(b, i)
				b = append(b, `,handler="`...)
				b = append(b, handlerNames[j]...)
				return append(b, '"')
			})
		}
	}
	return b
}

// backendFamilies appends the families labelled by upstream backend.
func (t *Table) backendFamilies(b []byte) []byte {
	s := &t.sum
	any := false
	for i := range t.useBack {
		any = any || t.useBack[i]
	}
	if !any {
		return b
	}
	b = header(b, "nproxy_upstream_requests_total", "counter", "Attempts of proxied requests on each backend (a retried request counts once per backend tried).")
	for i := range s.backends {
		if t.useBack[i] {
			b = t.backendSample(b, "nproxy_upstream_requests_total", i, s.backends[i].requests)
		}
	}
	b = header(b, "nproxy_upstream_errors_total", "counter", "Failed attempts on each backend, by kind: connect (refused or unreachable), timeout (proxy_connect_timeout, proxy_timeout), reset (closed before the response ended), invalid (a malformed response head), 5xx (answered with a 5xx status).")
	for i := range s.backends {
		if !t.useBack[i] {
			continue
		}
		for k, n := range s.backends[i].errors {
			b = append(b, "nproxy_upstream_errors_total"...)
			b = t.backendLabels(b, i)
			b = sampleTail(b, "kind", errKindNames[k], n)
		}
	}
	b = header(b, "nproxy_upstream_retries_total", "counter", "Failed attempts on each backend after which the request was tried again.")
	for i := range s.backends {
		if t.useBack[i] {
			b = t.backendSample(b, "nproxy_upstream_retries_total", i, s.backends[i].retries)
		}
	}
	b = header(b, "nproxy_upstream_up", "gauge", "1 when the backend is in rotation in every worker, 0 when a worker holds it down after failures or a failed health check.")
	for i := range s.backends {
		if t.useBack[i] {
			up := uint64(1)
			if s.backends[i].down {
				up = 0
			}
			b = t.backendSample(b, "nproxy_upstream_up", i, up)
		}
	}
	b = header(b, "nproxy_upstream_connections", "gauge", "Connections to each backend: active (carrying a request) and idle (kept alive in the pool).")
	for i := range s.backends {
		if !t.useBack[i] {
			continue
		}
		for k, n := range [2]int64{s.backends[i].active, s.backends[i].idle} {
			b = append(b, "nproxy_upstream_connections"...)
			b = t.backendLabels(b, i)
			b = sampleTail(b, "state", [2]string{"active", "idle"}[k], uint64(max(n, 0)))
		}
	}
	for _, f := range [2]struct {
		name, help string
		resp       bool
	}{
		{"nproxy_upstream_connect_duration_seconds", "Time to make a new connection to each backend (TLS handshake included); pooled connections are not counted.", false},
		{"nproxy_upstream_response_duration_seconds", "Time from the start of an attempt to the end of the backend's response (nginx's $upstream_response_time).", true},
	} {
		b = header(b, f.name, "histogram", f.help)
		for i := range s.backends {
			if !t.useBack[i] {
				continue
			}
			h := &s.backends[i].connect
			if f.resp {
				h = &s.backends[i].response
			}
			b = appendHistogram(b, f.name, h, func(b []byte) []byte { return t.backendLabels(b, i) })
		}
	}
	return b
}

// routeLabels appends "{server=...,listen=...,location=..." (without the
// closing brace) for route series i.
func (t *Table) routeLabels(b []byte, i int) []byte {
	srv, listen, loc := t.routes[i].labels()
	if i == 0 {
		srv, listen, loc = []byte("_overflow"), nil, nil
	}
	b = append(b, `{server="`...)
	b = appendEscaped(b, srv)
	b = append(b, `",listen="`...)
	b = appendEscaped(b, listen)
	b = append(b, `",location="`...)
	b = appendEscaped(b, loc)
	return append(b, '"')
}

// backendLabels appends "{upstream=...,backend=..." for backend series i.
func (t *Table) backendLabels(b []byte, i int) []byte {
	up, addr, _ := t.backends[i].labels()
	if i == 0 {
		up, addr = []byte("_overflow"), nil
	}
	b = append(b, `{upstream="`...)
	b = appendEscaped(b, up)
	b = append(b, `",backend="`...)
	b = appendEscaped(b, addr)
	return append(b, '"')
}

// routeSample appends the sample v of family name for route series i.
func (t *Table) routeSample(b []byte, name string, i int, v uint64) []byte {
	b = append(b, name...)
	b = t.routeLabels(b, i)
	return sampleTail(b, "", "", v)
}

// backendSample appends the sample v of family name for backend series i.
func (t *Table) backendSample(b []byte, name string, i int, v uint64) []byte {
	b = append(b, name...)
	b = t.backendLabels(b, i)
	return sampleTail(b, "", "", v)
}

// sampleTail ends a sample line whose name and series labels (without
// the closing brace) are in b: the label key="val" when key is not
// empty (val is one of the package's names, written unescaped), the
// brace and v.
func sampleTail(b []byte, key, val string, v uint64) []byte {
	if key != "" {
		b = append(b, ',')
		b = append(b, key...)
		b = append(b, `="`...)
		b = append(b, val...)
		b = append(b, '"')
	}
	b = append(b, "} "...)
	b = strconv.AppendUint(b, v, 10)
	return append(b, '\n')
}

// codeNames are the code label's values of nproxy_http_requests_total,
// by status class.
var codeNames = [...]string{"1xx", "2xx", "3xx", "4xx", "5xx"}

// appendHistogram appends one histogram series: cumulative buckets, sum
// (seconds) and count. labels appends the series' labels without the
// closing brace.
func appendHistogram(b []byte, name string, h *histSum, labels func([]byte) []byte) []byte {
	var cum uint64
	for i, c := range h.counts {
		cum += c
		b = append(b, name...)
		b = append(b, "_bucket"...)
		b = labels(b)
		b = append(b, `,le="`...)
		if i < len(bucketText) {
			b = append(b, bucketText[i]...)
		} else {
			b = append(b, "+Inf"...)
		}
		b = append(b, `"} `...)
		b = strconv.AppendUint(b, cum, 10)
		b = append(b, '\n')
	}
	b = append(b, name...)
	b = append(b, "_sum"...)
	b = labels(b)
	b = append(b, "} "...)
	b = strconv.AppendFloat(b, float64(h.sum)/1e9, 'g', -1, 64)
	b = append(b, '\n')
	b = append(b, name...)
	b = append(b, "_count"...)
	b = labels(b)
	b = append(b, "} "...)
	b = strconv.AppendUint(b, cum, 10)
	return append(b, '\n')
}

func header(b []byte, name, typ, help string) []byte {
	b = append(b, "# HELP "...)
	b = append(b, name...)
	b = append(b, ' ')
	b = append(b, help...)
	b = append(b, "\n# TYPE "...)
	b = append(b, name...)
	b = append(b, ' ')
	b = append(b, typ...)
	return append(b, '\n')
}

func appendSample(b []byte, name string, v uint64) []byte {
	b = append(b, name...)
	b = append(b, ' ')
	b = strconv.AppendUint(b, v, 10)
	return append(b, '\n')
}

// appendEscaped appends a label value with the text format's escapes:
// backslash, double quote and line feed.
func appendEscaped[S ~string | ~[]byte](b []byte, s S) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b = append(b, '\\', '\\')
		case '"':
			b = append(b, '\\', '"')
		case '\n':
			b = append(b, '\\', 'n')
		default:
			b = append(b, c)
		}
	}
	return b
}
