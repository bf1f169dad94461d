//go:build linux

package bench

import (
	"context"
	"fmt"
	"io"
	"sync/atomic"
	"time"
)

// runURL is the plain load-generator mode (--url): no server is started,
// the output reads like wrk's.
func runURL(ctx context.Context, o *options, stdout, stderr io.Writer) error {
	u, err := parseURL(o.url)
	if err != nil {
		return err
	}
	conns := o.connections
	if conns == 0 {
		conns = 64
	}
	var progress atomic.Uint64
	load := Load{
		Addr: u.addr, Request: buildRequest(u.path, u.host, false), Connections: conns,
		Duration: o.duration, Requests: o.requests, Pipeline: o.pipeline, Rate: o.rate,
		ExpectLength: -1, Timeout: o.timeout, CPUs: o.clientCPUs, Progress: &progress,
	}
	if u.tls {
		// As wrk: no certificate verification, no session resumption.
		load.TLS = &TLSLoad{ServerName: u.name}
	}
	what := o.duration.String()
	if o.requests > 0 {
		what = fmt.Sprintf("%d requests", o.requests)
	}
	mode := "closed loop"
	if o.rate > 0 {
		mode = fmt.Sprintf("open loop at %s req/s", thousands(o.rate))
	}
	fmt.Fprintf(stderr, "Running %s test @ %s\n  %d loop(s) on CPUs %v, %d connections, pipeline %d, %s\n",
		what, o.url, len(o.clientCPUs), o.clientCPUs, conns, o.pipeline, mode)

	done := make(chan struct{})
	go func() { // a progress line each second on long runs
		t := time.NewTicker(time.Second)
		defer t.Stop()
		var last uint64
		for i := 1; ; i++ {
			select {
			case <-done:
				return
			case <-t.C:
				cur := progress.Load()
				fmt.Fprintf(stderr, "  [%ds] %s req/s\n", i, thousands(float64(cur-last)))
				last = cur
			}
		}
	}()
	res, err := Run(ctx, load)
	close(done)
	if err != nil && res == nil {
		return err
	}
	rec := runRecord{Scenario: "url", Target: o.url, Round: 1}
	rec.fill(res, conns)
	if o.json {
		rep := newReport(o)
		rep.Runs = []runRecord{rec}
		if werr := rep.writeJSON(stdout); werr != nil {
			return werr
		}
	} else {
		l := rec.Latency
		fmt.Fprintf(stdout, "  Latency   p50 %.3fms  p90 %.3fms  p99 %.3fms  p99.9 %.3fms  max %.3fms  mean %.3fms\n",
			l.P50, l.P90, l.P99, l.P999, l.Max, l.Mean)
		fmt.Fprintf(stdout, "  %d requests in %.2fs, %.1f MB read, %d connections made\n",
			res.Responses, res.Elapsed.Seconds(), float64(res.Bytes)/1e6, res.Connects)
		if res.TLSParams != "" {
			fmt.Fprintf(stdout, "  %s; %d full and %d resumed handshakes\n", res.TLSParams, res.FullHandshakes, res.ResumedHandshakes)
		}
		fmt.Fprintf(stdout, "Requests/sec: %.2f\nTransfer/sec: %.2f MB\n", rec.ReqPerSec, rec.BytesPerSec/1e6)
		if res.Errors.Status > 0 {
			fmt.Fprintf(stdout, "Non-2xx responses: %d\n", res.Errors.Status)
		}
		if res.Errors.Total() > 0 {
			fmt.Fprintf(stdout, "Errors: %s\n", res.Errors.String())
		}
	}
	if err != nil {
		return err
	}
	if res.Errors.Total() > 0 {
		return fmt.Errorf("%w: %d of %d requests failed (%s)", ErrValidation, res.Errors.Total(), res.Sent, res.Errors.String())
	}
	return nil
}
