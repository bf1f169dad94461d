//go:build linux

package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/sys/unix"
)

// latencyMs are a run's latency figures in milliseconds.
type latencyMs struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p99_9"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

func latencyOf(h *Histogram) latencyMs {
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	return latencyMs{
		P50: ms(h.Percentile(0.5)), P90: ms(h.Percentile(0.9)), P99: ms(h.Percentile(0.99)),
		P999: ms(h.Percentile(0.999)), Max: ms(h.Max()), Mean: ms(h.Mean()),
	}
}

// runRecord is one run: one scenario, one target, one round.
type runRecord struct {
	Scenario    string    `json:"scenario"`
	Target      string    `json:"target"`
	Round       int       `json:"round"`
	Connections int       `json:"connections"`
	Requests    uint64    `json:"requests"`
	Errors      Errors    `json:"errors"`
	Seconds     float64   `json:"seconds"`
	ReqPerSec   float64   `json:"req_per_sec"`
	BytesPerSec float64   `json:"bytes_per_sec"`
	Latency     latencyMs `json:"latency_ms"`
	ClientBusy  float64   `json:"client_busy"` // the generator threads' CPU share; near 1: the client may be the limit
	// ServerCPUPerReq is the server process tree's CPU time (user and
	// system) over the run, per complete response, in microseconds.
	ServerCPUPerReq float64 `json:"server_cpu_us_per_request,omitempty"`
	// TLS runs only: handshakes completed, by kind, and what the first
	// one negotiated.
	FullHandshakes    uint64 `json:"full_handshakes,omitempty"`
	ResumedHandshakes uint64 `json:"resumed_handshakes,omitempty"`
	TLS               string `json:"tls,omitempty"`
	// idle only
	IdleConns    int     `json:"idle_connections,omitempty"`
	RSSBeforeKiB int64   `json:"rss_before_kib,omitempty"`
	RSSAfterKiB  int64   `json:"rss_after_kib,omitempty"`
	BytesPerConn float64 `json:"bytes_per_idle_connection,omitempty"`
	ProfileDir   string  `json:"profile_dir,omitempty"`
	StopProblem  string  `json:"stop_problem,omitempty"` // the server did not exit on its signal
}

func (r *runRecord) fill(res *Result, conns int) {
	r.Connections = conns
	r.Requests = res.Responses
	r.Errors = res.Errors
	r.Seconds = res.Elapsed.Seconds()
	r.ReqPerSec = res.RequestsPerSecond()
	r.BytesPerSec = res.BytesPerSecond()
	r.Latency = latencyOf(&res.Latency)
	r.ClientBusy = res.ClientBusy()
	r.FullHandshakes = res.FullHandshakes
	r.ResumedHandshakes = res.ResumedHandshakes
	r.TLS = res.TLSParams
}

// clientBusyWarn is the generator CPU share above which a run says the
// client may be what limits it. Below it the loops waited in epoll_wait for
// the server at least 10% of the time.
const clientBusyWarn = 0.9

func (r *runRecord) progressFigure() string {
	if r.IdleConns > 0 || r.RSSAfterKiB > 0 {
		return fmt.Sprintf("%d idle connections, %s B/conn", r.IdleConns, thousands(r.BytesPerConn))
	}
	s := fmt.Sprintf("%s req/s, p99 %.3f ms", thousands(r.ReqPerSec), r.Latency.P99)
	if r.BytesPerSec > 100e6 {
		s += fmt.Sprintf(", %.2f GB/s", r.BytesPerSec/1e9)
	}
	if r.ServerCPUPerReq > 0 {
		s += fmt.Sprintf(", server %.1f µs CPU/req", r.ServerCPUPerReq)
	}
	if r.TLS != "" {
		s += fmt.Sprintf(", %s full + %s resumed handshakes (%s)", thousands(float64(r.FullHandshakes)), thousands(float64(r.ResumedHandshakes)), r.TLS)
	}
	if r.ClientBusy > clientBusyWarn {
		s += fmt.Sprintf(" (load generator %.0f%% busy: it may be the limit; give it more --client-cpus)", 100*r.ClientBusy)
	}
	if n := r.Errors.Total(); n > 0 {
		s += fmt.Sprintf(", %d errors (%s)", n, r.Errors.String())
	}
	return s
}

// targetSummary is one target's medians over its rounds in one scenario.
type targetSummary struct {
	Target          string  `json:"target"`
	Rounds          int     `json:"rounds"`
	Requests        uint64  `json:"requests"` // complete responses, all rounds
	ReqPerSec       float64 `json:"median_req_per_sec"`
	P50Ms           float64 `json:"median_p50_ms"`
	P90Ms           float64 `json:"median_p90_ms"`
	P99Ms           float64 `json:"median_p99_ms"`
	P999Ms          float64 `json:"median_p99_9_ms"`
	MaxMs           float64 `json:"max_ms"` // the largest of any round
	BytesPerSec     float64 `json:"median_bytes_per_sec"`
	BytesPerConn    float64 `json:"median_bytes_per_idle_connection,omitempty"`
	ServerCPUPerReq float64 `json:"median_server_cpu_us_per_request,omitempty"`
	Errors          uint64  `json:"errors"`
	perRoundByRound map[int]float64
	cpuByRound      map[int]float64 // server CPU per request, where measured
}

// ratio compares two targets round by round: Num/Den per round, then the
// median, min and max of those ratios.
type ratio struct {
	Name   string  `json:"name"` // "io_uring/epoll", "nproxy/nginx"
	Metric string  `json:"metric"`
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	Rounds int     `json:"rounds"`
}

type scenarioSummary struct {
	Scenario string          `json:"scenario"`
	Targets  []targetSummary `json:"targets"`
	Ratios   []ratio         `json:"ratios"`
}

type machineInfo struct {
	CPUModel  string `json:"cpu_model"`
	Cores     int    `json:"cores"`
	Kernel    string `json:"kernel"`
	GoVersion string `json:"go_version"`
	Date      string `json:"date"`
}

type settings struct {
	Duration    string  `json:"duration"`
	Requests    int64   `json:"requests,omitempty"`
	Rounds      int     `json:"rounds"`
	Connections int     `json:"connections,omitempty"`
	Pipeline    int     `json:"pipeline"`
	Rate        float64 `json:"rate,omitempty"`
	Workers     int     `json:"workers"`
	ServerCPUs  []int   `json:"server_cpus"`
	ClientCPUs  []int   `json:"client_cpus"`
}

// report is everything Main prints, and the --json document.
type report struct {
	Machine  machineInfo       `json:"machine"`
	Command  []string          `json:"command"`
	Settings settings          `json:"settings"`
	Runs     []runRecord       `json:"runs"`
	Summary  []scenarioSummary `json:"summary"`
	Skipped  []string          `json:"skipped,omitempty"`
	Profiles []profileSummary  `json:"profiles,omitempty"`
	Problems []string          `json:"problems,omitempty"` // why the exit code is not 0
}

func newReport(o *options) *report {
	return &report{
		Machine: machine(),
		Command: append([]string{"nproxy", "bench"}, o.args...),
		Settings: settings{
			Duration: o.duration.String(), Requests: o.requests, Rounds: o.rounds, Connections: o.connections,
			Pipeline: o.pipeline, Rate: o.rate, Workers: o.workers, ServerCPUs: o.serverCPUs, ClientCPUs: o.clientCPUs,
		},
	}
}

func machine() machineInfo {
	m := machineInfo{Cores: runtime.NumCPU(), GoVersion: runtime.Version(), Date: time.Now().UTC().Format(time.RFC3339)}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		m.Kernel = unix.ByteSliceToString(u.Release[:])
	}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	return m
}

// summarize computes per-scenario medians and ratios from the runs.
func (r *report) summarize(scs []*scenario, targets []target) {
	for _, sc := range scs {
		ss := scenarioSummary{Scenario: sc.name}
		byTarget := map[string]*targetSummary{}
		for _, t := range targets {
			var rps, p50, p90, p99, p999, bps, bpc, cpu []float64
			ts := targetSummary{Target: t.name, perRoundByRound: map[int]float64{}, cpuByRound: map[int]float64{}}
			for _, run := range r.Runs {
				if run.Scenario != sc.name || run.Target != t.name {
					continue
				}
				ts.Rounds++
				ts.Errors += run.Errors.Total()
				ts.Requests += run.Requests
				ts.MaxMs = max(ts.MaxMs, run.Latency.Max)
				rps = append(rps, run.ReqPerSec)
				p50 = append(p50, run.Latency.P50)
				p90 = append(p90, run.Latency.P90)
				p99 = append(p99, run.Latency.P99)
				p999 = append(p999, run.Latency.P999)
				bps = append(bps, run.BytesPerSec)
				bpc = append(bpc, run.BytesPerConn)
				metric := run.ReqPerSec
				if sc.idle {
					metric = run.BytesPerConn
				}
				ts.perRoundByRound[run.Round] = metric
				if run.ServerCPUPerReq > 0 {
					cpu = append(cpu, run.ServerCPUPerReq)
					ts.cpuByRound[run.Round] = run.ServerCPUPerReq
				}
			}
			if ts.Rounds == 0 {
				continue
			}
			ts.ReqPerSec, ts.P99Ms, ts.BytesPerSec = median(rps), median(p99), median(bps)
			ts.P50Ms, ts.P90Ms, ts.P999Ms = median(p50), median(p90), median(p999)
			if sc.idle {
				ts.BytesPerConn = median(bpc)
			}
			ts.ServerCPUPerReq = median(cpu)
			ss.Targets = append(ss.Targets, ts)
			byTarget[t.name] = &ss.Targets[len(ss.Targets)-1]
		}
		metric := "req/s"
		if sc.idle {
			metric = "bytes per idle connection (lower is better)"
		}
		// With --ab the ratio is B/A; every nproxy target is also compared
		// with every reference, nproxy/reference as compare.sh prints.
		var pairs [][2]string // numerator, denominator
		var nps, refs []string
		for _, t := range targets {
			if t.isNproxy() {
				nps = append(nps, t.name)
			} else {
				refs = append(refs, t.name)
			}
		}
		if len(nps) == 2 {
			pairs = append(pairs, [2]string{nps[1], nps[0]})
		}
		for _, ref := range refs {
			for _, np := range nps {
				pairs = append(pairs, [2]string{np, ref})
			}
		}
		for _, p := range pairs {
			num, den := byTarget[p[0]], byTarget[p[1]]
			if num == nil || den == nil {
				continue
			}
			if ra, ok := roundRatio(num.perRoundByRound, den.perRoundByRound); ok {
				ra.Name, ra.Metric = ratioName(p[0], p[1]), metric
				ss.Ratios = append(ss.Ratios, ra)
			}
			if ra, ok := roundRatio(num.cpuByRound, den.cpuByRound); ok {
				ra.Name, ra.Metric = ratioName(p[0], p[1]), "server CPU per request (lower is better)"
				ss.Ratios = append(ss.Ratios, ra)
			}
		}
		r.Summary = append(r.Summary, ss)
	}
}

// roundRatio compares two targets' figures round by round: num/den in
// every round both have, then the median, min and max of those ratios.
func roundRatio(num, den map[int]float64) (ratio, bool) {
	var rs []float64
	for round, v := range num {
		if d, ok := den[round]; ok && d > 0 {
			rs = append(rs, v/d)
		}
	}
	if len(rs) == 0 {
		return ratio{}, false
	}
	lo, hi := minMax(rs)
	return ratio{Median: median(rs), Min: lo, Max: hi, Rounds: len(rs)}, true
}

// ratioName shortens "nproxy-io_uring"/"nproxy-epoll" to "io_uring/epoll".
func ratioName(num, den string) string {
	a, aok := strings.CutPrefix(num, "nproxy-")
	b, bok := strings.CutPrefix(den, "nproxy-")
	if aok && bok {
		return a + "/" + b
	}
	return num + "/" + den
}

// printTable writes the human summary.
func (r *report) printTable(w io.Writer) {
	fmt.Fprintf(w, "\n%s, %d cores, Linux %s, %s; %s\n", r.Machine.CPUModel, r.Machine.Cores, r.Machine.Kernel, r.Machine.GoVersion, strings.Join(r.Command, " "))
	s := r.Settings
	fmt.Fprintf(w, "servers on CPUs %v, load on CPUs %v, %d worker(s), %d round(s) of %s; medians over rounds (requests: all rounds; max: the largest)\n\n",
		s.ServerCPUs, s.ClientCPUs, s.Workers, s.Rounds, s.Duration)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\ttarget\trequests\treq/s\tp50 ms\tp90 ms\tp99 ms\tp99.9 ms\tmax ms\tMB/s\tserver µs/req\tB/idle conn\terrors\t")
	ms := func(v float64) string { return fmt.Sprintf("%.3f", v) }
	for _, ss := range r.Summary {
		for _, t := range ss.Targets {
			figures := []string{thousands(float64(t.Requests)), thousands(t.ReqPerSec), ms(t.P50Ms), ms(t.P90Ms), ms(t.P99Ms), ms(t.P999Ms), ms(t.MaxMs), fmt.Sprintf("%.1f", t.BytesPerSec/1e6)}
			cpu, bpc := "-", "-"
			if t.ServerCPUPerReq > 0 {
				cpu = fmt.Sprintf("%.1f", t.ServerCPUPerReq)
			}
			if findScenario(ss.Scenario).idle {
				for i := range figures {
					figures[i] = "-"
				}
				bpc = thousands(t.BytesPerConn)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t\n", ss.Scenario, t.Target, strings.Join(figures, "\t"), cpu, bpc, t.Errors)
		}
	}
	tw.Flush()
	for _, ss := range r.Summary {
		for _, ra := range ss.Ratios {
			fmt.Fprintf(w, "%s: ratio %s = %.3f (min %.3f, max %.3f over %d rounds; %s)\n",
				ss.Scenario, ra.Name, ra.Median, ra.Min, ra.Max, ra.Rounds, ra.Metric)
		}
	}
	for _, s := range r.Skipped {
		fmt.Fprintf(w, "skipped %s\n", s)
	}
	for i := range r.Profiles {
		r.Profiles[i].print(w)
	}
}

func (r *report) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// thousands formats v rounded, with commas: 152300.4 -> "152,300".
func thousands(v float64) string {
	s := strconv.FormatInt(int64(v+0.5), 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
