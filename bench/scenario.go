//go:build linux

package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	nptls "github.com/nproxy/nproxy/tls"
	"golang.org/x/sys/unix"
)

// scenario is one load shape, the same for nproxy and the references.
type scenario struct {
	name       string
	path       string // what is requested
	conns      int    // default connections
	length     int64  // the body length every answer must have
	closeEach  bool   // churn: a new connection per request
	idle       bool   // memory per idle connection instead of load
	throughput bool   // bytes/s matter more than req/s

	tls    bool   // over TLS 1.3, the servers with a throwaway certificate
	tlsKey string // the certificate's key when the scenario fixes it; "" takes --tls-key
	resume bool   // every new connection resumes an earlier session (session tickets)
}

var allScenarios = []*scenario{
	{name: "static-small", path: "/index.html", conns: 64, length: 1024},
	{name: "static-large", path: "/big.bin", conns: 16, length: 1 << 20, throughput: true},
	{name: "proxy", path: "/proxy/x", conns: 64, length: int64(len(backendBody))},
	{name: "idle", path: "/index.html", conns: 8000, length: 1024, idle: true},
	{name: "churn", path: "/index.html", conns: 64, length: 1024, closeEach: true},
	{name: "tls-small", path: "/index.html", conns: 64, length: 1024, tls: true},
	{name: "tls-handshake-ecdsa", path: "/index.html", conns: 64, length: 1024, closeEach: true, tls: true, tlsKey: keyECDSA},
	{name: "tls-handshake-rsa", path: "/index.html", conns: 64, length: 1024, closeEach: true, tls: true, tlsKey: keyRSA},
	{name: "tls-resume", path: "/index.html", conns: 64, length: 1024, closeEach: true, tls: true, resume: true},
	{name: "tls-large", path: "/big.bin", conns: 16, length: 1 << 20, throughput: true, tls: true},
	{name: "tls-idle", path: "/index.html", conns: 8000, length: 1024, idle: true, tls: true},
}

// tlsGroup is the --scenario word that stands for every TLS scenario.
const tlsGroup = "tls"

func findScenario(name string) *scenario {
	for _, sc := range allScenarios {
		if sc.name == name {
			return sc
		}
	}
	return nil
}

func scenarioNames() string {
	var names []string
	for _, sc := range allScenarios {
		names = append(names, sc.name)
	}
	return strings.Join(append(names, tlsGroup+" (every tls-*)"), ", ")
}

// certKey returns the key kind of sc's certificate: the scenario's own,
// else --tls-key.
func (o *options) certKey(sc *scenario) string {
	if sc.tlsKey != "" {
		return sc.tlsKey
	}
	return o.tlsKey
}

// runScenarios runs every scenario, round after round, every target in turn
// within a round (A B A B ...), then prints the summary.
func runScenarios(ctx context.Context, o *options, stdout, stderr io.Writer) error {
	dir, err := os.MkdirTemp("", "nproxy-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	e := &env{dir: dir, opts: o, serverCPUs: o.serverCPUs, clientCPUs: o.clientCPUs, stderr: stderr, live: isTerminal(stderr)}
	if err := e.writeFiles(); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	defer func() {
		if e.backend != nil {
			e.backend.Close()
		}
	}()
	if o.profile != "" {
		if err := os.MkdirAll(o.profile, 0o755); err != nil {
			return fmt.Errorf("bench: --profile: %w", err)
		}
	}

	targets, skipped := o.targets()
	rep := newReport(o)
	for _, s := range skipped {
		rep.Skipped = append(rep.Skipped, s+": not installed (not in PATH)")
	}
	total := 0
	for _, sc := range o.scenarios {
		for _, t := range targets {
			if t.supports(sc) {
				total += o.rounds
			}
		}
	}
	table := stdout
	if o.json {
		table = stderr
	}
	for _, s := range rep.Skipped {
		fmt.Fprintf(stderr, "skipped %s\n", s)
	}

	var runErr error
	n := 0
scenarios:
	for _, sc := range o.scenarios {
		for round := 1; round <= o.rounds; round++ {
			for _, t := range targets {
				if !t.supports(sc) {
					continue
				}
				n++
				e.progressPrefix = fmt.Sprintf("[%d/%d] %s %s round %d ... ", n, total, sc.name, t.name, round)
				fmt.Fprint(stderr, e.progressPrefix)
				rec, err := e.runOne(ctx, t, sc, round)
				if e.live {
					fmt.Fprintf(stderr, "\r\033[K%s", e.progressPrefix) // over the live figures
				}
				if rec != nil {
					rep.Runs = append(rep.Runs, *rec)
					fmt.Fprintln(stderr, rec.progressFigure())
				} else {
					fmt.Fprintln(stderr, "failed")
				}
				if rec != nil && rec.StopProblem != "" {
					// The figures stand; the failed stop is reported at the
					// end and makes the exit code non-zero.
					fmt.Fprintf(stderr, "  %s\n", rec.StopProblem)
					rep.Problems = append(rep.Problems, rec.StopProblem)
				}
				if err != nil {
					runErr = err
					break scenarios
				}
				if ctx.Err() != nil {
					runErr = ctx.Err()
					break scenarios
				}
			}
		}
	}
	rep.summarize(o.scenarios, targets)
	if o.profile != "" && runErr == nil {
		if err := rep.summarizeProfiles(o, targets); err != nil {
			runErr = err
		}
	}
	if runErr != nil {
		rep.Problems = append(rep.Problems, runErr.Error())
	}
	rep.printTable(table)
	if o.json {
		if err := rep.writeJSON(stdout); err != nil {
			return err
		}
	}
	if runErr == nil && len(rep.Problems) > 0 {
		runErr = fmt.Errorf("%s", strings.Join(rep.Problems, "; "))
	}
	return runErr
}

// runOne starts t, runs sc against it once and stops it.
// A stop that did not go cleanly is noted in the record's StopProblem, not
// returned: the figures stand.
func (e *env) runOne(ctx context.Context, t target, sc *scenario, round int) (*runRecord, error) {
	profDir := ""
	if e.opts.profile != "" && t.isNproxy() {
		profDir = filepath.Join(e.opts.profile, sc.name, t.name, fmt.Sprintf("round-%d", round))
		os.RemoveAll(profDir) // stale profiles would be merged in
	}
	srv, err := e.start(t, sc, profDir)
	if err != nil {
		return nil, err
	}
	rec := &runRecord{Scenario: sc.name, Target: t.name, Round: round, ProfileDir: profDir}
	var runErr error
	if sc.idle {
		runErr = e.runIdle(ctx, srv, sc, rec)
	} else {
		runErr = e.runLoad(ctx, srv, sc, rec)
	}
	if err := srv.stop(); err != nil {
		rec.StopProblem = err.Error()
	}
	return rec, runErr
}

func (e *env) runLoad(ctx context.Context, srv *server, sc *scenario, rec *runRecord) error {
	o := e.opts
	conns := sc.conns
	if o.connections > 0 {
		conns = o.connections
	}
	var progress atomic.Uint64
	if e.live {
		stop := e.liveProgress(&progress)
		defer stop()
	}
	var tlsLoad *TLSLoad
	if sc.tls {
		tlsLoad = &TLSLoad{ServerName: tlsServerName, Resume: sc.resume}
		if o.tlsCurves != "" {
			tlsLoad.Curves, _ = nptls.ParseCurves(o.tlsCurves) // checked by parseFlags
		}
	}
	cpu0 := treeCPU(srv.pid())
	res, err := Run(ctx, Load{
		Addr:         srv.addr,
		Request:      buildRequest(sc.path, srv.addr, sc.closeEach),
		Connections:  conns,
		Duration:     o.duration,
		Requests:     o.requests,
		Pipeline:     o.pipeline,
		Rate:         o.rate,
		CloseEach:    sc.closeEach,
		ExpectLength: sc.length,
		Timeout:      o.timeout,
		CPUs:         e.clientCPUs,
		Progress:     &progress,
		TLS:          tlsLoad,
	})
	serverCPU := treeCPU(srv.pid()) - cpu0
	if res != nil {
		rec.fill(res, conns)
		if res.Responses > 0 {
			rec.ServerCPUPerReq = float64(serverCPU.Microseconds()) / float64(res.Responses)
		}
	}
	if err != nil {
		return fmt.Errorf("bench: %s against %s: %w", sc.name, srv.t.name, err)
	}
	if res.Responses == 0 {
		return fmt.Errorf("%w: %s against %s: no answer in %v", ErrValidation, sc.name, srv.t.name, res.Elapsed.Round(time.Millisecond))
	}
	if res.Errors.Total() > 0 {
		return fmt.Errorf("%w: %s against %s: %d of %d requests failed (%s)%s",
			ErrValidation, sc.name, srv.t.name, res.Errors.Total(), res.Sent, res.Errors.String(), srv.tail())
	}
	return nil
}

// stableRSS polls the tree's RSS until two readings 100 ms apart agree, for
// at most two seconds: memory a server allocates for new connections lands
// a little after their last answer.
func stableRSS(pid int) int64 {
	prev := treeRSS(pid)
	for i := 0; i < 20; i++ {
		time.Sleep(100 * time.Millisecond) // a sampling interval, not a readiness wait
		cur := treeRSS(pid)
		if cur == prev {
			return cur
		}
		prev = cur
	}
	return prev
}

// liveProgress rewrites the progress line each second with the req/s of the
// last second, on a terminal only. The returned func stops it.
func (e *env) liveProgress(progress *atomic.Uint64) func() {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		var last uint64
		for s := 1; ; s++ {
			select {
			case <-done:
				return
			case <-t.C:
				cur := progress.Load()
				fmt.Fprintf(e.stderr, "\r\033[K%s%s req/s (%ds)", e.progressPrefix, thousands(float64(cur-last)), s)
				last = cur
			}
		}
	}()
	return func() { close(done); <-finished }
}

// isTerminal reports whether w is a terminal, where a line may be redrawn.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
