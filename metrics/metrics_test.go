//go:build linux

package metrics

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// lineRE matches every line of the text format this package writes:
// comments (HELP, TYPE) and samples with an optional label set.
var lineRE = regexp.MustCompile(`^(# (HELP|TYPE) [a-z_]+ .+|[a-z_]+(\{[a-z]+="[^"]*"\})? [0-9]+)$`)

func TestAppendText(t *testing.T) {
	tb := New()
	a, b := tb.Attach(0), tb.Attach(3)
	a.Response(200, 100)
	a.Response(404, 50)
	b.Response(204, 10)
	b.Response(503, 7)
	b.Response(99, 1) // out of range: bytes count, no class
	a.Accepted()
	a.Accepted()
	b.Accepted()
	a.Closed()
	a.Proxied(200)
	b.Proxied(502)
	b.Proxied(504)
	a.Limited()

	text := string(tb.AppendText(nil))
	for _, l := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		if !lineRE.MatchString(l) {
			t.Errorf("malformed line %q", l)
		}
	}
	for _, want := range []string{
		"# TYPE nproxy_http_requests_total counter\n",
		`nproxy_http_requests_total{code="1xx"} 0` + "\n",
		`nproxy_http_requests_total{code="2xx"} 2` + "\n",
		`nproxy_http_requests_total{code="4xx"} 1` + "\n",
		`nproxy_http_requests_total{code="5xx"} 1` + "\n",
		"nproxy_http_response_body_bytes_total 168\n",
		"nproxy_connections_accepted_total 3\n",
		"# TYPE nproxy_connections_active gauge\nnproxy_connections_active 2\n",
		"nproxy_proxy_requests_total 3\n",
		"nproxy_proxy_upstream_errors_total 2\n",
		"nproxy_rate_limited_total 1\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("missing %q in\n%s", want, text)
		}
	}
}

// TestSharedAcrossMappings maps one table file twice, as two workers do,
// and checks that each sees the other's counts and that counts survive a
// new mapping (a respawned worker).
func TestSharedAcrossMappings(t *testing.T) {
	f, err := Create()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w0, err := Map(int(f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	w1, err := Map(int(f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	w0.Attach(0).Response(200, 1)
	w1.Attach(1).Response(200, 1)
	w1.Attach(1).Accepted()
	for i, tb := range []*Table{w0, w1} {
		if s := tb.Sum(); s.Requests[1] != 2 || s.Active != 1 {
			t.Errorf("mapping %d: 2xx=%d active=%d, want 2 and 1", i, s.Requests[1], s.Active)
		}
	}
	w1.Close()
	again, err := Map(int(f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if s := again.Sum(); s.Requests[1] != 2 {
		t.Errorf("after remapping: 2xx=%d, want 2", s.Requests[1])
	}
	w0.Close()
}

// TestAttachDropsDeadActive: a slot whose last holder is gone loses the
// connections that holder left counted as open, not its counters.
func TestAttachDropsDeadActive(t *testing.T) {
	tb := New()
	c := &tb.slots[5]
	c.pid.Store(1 << 30) // beyond pid_max: no such process
	c.active.Store(7)
	c.accepted.Store(9)
	tb.Attach(5)
	if s := tb.Sum(); s.Active != 0 || s.Accepted != 9 {
		t.Errorf("active=%d accepted=%d, want 0 and 9", s.Active, s.Accepted)
	}
	// A live holder (this process) keeps its gauge.
	c.active.Store(3)
	tb.Attach(5)
	if s := tb.Sum(); s.Active != 3 {
		t.Errorf("active=%d after re-attach by a live process, want 3", s.Active)
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
