//go:build linux

package proc

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nproxy/nproxy/config"
	"github.com/nproxy/nproxy/logging"
	"github.com/nproxy/nproxy/metrics"
)

// Runtime settings of a worker process, applied unless the user's
// environment sets GOMAXPROCS itself. Measured on the 2-core development
// machine (both workers on CPU 0 as compare.sh pins them, wrk on CPU 1,
// 1 KiB file, 64 keep-alive connections, 3 alternated 5 s rounds):
//
//	GOMAXPROCS=1  26.7k 25.8k 33.3k req/s
//	GOMAXPROCS=2  22.7k 17.2k 11.9k req/s
//
// The reactor is one locked thread and the hot path allocates nothing per
// request, so a second P only lets the runtime's own threads (GC workers,
// sysmon handing the P back and forth around epoll_wait) compete with the
// next worker for its core.
//
// GOGC and GOMEMLIMIT keep the runtime's defaults (100, no limit): under
// that load a worker ran zero GC cycles in 5 s at 38k req/s with GOGC=100
// as with GOGC=400 (GODEBUG=gctrace=1), so a higher GOGC would buy
// nothing and only raise the heap peak of allocation bursts (reload,
// thousands of idle connections). A memory limit would need a number
// nproxy cannot know; set GOMEMLIMIT in the environment to have one.
const (
	workerMaxProcs = 1
	// ppidPoll is how often a worker checks that its master is alive, in
	// case the parent-death signal was lost (it is armed per thread).
	ppidPoll = 500 * time.Millisecond
)

// WorkerMain runs a worker process, started by a master with its role and
// spec in the environment; it returns the process's exit status.
func WorkerMain() int {
	spec, err := readSpec()
	if err != nil {
		fmt.Fprintf(os.Stderr, "nproxy: worker: %v\n", err)
		return 1
	}
	tuneRuntime()
	// The master execs /proc/self/exe, which would name every worker
	// "exe" in top and pidof.
	os.WriteFile("/proc/self/comm", []byte("nproxy"), 0)
	// The terminal's SIGHUP is the master's business; the master signals
	// its workers itself.
	signal.Ignore(syscall.SIGHUP)
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGUSR1)

	src := ConfigSource{File: spec.File}
	cfg, err := readConfig(src)
	if err != nil {
		fmt.Fprintf(os.Stderr, "nproxy: worker %d: %v\n", spec.Slot, err)
		return 1
	}
	cfg.Backend = spec.Backend
	lv, _ := logging.ParseLevel(cfg.LogLevel)
	log, err := logging.New(cfg.ErrorLog, lv)
	if err != nil {
		fmt.Fprintf(os.Stderr, "nproxy: worker %d: %v\n", spec.Slot, err)
		return 1
	}
	log.SetJSON(cfg.ErrorLogFormat == "json")
	stopProfile := startProfile(log)
	defer stopProfile()

	var ls []Listener
	for _, s := range spec.Listen {
		// Inherited descriptors lose close-on-exec in the child; set it
		// back, and make sure accept cannot block the loop.
		unix.CloseOnExec(s.FD)
		if err := unix.SetNonblock(s.FD, true); err != nil {
			log.Errorf("worker %d: listener %s (fd %d): %v", spec.Slot, s.Addr, s.FD, os.NewSyscallError("fcntl", err))
			return 1
		}
		ls = append(ls, Listener{Addr: s.Addr, Fd: s.FD})
	}
	ready := os.NewFile(readyFD, "ready")
	var table *metrics.Table
	if spec.MetricsFD > 0 {
		if table, err = metrics.Map(spec.MetricsFD); err != nil {
			log.Warnf("worker %d: %v: /metrics shows this worker only", spec.Slot, err)
		}
		unix.Close(spec.MetricsFD)
	}
	var tickets *TicketKeys
	if spec.TicketsFD > 0 {
		if tickets, err = OpenTicketKeys(spec.TicketsFD); err != nil {
			log.Warnf("worker %d: tls session tickets: %v: a session resumes on this worker only", spec.Slot, err)
		}
		unix.Close(spec.TicketsFD)
	}
	w, err := NewWorker(WorkerOptions{
		Config:     cfg,
		Listeners:  ls,
		Backend:    cfg.Backend,
		Log:        log,
		Metrics:    table,
		Slot:       spec.Slot,
		TicketKeys: tickets,
		Ready: func() {
			ready.Write([]byte{1})
			ready.Close()
		},
	})
	if err != nil {
		log.Errorf("worker %d: %v", spec.Slot, err)
		return 1
	}
	go func() {
		for sig := range sigs {
			switch sig {
			case syscall.SIGTERM:
				log.Debugf("worker %d: draining", spec.Slot)
				w.Drain(cfg.WorkerShutdownTimeout)
			case syscall.SIGINT:
				w.Stop()
			case syscall.SIGUSR1:
				if err := log.Reopen(); err != nil {
					log.Errorf("worker %d: reopen: %v", spec.Slot, err)
				}
			}
		}
	}()
	go watchMaster(spec.Master, w, log)
	if err := w.Run(); err != nil {
		log.Errorf("worker %d: %v", spec.Slot, err)
		return 1
	}
	return 0
}

// readSpec decodes the master's description of this worker.
func readSpec() (workerSpec, error) {
	var spec workerSpec
	js := os.Getenv(specEnv)
	if js == "" {
		return spec, fmt.Errorf("%w: %s is not set (is %s=worker set by hand?)", ErrWorkerSpec, specEnv, roleEnv)
	}
	if err := json.Unmarshal([]byte(js), &spec); err != nil {
		return spec, fmt.Errorf("%w: %s: %v", ErrWorkerSpec, specEnv, err)
	}
	return spec, nil
}

// readConfig parses the bytes the master validated, from the inherited
// memfd. pread, not read: every worker shares the descriptor's offset.
func readConfig(src ConfigSource) (*config.Config, error) {
	f := os.NewFile(configFD, "nproxy-config")
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%w: config descriptor: %v", ErrWorkerSpec, err)
	}
	data, err := io.ReadAll(io.NewSectionReader(f, 0, st.Size()))
	if err != nil {
		return nil, fmt.Errorf("%w: config descriptor: %v", ErrWorkerSpec, err)
	}
	return src.parseWorkerConfig(data)
}

// tuneRuntime applies workerMaxProcs unless the environment sets
// GOMAXPROCS (the runtime reads it, and GOGC and GOMEMLIMIT, itself).
func tuneRuntime() {
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(workerMaxProcs)
	}
}

// watchMaster stops the worker when its master is gone: the fallback for
// the parent-death signal.
func watchMaster(master int, w *Worker, log *logging.Logger) {
	for {
		if os.Getppid() != master {
			log.Errorf("master (pid %d) is gone: stopping", master)
			w.Stop()
			time.Sleep(time.Second)
			os.Exit(1)
		}
		time.Sleep(ppidPoll)
	}
}

// startProfile starts the CPU profile when ProfileEnv names a directory;
// the returned function stops it and writes the allocation profile.
func startProfile(log *logging.Logger) func() {
	dir := os.Getenv(ProfileEnv)
	if dir == "" {
		return func() {}
	}
	pid := strconv.Itoa(os.Getpid())
	cpu, err := os.Create(filepath.Join(dir, "cpu-"+pid+".pprof"))
	if err != nil {
		log.Errorf("profile: %v", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(cpu); err != nil {
		log.Errorf("profile: %v", err)
		cpu.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		cpu.Close()
		f, err := os.Create(filepath.Join(dir, "heap-"+pid+".pprof"))
		if err != nil {
			log.Errorf("profile: %v", err)
			return
		}
		defer f.Close()
		if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
			log.Errorf("profile: %v", err)
		}
	}
}
