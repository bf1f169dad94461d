//go:build linux

package server_test

import (
	"fmt"
	"io"
	"net"
	nethttp "net/http"
	"strings"
	"testing"

	"github.com/nproxy/nproxy/http"
	"github.com/nproxy/nproxy/internal/promtest"
	"github.com/nproxy/nproxy/internal/servertest"
)

// scrape returns the parsed /metrics page, failing the test when
// Prometheus's parser refuses it or a histogram is malformed.
func scrape(t *testing.T, ts *testServer) promtest.Page {
	t.Helper()
	res := ts.roundTrip(t, get("/metrics"))
	if res.status != 200 || !strings.HasPrefix(res.header["content-type"], "text/plain; version=0.0.4") {
		t.Fatalf("/metrics: status %d, content-type %q", res.status, res.header["content-type"])
	}
	p, err := promtest.Parse(res.body)
	if err != nil {
		t.Fatalf("/metrics: %v\n%s", err, res.body)
	}
	if err := p.CheckHistograms(); err != nil {
		t.Fatalf("/metrics: %v\n%s", err, res.body)
	}
	return p
}

// newStatusBackend starts an HTTP server answering every request with
// status and a short body.
func newStatusBackend(t *testing.T, status int) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &nethttp.Server{Handler: nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		w.Header().Set("Content-Length", "3")
		w.WriteHeader(status)
		io.WriteString(w, "up\n")
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// TestMetrics runs static, proxied, failing and rate-limited requests on
// both backends and checks that /metrics counts exactly what the test
// sent: requests by route and class, body bytes, the duration histograms'
// counts, and per backend attempts, errors by kind and timings.
func TestMetrics(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		ok, five, refused := newStatusBackend(t, 200), newStatusBackend(t, 503), servertest.RefusedAddr(t)
		ok2, refused2 := newStatusBackend(t, 200), servertest.RefusedAddr(t)
		www := t.TempDir()
		writeTree(t, www)
		ts := startServer(t, backend, "metrics = on\nserver_name = example.com\nstatic_root = "+www+"\n"+
			"[location /api/]\nproxy_pass = "+ok+"\n"+
			"[location /five/]\nproxy_pass = "+five+"\n"+
			"[location /down/]\nproxy_pass = "+refused+"\n"+
			"[location /pair/]\nproxy_pass = "+refused2+", "+ok2+"\n"+
			"[location /limited/]\nrate_limit = 1r/m\nreturn = 200 fine\n")
		send := func(path string, n, status int) {
			t.Helper()
			for range n {
				if res := ts.roundTrip(t, get(path)); res.status != status {
					t.Fatalf("GET %s: %d, want %d", path, res.status, status)
				}
			}
		}
		send("/small.txt", 3, 200)
		send("/nope", 1, 404)
		send("/api/x", 4, 200)
		send("/five/x", 2, 503)
		send("/down/x", 2, 502)
		send("/pair/x", 4, 200)
		send("/limited/", 1, 200)
		send("/limited/", 2, 429)
		p := scrape(t, ts)

		type sample struct {
			name   string
			labels string
			want   float64
		}
		for _, s := range []sample{
			{"nproxy_http_requests_total", "server=example.com,location=-,code=2xx", 3},
			{"nproxy_http_requests_total", "location=-,code=4xx", 1},
			{"nproxy_http_requests_total", "location=/api/,code=2xx", 4},
			{"nproxy_http_requests_total", "location=/five/,code=5xx", 2},
			{"nproxy_http_requests_total", "location=/down/,code=5xx", 2},
			{"nproxy_http_requests_total", "location=/limited/,code=2xx", 1},
			{"nproxy_http_requests_total", "location=/limited/,code=4xx", 2},
			{"nproxy_http_requests_total", "", 19},
			{"nproxy_http_rate_limited_total", "location=/limited/", 2},
			{"nproxy_http_rate_limited_total", "", 2},
			{"nproxy_http_response_body_bytes_total", "location=/api/", 4 * 3},
			{"nproxy_http_response_body_bytes_total", "location=-", float64(3*len(smallBody)) + float64(len(http.ErrorBody(404)))},
			// Every response is in exactly one histogram.
			{"nproxy_http_request_duration_seconds", "", 19},
			{"nproxy_http_request_duration_seconds", "location=-,handler=local", 4},
			{"nproxy_http_request_duration_seconds", "location=/api/,handler=proxy", 4},
			{"nproxy_http_request_duration_seconds", "location=/down/,handler=proxy", 2},
			{"nproxy_upstream_requests_total", "backend=" + ok, 4},
			{"nproxy_upstream_requests_total", "backend=" + five, 2},
			{"nproxy_upstream_requests_total", "backend=" + refused, 2},
			{"nproxy_upstream_errors_total", "backend=" + refused + ",kind=connect", 2},
			{"nproxy_upstream_errors_total", "backend=" + refused, 2},
			{"nproxy_upstream_errors_total", "backend=" + five + ",kind=5xx", 2},
			{"nproxy_upstream_errors_total", "backend=" + five, 2},
			{"nproxy_upstream_errors_total", "backend=" + ok, 0},
			{"nproxy_upstream_response_duration_seconds", "backend=" + ok, 4},
			{"nproxy_upstream_response_duration_seconds", "backend=" + five, 2},
			{"nproxy_upstream_response_duration_seconds", "backend=" + refused, 0},
			// A lone backend is never held down (nginx's rule).
			{"nproxy_upstream_up", "backend=" + refused, 1},
			{"nproxy_upstream_up", "upstream=" + ok + ",backend=" + ok, 1},
			{"nproxy_upstream_connections", "backend=" + ok + ",state=active", 0},
			// The pair's refused backend fails once, the request is
			// retried on the other, and it is held down from then on.
			{"nproxy_upstream_requests_total", "backend=" + refused2, 1},
			{"nproxy_upstream_errors_total", "backend=" + refused2 + ",kind=connect", 1},
			{"nproxy_upstream_retries_total", "backend=" + refused2, 1},
			{"nproxy_upstream_retries_total", "", 1},
			{"nproxy_upstream_up", "backend=" + refused2, 0},
			{"nproxy_upstream_requests_total", "backend=" + ok2, 4},
			{"nproxy_connections_accepted_total", "", 20},
			{"nproxy_build_info", "backend=" + backend, 1},
		} {
			if got, found := p.Sum(s.name, promtest.Labels(s.labels)); !found || got != s.want {
				t.Errorf("%s{%s} = %v (found %v), want %v", s.name, s.labels, got, found, s.want)
			}
		}
		// The test's connections are still open (keep-alive).
		if got, _ := p.Sum("nproxy_connections_active", ""); got < 1 {
			t.Errorf("active connections %v during a request, want >= 1", got)
		}
		// Keep-alive connections to the backends wait in their pools.
		if got, _ := p.Sum("nproxy_upstream_connections", promtest.Labels("backend="+ok+",state=idle")); got < 1 {
			t.Errorf("idle pooled connections to %s: %v, want >= 1", ok, got)
		}
		// A new connection was made at least once to each live backend.
		for _, b := range []string{ok, five} {
			if got, _ := p.Sum("nproxy_upstream_connect_duration_seconds", promtest.Labels("backend="+b)); got < 1 {
				t.Errorf("connect histogram of %s: %v, want >= 1", b, got)
			}
		}
		// The next scrape counts the first one.
		p = scrape(t, ts)
		if got, _ := p.Sum("nproxy_http_requests_total", "location=-,code=2xx"); got != 4 {
			t.Errorf("2xx of the block's own route after a scrape: %v, want 4", got)
		}
	})
}

// TestMetricsRouteLabels checks the labels of a block with a name and a
// regex location, and that a block without server_name is "_".
func TestMetricsRouteLabels(t *testing.T) {
	ts := startServer(t, "epoll", "metrics = on\n[location ~ \\.txt$]\nreturn = 200 \"txt\"\n")
	ts.roundTrip(t, get("/a.txt"))
	p := scrape(t, ts)
	want := fmt.Sprintf(`server=_,listen=%s,location=~ \.txt$,code=2xx`, ts.addr)
	if got, _ := p.Sum("nproxy_http_requests_total", promtest.Labels(want)); got != 1 {
		t.Errorf("%s: %v, want 1", want, got)
	}
}

// TestMetricsH2 counts HTTP/2 streams as HTTP/1.1 requests are counted,
// local and proxied, on both backends, and logs them with their
// HTTP/2.0 request line and the attempt on the backend.
func TestMetricsH2(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		up := newStatusBackend(t, 200)
		www := t.TempDir()
		writeTree(t, www)
		logPath := t.TempDir() + "/access.log"
		ts := startServer(t, backend, "http2 = on\nmetrics = on\nstatic_root = "+www+"\naccess_log = "+logPath+" json\n"+
			"[location /api/]\nproxy_pass = "+up+"\n")
		cl := h2cClient()
		base := "http://" + ts.addr
		for i := 0; i < 3; i++ {
			if res, _ := h2Do(t, cl, "GET", base+"/small.txt", nil); res.StatusCode != 200 {
				t.Fatalf("static: %d", res.StatusCode)
			}
		}
		for i := 0; i < 2; i++ {
			if res, body := h2Do(t, cl, "GET", base+"/api/x", nil); res.StatusCode != 200 || string(body) != "up\n" {
				t.Fatalf("proxied: %d %q", res.StatusCode, body)
			}
		}
		p := scrape(t, ts)
		for _, s := range []struct {
			name, labels string
			want         float64
		}{
			{"nproxy_http_requests_total", "location=-,code=2xx", 3},
			{"nproxy_http_requests_total", "location=/api/,code=2xx", 2},
			{"nproxy_http_request_duration_seconds", "location=-,handler=local", 3},
			{"nproxy_http_request_duration_seconds", "location=/api/,handler=proxy", 2},
			{"nproxy_upstream_requests_total", "backend=" + up, 2},
			{"nproxy_upstream_response_duration_seconds", "backend=" + up, 2},
		} {
			if got, found := p.Sum(s.name, promtest.Labels(s.labels)); !found || got != s.want {
				t.Errorf("%s{%s} = %v (found %v), want %v", s.name, s.labels, got, found, s.want)
			}
		}
		lines := readLines(t, logPath, 5)
		if !strings.Contains(lines[3], `"request":"GET /api/x HTTP/2.0"`) || !strings.Contains(lines[3], `"upstream_addr":"`+up+`"`) ||
			!strings.Contains(lines[3], `"upstream_status":"200"`) {
			t.Errorf("proxied h2 line: %s", lines[3])
		}
	})
}

// TestMetricsLocalhostLabel: a backend written as localhost keeps that
// name in its labels, as every host name stays as written (localhost
// connects to 127.0.0.1 without a lookup); inline and in an [upstream],
// on both backends.
func TestMetricsLocalhostLabel(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		_, port, _ := net.SplitHostPort(newStatusBackend(t, 200))
		lh := "localhost:" + port
		ts := startServer(t, backend, "metrics = on\n[location /a/]\nproxy_pass = "+lh+"\n"+
			"[location /g/]\nproxy_pass = grp\n[upstream grp]\nserver = "+lh+"\n")
		for _, path := range []string{"/a/x", "/g/x", "/g/y"} {
			if res := ts.roundTrip(t, get(path)); res.status != 200 {
				t.Fatalf("GET %s: %d", path, res.status)
			}
		}
		p := scrape(t, ts)
		for _, s := range []struct {
			labels string
			want   float64
		}{
			{"upstream=" + lh + ",backend=" + lh, 1},
			{"upstream=grp,backend=" + lh, 2},
		} {
			if got, found := p.Sum("nproxy_upstream_requests_total", promtest.Labels(s.labels)); !found || got != s.want {
				t.Errorf("nproxy_upstream_requests_total{%s} = %v (found %v), want %v", s.labels, got, found, s.want)
			}
		}
		if _, found := p.Sum("nproxy_upstream_requests_total", promtest.Labels("backend=127.0.0.1:"+port)); found {
			t.Errorf("a series labelled 127.0.0.1:%s", port)
		}
	})
}
