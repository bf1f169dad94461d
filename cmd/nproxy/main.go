//go:build linux

// Command nproxy is an nginx-class HTTP/1.1 reverse proxy and static file
// server. See the README for the command line.
package main

import (
	"flag"
	"fmt"
	"github.com/nproxy/nproxy/metrics"
	nptls "github.com/nproxy/nproxy/tls"
	"io"
	"os"
	"runtime"

	"github.com/nproxy/nproxy/bench"
	"github.com/nproxy/nproxy/proc"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

func main() {
	metrics.Version = version
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "bench" {
		return bench.Main(args[1:], stdout, stderr)
	}
	if proc.IsWorker() {
		return proc.WorkerMain()
	}
	fs := flag.NewFlagSet("nproxy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		confFile = fs.String("c", "", "configuration `file` (default: the embedded configuration)")
		test     = fs.Bool("t", false, "test the configuration and exit")
		dump     = fs.Bool("T", false, "test the configuration, print the effective configuration (every default written out) and exit")
		signal   = fs.String("s", "", "send `signal` to the master: stop, quit, reload, reopen")
		backend  = fs.String("backend", "", "event backend: epoll, io_uring or auto (overrides the config)")
		workers  = fs.Int("workers", 0, "worker processes (overrides worker_processes)")
		listen   = fs.String("listen", "", "address(es) the embedded configuration listens on: `host[:port]`, comma-separated (default 127.0.0.1:8080)")
		port     = fs.Int("port", 0, "port the embedded configuration listens on (default 8080)")
		showV    bool
		help     bool
	)
	fs.BoolVar(&showV, "V", false, "print version and kernel support, then exit")
	fs.BoolVar(&showV, "version", false, "same as -V")
	fs.BoolVar(&help, "h", false, "print this help on stdout, then exit")
	fs.BoolVar(&help, "help", false, "same as -h")
	fs.Usage = func() { usage(fs, stderr) }
	paths, err := parseInterleaved(fs, args)
	if err != nil {
		return 2
	}
	if help {
		usage(fs, stdout)
		return 0
	}
	if len(paths) > 1 {
		fmt.Fprintf(stderr, "nproxy: unexpected argument %q (one PATH to serve at most)\n", paths[1])
		return 2
	}
	defaults, ok := defaultOptions(paths, *listen, *port, *confFile, stderr)
	if !ok {
		return 2
	}
	if showV {
		fmt.Fprintf(stdout, "nproxy %s (%s %s/%s)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		fmt.Fprint(stdout, proc.KernelSupport())
		_, why := nptls.KTLSAvailable()
		fmt.Fprintf(stdout, "tls: crypto/tls; %s\n", why)
		return 0
	}
	if *backend != "" {
		switch *backend {
		case "auto", "epoll", "io_uring":
		default:
			fmt.Fprintf(stderr, "nproxy: --backend %q: want epoll, io_uring or auto\n", *backend)
			return 2
		}
	}
	if *workers < 0 || *workers > 64 {
		fmt.Fprintf(stderr, "nproxy: --workers %d: want 1..64\n", *workers)
		return 2
	}

	src := proc.ConfigSource{File: *confFile, Backend: *backend, Workers: *workers, Default: defaults}
	cfg, data, err := src.Load()
	if err == nil && *signal == "" && !*dump {
		// What the workers will resolve, checked before one starts: a
		// name that does not resolve is a FILE:LINE problem too.
		err = cfg.CheckUpstreamHosts()
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		if *test || *dump {
			fmt.Fprintf(stderr, "nproxy: configuration %s test failed\n", src.Name())
		}
		return 1
	}
	if *dump {
		for _, w := range cfg.Warnings {
			fmt.Fprintln(stderr, w)
		}
		text, err := cfg.Effective()
		if err != nil {
			fmt.Fprintf(stderr, "nproxy: %v\n", err)
			return 1
		}
		stdout.Write(text)
		return 0
	}
	if *test {
		// Warnings (a certificate near its expiry) do not fail the test:
		// they go to stderr, one "FILE:LINE: warning: ..." line each.
		for _, w := range cfg.Warnings {
			fmt.Fprintln(stderr, w)
		}
		fmt.Fprintln(stdout, "configuration ok")
		return 0
	}
	if *signal != "" {
		if err := proc.SignalMaster(cfg, *signal); err != nil {
			fmt.Fprintf(stderr, "nproxy: %v\n", err)
			return 1
		}
		return 0
	}
	if err := proc.RunMaster(proc.MasterOptions{Source: src, Config: cfg, ConfigData: data}); err != nil {
		fmt.Fprintf(stderr, "nproxy: %v\n", err)
		return 1
	}
	return 0
}
