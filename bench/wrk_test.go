//go:build linux

package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// TestVersusWrk measures the generator against wrk, side by side: the fixed
// 1 KiB responder pinned to one CPU, wrk (-t1) and then this generator (one
// loop) pinned to the other, 64 keep-alive connections, runs alternated. It
// is a measurement, not a check, so it runs only when asked:
//
//	NPROXY_BENCH_WRK=1 go test -run TestVersusWrk -v ./bench/
//
// NPROXY_BENCH_WRK_SECONDS (default 5) and NPROXY_BENCH_WRK_ROUNDS (3) set
// the shape. It logs req/s of both and the ratio.
func TestVersusWrk(t *testing.T) {
	if os.Getenv("NPROXY_BENCH_WRK") == "" {
		t.Skip("a measurement: set NPROXY_BENCH_WRK=1 to run it")
	}
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		t.Skip("wrk is not installed")
	}
	secs, rounds := 5, 3
	if v, err := strconv.Atoi(os.Getenv("NPROXY_BENCH_WRK_SECONDS")); err == nil {
		secs = v
	}
	if v, err := strconv.Atoi(os.Getenv("NPROXY_BENCH_WRK_ROUNDS")); err == nil {
		rounds = v
	}
	cpus := testCPUs(t)
	srv, err := startFixedServer("127.0.0.1:0", fixedReply(200, body(1024)), false, cpus[0])
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	reqRe := regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	var ratios, effs []float64
	for r := 1; r <= rounds; r++ {
		cmd := exec.Command("taskset", "-c", strconv.Itoa(cpus[1]), wrk, "-t1", "-c64",
			fmt.Sprintf("-d%ds", secs), "http://"+srv.Addr()+"/")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("wrk: %v\n%s", err, out)
		}
		m := reqRe.FindSubmatch(out)
		if m == nil {
			t.Fatalf("no Requests/sec in wrk output:\n%s", out)
		}
		wrkRate, _ := strconv.ParseFloat(string(m[1]), 64)
		res, err := Run(context.Background(), Load{
			Addr: srv.Addr(), Request: []byte("GET / HTTP/1.1\r\nHost: " + srv.Addr() + "\r\n\r\n"),
			Connections: 64, Duration: time.Duration(secs) * time.Second, ExpectLength: 1024,
			CPUs: cpus[1:2],
		})
		if err != nil {
			t.Fatal(err)
		}
		ours := res.RequestsPerSecond()
		ratios = append(ratios, ours/wrkRate)
		// Requests per CPU-second: what each client could generate on a
		// core of its own, whatever else the machine runs meanwhile.
		wrkCPU := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		wrkEff := wrkRate * float64(secs) / wrkCPU.Seconds()
		ourEff := float64(res.Responses) / res.CPU.Seconds()
		effs = append(effs, ourEff/wrkEff)
		t.Logf("round %d: wrk %.0f req/s (%.0f per CPU-s), bench %.0f req/s (%.0f per CPU-s, p99 %v, errors %s); bench/wrk = %.3f, per CPU-s %.3f",
			r, wrkRate, wrkEff, ours, ourEff, res.Latency.Percentile(0.99), res.Errors.String(), ours/wrkRate, ourEff/wrkEff)
	}
	t.Logf("bench/wrk median: req/s %.3f, req per CPU-second %.3f, over %d rounds", median(ratios), median(effs), rounds)
}
