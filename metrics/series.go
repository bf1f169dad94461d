//go:build linux

package metrics

import "sync/atomic"

// bucketBounds are the upper bounds (le) of every duration histogram, in
// nanoseconds: from 50 µs, the time a fast proxy takes on a small
// request, to 10 s, in 1-2.5-5 steps.
var bucketBounds = [...]int64{
	50e3, 100e3, 250e3, 500e3,
	1e6, 2.5e6, 5e6, 10e6, 25e6, 50e6, 100e6, 250e6, 500e6,
	1e9, 2.5e9, 5e9, 10e9,
}

// bucketText are bucketBounds as the le label values, in seconds.
var bucketText = [len(bucketBounds)]string{
	"5e-05", "0.0001", "0.00025", "0.0005",
	"0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5",
	"1", "2.5", "5", "10",
}

// numBuckets counts the histogram's buckets, the one above the largest
// bound (+Inf) included.
const numBuckets = len(bucketBounds) + 1

// Histogram is a duration histogram of one worker: a count per bucket
// (not cumulative: an observation adds to one bucket only) and the sum in
// nanoseconds. The scrape makes the buckets cumulative and sums workers.
type Histogram struct {
	counts [numBuckets]atomic.Uint64
	sum    atomic.Uint64
}

// Observe adds one duration of ns nanoseconds (a negative one, from a
// clock that stepped back, counts as 0).
func (h *Histogram) Observe(ns int64) {
	if ns < 0 {
		ns = 0
	}
	i := 0
	for i < len(bucketBounds) && ns > bucketBounds[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sum.Add(uint64(ns))
}

// Route is the series of one route of a [server] block (the block's own
// settings, or one [location]) in one worker.
type Route struct {
	requests [5]atomic.Uint64 // responses by status class 1xx..5xx
	body     atomic.Uint64    // response body bytes
	limited  atomic.Uint64    // requests refused by rate_limit
	duration [numHandlers]Histogram
	_        [routeSize - 7*8 - numHandlers*numBuckets*8 - numHandlers*8]byte
}

// Response counts one response of status with body bytes of body, which
// took ns nanoseconds from its request's first byte, answered by handler
// (HandlerLocal or HandlerProxy).
func (r *Route) Response(status int, body int64, handler int, ns int64) {
	if i := status/100 - 1; uint(i) < uint(len(r.requests)) {
		r.requests[i].Add(1)
	}
	r.body.Add(uint64(body))
	r.duration[handler].Observe(ns)
}

// Limited counts a request refused by the rate limit.
func (r *Route) Limited() { r.limited.Add(1) }

// Backend is the series of one upstream backend in one worker.
type Backend struct {
	requests  atomic.Uint64 // attempts sent to (or connecting to) the backend
	errors    [numErrKinds]atomic.Uint64
	retries   atomic.Uint64 // failed attempts that moved on to another try
	active    atomic.Int64  // connections busy with a request
	idle      atomic.Int64  // keep-alive connections in the pool
	downUntil atomic.Int64  // Unix ns until which the worker keeps it out of rotation
	connect   Histogram
	response  Histogram
	// No padding: the fields fill backendSize exactly (a trailing
	// zero-size field would add some).
}

// Attempt counts one attempt of a request on the backend.
func (b *Backend) Attempt() { b.requests.Add(1) }

// Error counts a failed attempt or a 5xx answer, by kind (ErrConnect...).
func (b *Backend) Error(kind int) { b.errors[kind].Add(1) }

// Retried counts an attempt that failed and was tried again.
func (b *Backend) Retried() { b.retries.Add(1) }

// AddActive and AddIdle move the gauges of busy and pooled connections.
func (b *Backend) AddActive(d int64) { b.active.Add(d) }

// AddIdle moves the gauge of pooled keep-alive connections.
func (b *Backend) AddIdle(d int64) { b.idle.Add(d) }

// SetDownUntil records that the backend is out of rotation until the
// Unix time until (ns); 0 when it is up.
func (b *Backend) SetDownUntil(until int64) { b.downUntil.Store(until) }

// Connected records the time a new connection took to be made.
func (b *Backend) Connected(ns int64) { b.connect.Observe(ns) }

// Responded records the time from the start of an attempt to the end of
// the backend's response (nginx's $upstream_response_time).
func (b *Backend) Responded(ns int64) { b.response.Observe(ns) }
