//go:build linux

package bench

import (
	"bytes"
	"regexp"
	"testing"
	"time"
)

// TestSummaryTable checks the table's latency columns and request count:
// medians of the rounds' percentiles, the largest max, the requests of all
// rounds, in the order wrk users read them.
func TestSummaryTable(t *testing.T) {
	r := &report{Settings: settings{Rounds: 2, Duration: "1s"}}
	lat := func(p50, p90, p99, p999, max float64) latencyMs {
		return latencyMs{P50: p50, P90: p90, P99: p99, P999: p999, Max: max}
	}
	r.Runs = []runRecord{
		{Scenario: "static-small", Target: "nproxy", Round: 1, Requests: 1000, ReqPerSec: 1000, Latency: lat(0.1, 0.2, 0.3, 0.4, 9)},
		{Scenario: "static-small", Target: "nproxy", Round: 2, Requests: 3000, ReqPerSec: 3000, Latency: lat(0.3, 0.4, 0.5, 0.6, 2)},
		{Scenario: "static-small", Target: "nproxy", Round: 3, Requests: 2000, ReqPerSec: 2000, Latency: lat(0.2, 0.3, 0.4, 0.5, 1)},
	}
	r.summarize([]*scenario{findScenario("static-small")}, []target{{name: "nproxy", kind: "nproxy"}})
	var b bytes.Buffer
	r.printTable(&b)
	out := b.String()
	header := regexp.MustCompile(`scenario\s+target\s+requests\s+req/s\s+p50 ms\s+p90 ms\s+p99 ms\s+p99\.9 ms\s+max ms\s+MB/s`)
	row := regexp.MustCompile(`static-small\s+nproxy\s+6,000\s+2,000\s+0\.200\s+0\.300\s+0\.400\s+0\.500\s+9\.000\s`)
	if !header.MatchString(out) || !row.MatchString(out) {
		t.Fatalf("table:\n%s", out)
	}
	if ts := r.Summary[0].Targets[0]; ts.Requests != 6000 || ts.MaxMs != 9 || ts.P999Ms != 0.5 {
		t.Errorf("summary %+v", ts)
	}
}

// TestDurationFlag checks --duration: Go durations, and bare seconds as
// wrk takes them.
func TestDurationFlag(t *testing.T) {
	for v, want := range map[string]time.Duration{"30": 30 * time.Second, "1.5": 1500 * time.Millisecond, "500ms": 500 * time.Millisecond, "2m": 2 * time.Minute} {
		o, err := parseFlags(append(cpuFlags(t), "--duration", v), &bytes.Buffer{})
		if err != nil || o.duration != want {
			t.Errorf("--duration %s: %v, %v; want %v", v, o.duration, err, want)
		}
	}
	for _, v := range []string{"x", "-1", "10 s"} {
		var errb bytes.Buffer
		if _, err := parseFlags(append(cpuFlags(t), "--duration", v), &errb); err == nil {
			t.Errorf("--duration %q accepted", v)
		}
	}
}
