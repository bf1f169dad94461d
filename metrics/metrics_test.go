//go:build linux

package metrics

import (
	"os"
	"strings"
	"testing"

	"github.com/nproxy/nproxy/internal/promtest"
)

// parse parses text with Prometheus's own parser and checks the
// histograms' shape.
func parse(t *testing.T, text []byte) promtest.Page {
	t.Helper()
	p, err := promtest.Parse(text)
	if err != nil {
		t.Fatalf("the Prometheus parser refuses the page: %v\n%s", err, text)
	}
	if err := p.CheckHistograms(); err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	return p
}

func want(t *testing.T, p promtest.Page, name string, ls promtest.Labels, v float64) {
	t.Helper()
	got, ok := p.Sum(name, ls)
	if !ok || got != v {
		t.Errorf("%s{%s} = %v (present %v), want %v", name, ls, got, ok, v)
	}
}

func TestAppendText(t *testing.T) {
	tb := New()
	api := tb.Register("example.com", "0.0.0.0:80", "/api/")
	root := tb.Register("example.com", "0.0.0.0:80", "-")
	if again := tb.Lookup("example.com", "0.0.0.0:80", "/api/"); again != api {
		t.Fatalf("Lookup = %d, want %d (Register's)", again, api)
	}
	odd := tb.Register(`we"ird\`, "[::1]:8080", `~ \.php$`)
	back := tb.RegisterBackend("app", "10.0.0.1:9000")
	for _, i := range []int{api, root, odd} {
		tb.UseRoute(i)
	}
	tb.UseBackend(back)
	tb.SetBackend("epoll")

	a, b := tb.Attach(0), tb.Attach(3)
	a.Route(api).Response(200, 100, HandlerProxy, 30e3) // 30 µs: first bucket
	a.Route(api).Response(502, 50, HandlerProxy, 2e9)   // 2 s
	b.Route(api).Response(204, 10, HandlerProxy, 20e9)  // 20 s: +Inf
	b.Route(root).Response(404, 7, HandlerLocal, 0)     //
	b.Route(root).Response(99, 1, HandlerLocal, 0)      // no class: bytes and duration count
	a.Route(odd).Limited()                              //
	a.Accepted()
	a.Accepted()
	b.Accepted()
	a.AddLogDropped(2)
	b.AddLogDropped(5)
	a.Closed()
	a.AddConnState(ConnIdle, 2)
	b.AddConnState(ConnIdle, -1)
	bk := a.Backend(back)
	bk.Attempt()
	bk.Attempt()
	bk.Error(ErrConnect)
	bk.Retried()
	bk.Connected(200e3)
	bk.Responded(3e6)
	bk.AddIdle(2)
	bk.SetDownUntil(1e18)
	tb.ReloadDone(true, 1700000000) // the first load: generation 1
	tb.ReloadDone(true, 1700000100)
	tb.ReloadDone(false, 0)
	tb.WorkerRestarted(RestartSignal)

	text := tb.AppendText(nil, 2e18)
	p := parse(t, text)
	want(t, p, "nproxy_http_requests_total", "server=example.com,location=/api/,code=2xx", 2)
	want(t, p, "nproxy_http_requests_total", "server=example.com,location=/api/,code=5xx", 1)
	want(t, p, "nproxy_http_requests_total", "location=-,code=4xx", 1)
	want(t, p, "nproxy_http_requests_total", "", 4)
	want(t, p, "nproxy_http_response_body_bytes_total", "location=/api/", 160)
	want(t, p, "nproxy_http_response_body_bytes_total", "location=-", 8)
	want(t, p, "nproxy_http_rate_limited_total", `server=we"ird\,listen=[::1]:8080,location=~ \.php$`, 1)
	want(t, p, "nproxy_http_request_duration_seconds", "location=/api/,handler=proxy", 3)
	want(t, p, "nproxy_http_request_duration_seconds", "location=-,handler=local", 2)
	if _, ok := p.Sum("nproxy_http_request_duration_seconds", "location=-,handler=proxy"); ok {
		t.Error("a histogram the route never used is rendered")
	}
	h := p.Histogram("nproxy_http_request_duration_seconds", "location=/api/")
	if b := h.GetBucket(); len(b) < 1 || b[0].GetUpperBound() != 50e-6 || b[0].GetCumulativeCount() != 1 {
		t.Errorf("first bucket %v, want le=5e-05 count 1", b)
	}
	if s := h.GetSampleSum(); s < 22.00002 || s > 22.00004 {
		t.Errorf("sum %v s, want 22.00003", s)
	}
	want(t, p, "nproxy_connections_accepted_total", "", 3)
	want(t, p, "nproxy_log_lines_dropped_total", "", 7)
	want(t, p, "nproxy_connections_active", "", 2)
	want(t, p, "nproxy_connections", "state=idle", 1)
	want(t, p, "nproxy_upstream_requests_total", "upstream=app,backend=10.0.0.1:9000", 2)
	want(t, p, "nproxy_upstream_errors_total", "kind=connect", 1)
	want(t, p, "nproxy_upstream_errors_total", "kind=5xx", 0)
	want(t, p, "nproxy_upstream_retries_total", "", 1)
	want(t, p, "nproxy_upstream_up", "", 1) // down until 1e18 ns, now is 2e18 ns: up again
	want(t, p, "nproxy_upstream_connections", "state=idle", 2)
	want(t, p, "nproxy_upstream_connect_duration_seconds", "", 1)
	want(t, p, "nproxy_upstream_response_duration_seconds", "", 1)
	want(t, p, "nproxy_worker_restarts_total", "cause=signal", 1)
	want(t, p, "nproxy_config_reloads_total", "result=ok", 1)
	want(t, p, "nproxy_config_reloads_total", "result=failed", 1)
	want(t, p, "nproxy_config_generation", "", 2)
	want(t, p, "nproxy_config_last_reload_success_timestamp_seconds", "", 1700000100)
	want(t, p, "nproxy_build_info", "backend=epoll", 1)

	// Held down: a time before downUntil.
	p = parse(t, tb.AppendText(nil, 5e17))
	want(t, p, "nproxy_upstream_up", "", 0)
}

// TestRegisterBounds: names past the catalog's room count in the
// overflow series, and a long name is cut on a character boundary.
func TestRegisterBounds(t *testing.T) {
	tb := New()
	for i := 1; i < MaxRoutes; i++ {
		if got := tb.Register("s", strings.Repeat("x", i%7), string(rune('a'+i%26))+strings.Repeat("/", i)); got != i {
			t.Fatalf("Register #%d = %d", i, got)
		}
	}
	if got := tb.Register("one", "too", "many"); got != 0 {
		t.Fatalf("Register past the end = %d, want the overflow series 0", got)
	}
	tb.UseRoute(0)
	tb.Attach(0).Route(0).Response(200, 1, HandlerLocal, 0)
	p := parse(t, tb.AppendText(nil, 0))
	want(t, p, "nproxy_http_requests_total", "server=_overflow,code=2xx", 1)

	long := strings.Repeat("é", maxLabel) // 2 bytes each
	tb2 := New()
	i := tb2.Register(long, "l", "-")
	tb2.UseRoute(i)
	if j := tb2.Lookup(long, "l", "-"); j != i {
		t.Errorf("Lookup of a cut name = %d, want %d", j, i)
	}
	parse(t, tb2.AppendText(nil, 0)) // valid UTF-8, or the parser refuses it
}

// TestSharedAcrossMappings maps one table file three times, as the master
// and two workers do: the catalog the master lays out is found by the
// workers, each sees the other's counts, and counts survive a new mapping
// (a respawned worker) and a catalog appended to (a reload).
func TestSharedAcrossMappings(t *testing.T) {
	f, err := Create()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	master, err := Map(int(f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	r := master.Register("a", "b", "-")
	w0, err := Map(int(f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	w1, err := Map(int(f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []*Table{w0, w1} {
		if got := w.Lookup("a", "b", "-"); got != r {
			t.Fatalf("worker Lookup = %d, want %d", got, r)
		}
		if got := w.Lookup("not", "registered", "-"); got != 0 {
			t.Fatalf("worker Lookup of an unknown name = %d, want 0", got)
		}
		w.UseRoute(r)
	}
	w0.Attach(0).Route(r).Response(200, 1, HandlerLocal, 0)
	w1.Attach(1).Route(r).Response(200, 1, HandlerLocal, 0)
	w1.Attach(1).Accepted()
	for i, tb := range []*Table{w0, w1} {
		p := parse(t, tb.AppendText(nil, 0))
		want(t, p, "nproxy_http_requests_total", "code=2xx", 2)
		want(t, p, "nproxy_connections_active", "", 1)
		_ = i
	}
	w1.Close()
	r2 := master.Register("a", "b", "/new/") // a reload adds a location
	again, err := Map(int(f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if got := again.Lookup("a", "b", "-"); got != r {
		t.Errorf("after a reload the old series moved: %d, want %d", got, r)
	}
	if got := again.Lookup("a", "b", "/new/"); got != r2 || r2 == r {
		t.Errorf("new series %d, Lookup %d", r2, got)
	}
	again.UseRoute(r)
	want(t, parse(t, again.AppendText(nil, 0)), "nproxy_http_requests_total", "code=2xx", 2)
	w0.Close()
}

// TestAttachDropsDeadGauges: a slot whose last holder is gone loses the
// gauges that holder left, not its counters.
func TestAttachDropsDeadGauges(t *testing.T) {
	tb := New()
	c := &tb.slots[5]
	c.pid.Store(1 << 30) // beyond pid_max: no such process
	c.active.Store(7)
	c.accepted.Store(9)
	c.conns[ConnIdle].Store(4)
	c.backends[1].idle.Store(3)
	c.backends[1].requests.Store(5)
	tb.Attach(5)
	if c.active.Load() != 0 || c.conns[ConnIdle].Load() != 0 || c.backends[1].idle.Load() != 0 {
		t.Error("gauges of a dead holder kept")
	}
	if c.accepted.Load() != 9 || c.backends[1].requests.Load() != 5 {
		t.Error("counters of a dead holder dropped")
	}
	// A live holder (this process) keeps its gauges.
	c.active.Store(3)
	tb.Attach(5)
	if c.active.Load() != 3 {
		t.Errorf("active=%d after re-attach by a live process, want 3", c.active.Load())
	}
}

func TestMapWrongSize(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "m")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := Map(int(f.Fd())); err == nil {
		t.Error("Map of an empty file succeeded")
	}
}

func TestHistogramBuckets(t *testing.T) {
	tests := []struct {
		ns     int64
		bucket int
	}{
		{-5, 0}, {0, 0}, {50e3, 0}, {50e3 + 1, 1}, {1e6, 4}, {10e9, len(bucketBounds) - 1}, {10e9 + 1, len(bucketBounds)},
	}
	for _, tt := range tests {
		var h Histogram
		h.Observe(tt.ns)
		if h.counts[tt.bucket].Load() != 1 {
			t.Errorf("Observe(%d): not in bucket %d", tt.ns, tt.bucket)
		}
	}
}

// TestCorruptCatalog checks that a catalog entry whose lengths a worker
// overwrote (the mapping is every worker's to write) makes neither the
// master's Register, on a reload, nor a scrape panic.
func TestCorruptCatalog(t *testing.T) {
	tb := New()
	i := tb.Register("s", "127.0.0.1:80", "/")
	j := tb.RegisterBackend("u", "127.0.0.1:81")
	tb.UseRoute(i)
	tb.UseBackend(j)
	tb.routes[i].lens = [3]uint8{255, 255, 255}
	tb.backends[j].lens = [3]uint8{200, 255, 0}
	if got := tb.Register("t", "127.0.0.1:80", "/"); got == 0 || got == i {
		t.Fatalf("Register beside a corrupt entry = %d", got)
	}
	tb.RegisterBackend("u", "127.0.0.1:82")
	tb.AppendText(nil, 0)
}
