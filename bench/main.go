//go:build linux

package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// options are Main's parsed flags.
type options struct {
	scenarios   []*scenario
	ab          []string // two backends, or nil
	against     []string // "nginx", "haproxy"
	duration    time.Duration
	requests    int64
	rounds      int
	connections int
	pipeline    int
	rate        float64
	workers     int
	json        bool
	profile     string
	top         int
	serverCPUs  []int
	clientCPUs  []int
	backend     string
	url         string
	nproxy      string
	timeout     time.Duration
	tlsKey      string // the certificate key of the TLS scenarios that do not fix theirs
	tlsCurves   string // the key exchange groups the load generator offers; "" the tls package's default
	serverCurve string // nproxy's tls_curves; "" leaves it out of the config
	args        []string
}

var backends = []string{"epoll", "io_uring", "auto"}

// Main runs `nproxy bench` with args (the words after "bench"), writing the
// results to stdout and progress and errors to stderr. It returns the
// process exit code: 0 when every run completed and every response was
// valid, 1 when a server failed to start, a response failed validation or
// profiles could not be read, 2 for bad flags.
func Main(args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "nproxy bench: %v\n", err)
		return 2
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	if o.url != "" {
		err = runURL(ctx, o, stdout, stderr)
	} else {
		err = runScenarios(ctx, o, stdout, stderr)
	}
	if err != nil {
		fmt.Fprintf(stderr, "nproxy bench: %v\n", err)
		return 1
	}
	return 0
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// seconds is a duration flag that also takes a bare number of seconds
// ("--duration 30", as wrk and nginx read it).
type seconds time.Duration

func (s *seconds) String() string { return time.Duration(*s).String() }

func (s *seconds) Set(v string) error {
	if n, err := strconv.ParseFloat(v, 64); err == nil {
		if n < 0 || n > float64(math.MaxInt64/int64(time.Second)) {
			return fmt.Errorf("%q: out of range", v)
		}
		*s = seconds(time.Duration(n * float64(time.Second)))
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return fmt.Errorf("%q: not a duration (30s, 1m, or seconds: 30)", v)
	}
	*s = seconds(d)
	return nil
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{args: args}
	fs := flag.NewFlagSet("nproxy bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	scenarioList := fs.String("scenario", "static-small,static-large,proxy,churn", "scenarios to run, comma-separated: static-small, static-large, proxy, idle, churn,\ntls-small, tls-handshake-ecdsa, tls-handshake-rsa, tls-resume, tls-large, tls-idle; tls: every tls-*")
	ab := fs.String("ab", "", "alternate two nproxy backends run after run, e.g. epoll,io_uring; ratio B/A")
	against := fs.String("against", "", "also run these references when installed: nginx, haproxy (proxy scenario only)")
	o.duration = 10 * time.Second
	fs.Var((*seconds)(&o.duration), "duration", "length of each run: 30s, 1m, or a bare number of seconds as wrk takes it")
	fs.Int64Var(&o.requests, "requests", 0, "send exactly this many requests per run instead of running for --duration")
	fs.IntVar(&o.rounds, "rounds", 3, "alternation rounds")
	fs.IntVar(&o.connections, "connections", 0, "connections (default: the scenario's; 64 with --url; idle: 8000)")
	fs.IntVar(&o.pipeline, "pipeline", 1, "requests in flight per connection")
	fs.Float64Var(&o.rate, "rate", 0, "open loop: total requests per second, latency from the scheduled send (default: closed loop)")
	fs.IntVar(&o.workers, "workers", 1, "nproxy worker processes (and the references' workers or threads)")
	fs.BoolVar(&o.json, "json", false, "print a machine-readable result on stdout (the table goes to stderr)")
	fs.StringVar(&o.profile, "profile", "", "collect CPU and allocation profiles of the nproxy workers into this directory and summarize them")
	fs.IntVar(&o.top, "top", 10, "functions listed per profile summary")
	serverCPUs := fs.String("server-cpus", "0", "CPUs the servers are pinned to (taskset list)")
	clientCPUs := fs.String("client-cpus", "1", "CPUs of the load generator, one event loop each (taskset list)")
	fs.StringVar(&o.backend, "backend", "", "nproxy backend for a single run: epoll, io_uring or auto (default: the config's)")
	fs.StringVar(&o.url, "url", "", "plain load generator: hit this http:// URL, start no server")
	fs.StringVar(&o.nproxy, "nproxy", "", "the nproxy binary to benchmark (default: this executable)")
	fs.DurationVar(&o.timeout, "timeout", 5*time.Second, "fail a connection that makes no progress for this long")
	fs.StringVar(&o.tlsCurves, "tls-curves", "", "key exchange groups the load generator offers, most preferred first, as tls_curves takes them: X25519, X25519MLKEM768:X25519:P-256 (default: nproxy's own default)")
	fs.StringVar(&o.serverCurve, "tls-server-curves", "", "nproxy's tls_curves in the TLS scenarios (default: none, the built-in X25519MLKEM768:X25519:P-256); nginx keeps its own")
	fs.StringVar(&o.tlsKey, "tls-key", keyECDSA, "certificate key of tls-small, tls-resume, tls-large and tls-idle: ecdsa (P-256) or rsa (2048 bits)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: nproxy bench [flags]\n\nRuns nproxy (and optionally nginx, HAProxy) under load and reports req/s,\nlatency percentiles and ratios. With --url it only generates load.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("%w: unexpected argument %q", ErrUsage, fs.Arg(0))
	}
	switch {
	case o.duration <= 0 && o.requests <= 0:
		return nil, fmt.Errorf("%w: --duration must be positive", ErrUsage)
	case o.rounds < 1:
		return nil, fmt.Errorf("%w: --rounds must be at least 1", ErrUsage)
	case o.connections < 0:
		return nil, fmt.Errorf("%w: --connections must not be negative", ErrUsage)
	case o.pipeline < 1:
		return nil, fmt.Errorf("%w: --pipeline must be at least 1", ErrUsage)
	case o.rate < 0:
		return nil, fmt.Errorf("%w: --rate must not be negative", ErrUsage)
	case o.workers < 1:
		return nil, fmt.Errorf("%w: --workers must be at least 1", ErrUsage)
	case o.timeout <= 0:
		return nil, fmt.Errorf("%w: --timeout must be positive", ErrUsage)
	case o.tlsKey != keyECDSA && o.tlsKey != keyRSA:
		return nil, fmt.Errorf("%w: --tls-key: unknown key %q (have %s, %s)", ErrUsage, o.tlsKey, keyECDSA, keyRSA)
	case o.tlsCurves != "" && !validCurves(o.tlsCurves):
		return nil, fmt.Errorf("%w: --tls-curves: %v", ErrUsage, curvesError(o.tlsCurves))
	case o.serverCurve != "" && !validCurves(o.serverCurve):
		return nil, fmt.Errorf("%w: --tls-server-curves: %v", ErrUsage, curvesError(o.serverCurve))
	}
	var err error
	if o.clientCPUs, err = parseCPUList(*clientCPUs); err != nil {
		return nil, fmt.Errorf("--client-cpus: %w", err)
	}
	if o.url != "" {
		return o, nil
	}
	if o.serverCPUs, err = parseCPUList(*serverCPUs); err != nil {
		return nil, fmt.Errorf("--server-cpus: %w", err)
	}
	for _, name := range splitList(*scenarioList) {
		scs := []*scenario{findScenario(name)}
		if name == tlsGroup {
			scs = scs[:0]
			for _, sc := range allScenarios {
				if sc.tls {
					scs = append(scs, sc)
				}
			}
		}
		if scs[0] == nil {
			return nil, fmt.Errorf("%w: unknown scenario %q (have %s)", ErrUsage, name, scenarioNames())
		}
		for _, sc := range scs {
			if !slices.Contains(o.scenarios, sc) {
				o.scenarios = append(o.scenarios, sc)
			}
		}
	}
	if len(o.scenarios) == 0 {
		return nil, fmt.Errorf("%w: --scenario is empty", ErrUsage)
	}
	if *ab != "" {
		o.ab = splitList(*ab)
		if len(o.ab) != 2 || o.ab[0] == o.ab[1] {
			return nil, fmt.Errorf("%w: --ab wants two different backends, e.g. epoll,io_uring", ErrUsage)
		}
		for _, b := range o.ab {
			if !slices.Contains(backends, b) {
				return nil, fmt.Errorf("%w: --ab: unknown backend %q (have %s)", ErrUsage, b, strings.Join(backends, ", "))
			}
		}
		if o.backend != "" {
			return nil, fmt.Errorf("%w: --backend picks one backend, --ab two: use one of them", ErrUsage)
		}
	}
	if o.backend != "" && !slices.Contains(backends, o.backend) {
		return nil, fmt.Errorf("%w: --backend: unknown backend %q (have %s)", ErrUsage, o.backend, strings.Join(backends, ", "))
	}
	for _, r := range splitList(*against) {
		if r != "nginx" && r != "haproxy" {
			return nil, fmt.Errorf("%w: --against: unknown reference %q (have nginx, haproxy)", ErrUsage, r)
		}
		if !slices.Contains(o.against, r) {
			o.against = append(o.against, r)
		}
	}
	if o.nproxy == "" {
		if o.nproxy, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("bench: cannot find the nproxy binary: %w (give --nproxy)", err)
		}
	}
	return o, nil
}

// targets returns the servers to alternate, in order, and the references
// that are not installed.
func (o *options) targets() (ts []target, skipped []string) {
	switch {
	case o.ab != nil:
		for _, b := range o.ab {
			ts = append(ts, target{name: "nproxy-" + b, kind: "nproxy", backend: b, bin: o.nproxy})
		}
	case o.backend != "":
		ts = append(ts, target{name: "nproxy-" + o.backend, kind: "nproxy", backend: o.backend, bin: o.nproxy})
	default:
		ts = append(ts, target{name: "nproxy", kind: "nproxy", bin: o.nproxy})
	}
	for _, r := range o.against {
		bin, err := exec.LookPath(r)
		if err != nil {
			skipped = append(skipped, r)
			continue
		}
		ts = append(ts, target{name: r, kind: r, bin: bin})
	}
	return ts, skipped
}

// urlTarget is what --url names: where to connect, what to ask for.
type urlTarget struct {
	addr string // host:port to connect to
	path string // the request-target
	host string // the Host header
	tls  bool   // https://: TLS, with the host name as SNI
	name string // the host name without the port, for SNI
}

// parseURL reads an http:// or https:// URL.
func parseURL(raw string) (*urlTarget, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: --url: %v", ErrUsage, err)
	}
	port := "80"
	switch u.Scheme {
	case "http":
	case "https":
		port = "443"
	default:
		return nil, fmt.Errorf("%w: --url: only http:// and https:// are supported, not %q", ErrUsage, u.Scheme)
	}
	t := &urlTarget{addr: u.Host, path: u.RequestURI(), host: u.Host, tls: u.Scheme == "https", name: u.Hostname()}
	if u.Port() == "" {
		t.addr = net.JoinHostPort(u.Hostname(), port)
	}
	return t, nil
}

// buildRequest precomputes the request bytes a run sends.
func buildRequest(path, host string, closeEach bool) []byte {
	r := "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\n"
	if closeEach {
		r += "Connection: close\r\n"
	}
	return []byte(r + "\r\n")
}
