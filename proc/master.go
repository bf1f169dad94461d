//go:build linux

package proc

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/nproxy/nproxy/config"
	"github.com/nproxy/nproxy/logging"
	"github.com/nproxy/nproxy/metrics"
	"github.com/nproxy/nproxy/reactor"
)

// MasterOptions configure the master process.
type MasterOptions struct {
	// Source is where the configuration comes from; reload reads it again.
	Source ConfigSource
	// Config and ConfigData are Source.Load's result: the configuration
	// the master starts with and the bytes it was validated from. When
	// ConfigData is nil, RunMaster loads Source itself.
	Config     *config.Config
	ConfigData []byte
}

// Timing of the master.
const (
	// readyTimeout bounds how long a new worker may take to accept; a
	// worker that takes longer fails the start or the reload. Starting
	// is milliseconds of work without modules, but each worker compiles
	// its WebAssembly modules, which takes seconds for a large one on a
	// busy machine: this only catches a wedged worker.
	readyTimeout = 30 * time.Second

	// killGrace is how long the master waits past a worker's own
	// deadline (worker_shutdown_timeout for SIGTERM, at once for SIGINT)
	// before it sends SIGKILL.
	killGrace = 3 * time.Second

	// Respawn backoff: a worker that dies is restarted after backoffMin,
	// doubling for each further death of the same slot up to backoffMax,
	// so a worker that crashes at start costs a few spawns a second, not
	// a CPU. A worker that lived backoffReset resets its slot's backoff.
	backoffMin   = 100 * time.Millisecond
	backoffMax   = 5 * time.Second
	backoffReset = 10 * time.Second
)

// IsWorker reports whether this process was started by a master as one of
// its workers.
func IsWorker() bool { return os.Getenv(roleEnv) == "worker" }

// generation is the set of workers running one validated configuration,
// with the descriptors they inherit. A reload starts a new generation next
// to the current one and retires the old one once the new one accepts.
type generation struct {
	id      int
	cfg     *config.Config
	backend string // resolved: "epoll" or "io_uring"
	// cred is who the workers run as (user.go); nil: as the master.
	cred    *syscall.Credential
	cfgFile *os.File // sealed memfd with the validated bytes
	addrs   []string
	// socks[addr] is the master's pool of sockets for addr when the
	// generation was made (listeners.go): socks[addr][i] is slot i's,
	// and those past the slots are extras, each served by one worker.
	socks map[string][]*os.File
	// opened counts the sockets this generation added to the pool, by
	// address: closed again if it never runs.
	opened map[string]int
	slots  []slot
}

// slot is one of a generation's N worker positions.
type slot struct {
	w       *worker       // the running process; nil while a respawn waits
	backoff time.Duration // delay before the next respawn; 0 = backoffMin
}

// worker is one worker process.
type worker struct {
	gen     *generation
	slot    int
	pid     int
	started time.Time
	ready   bool
	retired bool // told to stop: its exit is expected
	exited  bool
}

type eventKind int

const (
	evReady   eventKind = iota // the worker wrote its readiness byte
	evExit                     // the worker exited (reaped)
	evRespawn                  // a slot's backoff elapsed
)

// event is news from a worker's goroutines or timers, handled by the
// master loop, the only goroutine that touches master state.
type event struct {
	kind eventKind
	w    *worker
	ps   *os.ProcessState
	gen  *generation // evRespawn
	slot int         // evRespawn
}

// master is the supervisor. Its fields are owned by the loop goroutine
// (RunMaster's); other goroutines only send events.
type master struct {
	src    ConfigSource // what a reload reads again
	exe    string
	log    *logging.Logger
	pid    *pidFile
	spawn  *spawner
	cpus   []int
	events chan event
	quit   chan struct{} // closed when the loop returns

	cur, pending *generation
	pool         socketPool // every listening socket, by address (listeners.go)
	genSeq       int
	live         map[*worker]bool
	readyC       <-chan time.Time // pending generation's deadline
	killC        <-chan time.Time // shutdown deadline
	stopping     bool
	immediate    bool
	reloadAgain  bool
	steerFailed  bool  // steerReuseport failed once: warned, not retried
	err          error // returned by RunMaster
	// metrics is the shared table every worker counts into (one slot per
	// worker slot), so that /metrics on any worker sums them all; it
	// outlives workers, respawns and reloads.
	metrics *os.File
	table   *metrics.Table // metrics mapped, for the master's counts and the catalog (metrics.go)
	// tickets is the TLS session ticket key region every worker maps
	// (tickets.go); like metrics it outlives reloads, so sessions resume
	// across them. rotateC fires every ticketKeyRotation.
	tickets *ticketKeyWriter
	rotateC <-chan time.Time
	// notify is the service manager's socket (notify.go); nil without
	// NOTIFY_SOCKET.
	notify *notifier
	// status is what the reload status file says (verdict.go).
	status reloadStatus
}

// RunMaster runs the master in the foreground: it opens the listening
// sockets, starts the workers, supervises them and handles the signals
// (SIGHUP reload, SIGTERM graceful stop, SIGINT immediate stop, SIGUSR1
// reopen logs) until the last worker exits. It does no request handling.
func RunMaster(o MasterOptions) (err error) {
	// Signals are caught first, before the pid file exists and before any
	// worker does: `nproxy -s` signals the pid it reads from that file, and
	// Go's default action for an uncaught SIGHUP, SIGTERM, SIGINT or
	// SIGUSR1 ends the process. Caught this early, a signal waits in sigs
	// until the loop runs (a reload asked for during the start follows
	// it; a Ctrl-C is a clean stop). Finding 14 of issue 9.
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, caughtSignals...)
	defer signal.Stop(sigs)

	cfg, data := o.Config, o.ConfigData
	if data == nil || cfg == nil {
		if cfg, data, err = o.Source.Load(); err != nil {
			return err
		}
	}
	lv, err := logging.ParseLevel(cfg.LogLevel)
	if err != nil {
		return err
	}
	log, err := logging.New(cfg.ErrorLog, lv)
	if err != nil {
		return err
	}
	log.SetJSON(cfg.ErrorLogFormat == "json")
	logWarnings(log, cfg)
	m := &master{
		src:    o.Source,
		log:    log,
		cpus:   workerCPUs(),
		events: make(chan event, 64),
		quit:   make(chan struct{}),
		live:   map[*worker]bool{},
		pool:   newSocketPool(),
	}
	defer func() { m.log.Close() }() // the error log of the last configuration
	if m.notify, err = newNotifier(); err != nil {
		return err
	}
	defer m.notify.close()
	// A start that fails before the loop runs (a socket passed in, the
	// pid file, the backend, a bind with its FILE:LINE) tells the service
	// manager why, as abortPending does for workers that fail to start:
	// `systemctl status` then shows the reason rather than a bare exit.
	looping := false
	defer func() {
		if err != nil && !looping {
			m.notifyf(statusLine("failed to start: " + err.Error()))
		}
	}()
	activated, err := activatedSockets()
	if err != nil {
		return err
	}
	m.adoptSockets(activated, listenAddrs(cfg))
	// /proc/self/exe, not os.Executable's path: the workers run the very
	// binary the master runs even when the file was replaced on disk.
	m.exe = "/proc/self/exe"
	if f, err := metrics.Create(); err == nil {
		m.metrics = f
		defer f.Close()
		m.mapMetrics(f)
	} else {
		log.Warnf("metrics: %v: /metrics shows one worker at a time", err)
	}
	if w, err := newTicketKeyWriter(); err == nil {
		m.tickets = w
		defer w.close()
		rotate := time.NewTicker(ticketKeyRotation)
		defer rotate.Stop()
		m.rotateC = rotate.C
	} else {
		log.Warnf("tls session tickets: %v: each worker has its own keys, a session resumes on its own worker only", err)
	}
	if cfg.PIDFile != "" {
		if m.pid, err = createPIDFile(cfg.PIDFile); err != nil {
			return err
		}
	} else if path := implicitPIDFile(cfg); path != "" {
		// Best effort, but for a second master on the same addresses.
		if m.pid, err = createPIDFile(path); errors.Is(err, ErrRunning) {
			return err
		} else if err != nil {
			log.Warnf("%v: nproxy -s cannot find this master", err)
		}
	}
	m.status.ok = true
	m.writeReloadStatus()
	defer func() { m.pid.remove() }()
	backend, err := resolveBackend(cfg.Backend, log)
	if err != nil {
		return err
	}
	m.spawn = newSpawner()
	g, err := m.newGeneration(cfg, data, backend)
	if err != nil {
		return err
	}
	m.startGeneration(g)
	looping = true
	return m.loop(sigs)
}

// caughtSignals are the signals the master handles (see master.signal);
// every one of them is caught before the pid file is written.
var caughtSignals = []os.Signal{syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT, syscall.SIGUSR1}

// resolveBackend picks the backend once, in the master, and logs the choice
// once (as CONTRACT.md words it); workers are told the result, so they
// all run the same one.
func resolveBackend(name string, log *logging.Logger) (string, error) {
	b, note, err := reactor.New(name)
	if err != nil {
		return "", err
	}
	log.Infof("%s", note)
	return b.Name(), nil
}

func (m *master) loop(sigs <-chan os.Signal) error {
	defer close(m.quit)
	for !(m.stopping && len(m.live) == 0) {
		select {
		case sig := <-sigs:
			m.signal(sig.(syscall.Signal))
		case e := <-m.events:
			m.takeSignals(sigs) // first: see takeSignals
			m.event(e)
		case <-m.rotateC:
			m.tickets.rotate()
			m.log.Debugf("tls session ticket keys rotated")
		case <-m.readyC:
			m.abortPending(fmt.Sprintf("workers not ready after %v", readyTimeout))
		case <-m.killC:
			m.killC = nil
			for w := range m.live {
				m.log.Warnf("worker %d (pid %d) did not stop in time: killing it", w.slot, w.pid)
				syscall.Kill(w.pid, syscall.SIGKILL)
			}
		}
	}
	m.closeListeners()
	if m.err == nil {
		m.log.Infof("master exiting")
	}
	return m.err
}

// signal handles one signal: the one place the master reacts to them.
func (m *master) signal(sig syscall.Signal) {
	switch sig {
	case syscall.SIGHUP:
		if m.stopping {
			return
		}
		m.log.Infof("SIGHUP: reloading %s", m.src.Name())
		m.reload()
	case syscall.SIGTERM:
		m.log.Infof("SIGTERM: graceful shutdown (drain up to %v)", m.shutdownTimeout())
		m.shutdown(false)
	case syscall.SIGINT:
		m.log.Infof("SIGINT: stopping now")
		m.shutdown(true)
	case syscall.SIGUSR1:
		m.log.Infof("SIGUSR1: reopening log files")
		if err := m.log.Reopen(); err != nil {
			m.log.Errorf("reopen: %v", err)
		}
		for _, g := range []*generation{m.cur, m.pending} {
			if g != nil {
				if err := handOverLogs(g.cfg); err != nil {
					m.log.Errorf("reopen: %v", err)
				}
			}
		}
		for w := range m.live {
			syscall.Kill(w.pid, syscall.SIGUSR1)
		}
	}
}

func (m *master) event(e event) {
	switch e.kind {
	case evReady:
		if e.w.exited {
			return
		}
		e.w.ready = true
		m.log.Debugf("worker %d (pid %d) ready", e.w.slot, e.w.pid)
		if g := m.pending; g != nil && e.w.gen == g && g.allReady() {
			m.promote()
		}
	case evExit:
		m.exited(e.w, e.ps)
	case evRespawn:
		s := &e.gen.slots[e.slot]
		if m.stopping || e.gen != m.cur || s.w != nil {
			return
		}
		// A log moved away since the generation started (logrotate
		// before its SIGUSR1) would be missing for the new worker, which
		// cannot create it in a root-owned directory: hand the logs over
		// again, as newGeneration did for the first workers.
		if err := handOverLogs(e.gen.cfg); err != nil {
			m.log.Errorf("worker %d: respawn: %v", e.slot, err)
		}
		if err := m.startWorker(e.gen, e.slot); err != nil {
			m.log.Errorf("worker %d: respawn: %v", e.slot, err)
			m.scheduleRespawn(e.gen, e.slot)
		}
	}
}

// exited handles a reaped worker.
func (m *master) exited(w *worker, ps *os.ProcessState) {
	w.exited = true
	delete(m.live, w)
	s := &w.gen.slots[w.slot]
	if s.w == w {
		s.w = nil
	}
	status := exitText(ps)
	switch {
	case w.retired || m.stopping:
		m.log.Infof("worker %d (pid %d) exited: %s", w.slot, w.pid, status)
	case w.gen == m.pending:
		m.log.Errorf("worker %d (pid %d) of the new configuration exited: %s", w.slot, w.pid, status)
		m.abortPending("a new worker exited")
	case stoppedOnSignal(ps):
		m.log.Infof("worker %d (pid %d) exited: %s (signalled directly; replaced unless nproxy stops)", w.slot, w.pid, status)
		m.countRestart(metrics.RestartStopped)
		m.scheduleRespawn(w.gen, w.slot)
	default:
		if time.Since(w.started) >= backoffReset {
			s.backoff = 0
		}
		m.log.Errorf("worker %d (pid %d) exited unexpectedly: %s; respawning in %v", w.slot, w.pid, status, s.delay())
		cause := metrics.RestartExit
		if ps != nil && ps.Sys().(syscall.WaitStatus).Signaled() {
			cause = metrics.RestartSignal
		}
		m.countRestart(cause)
		m.scheduleRespawn(w.gen, w.slot)
	}
}

func (s *slot) delay() time.Duration {
	if s.backoff == 0 {
		return backoffMin
	}
	return s.backoff
}

// scheduleRespawn restarts slot of g after its backoff and doubles it.
func (m *master) scheduleRespawn(g *generation, slotIdx int) {
	s := &g.slots[slotIdx]
	d := s.delay()
	s.backoff = min(2*d, backoffMax)
	time.AfterFunc(d, func() { m.send(event{kind: evRespawn, gen: g, slot: slotIdx}) })
}

// send delivers e to the loop, or drops it once the loop has returned.
func (m *master) send(e event) {
	select {
	case m.events <- e:
	case <-m.quit:
	}
}

// reload re-reads the configuration and, when it is valid, starts a new
// generation; the old one keeps serving until every new worker accepts.
func (m *master) reload() {
	if m.pending != nil {
		m.reloadAgain = true
		m.log.Infof("reload: a reload is in progress; another follows it")
		return
	}
	m.reloadStarted()
	cfg, data, err := m.src.Load()
	if err == nil {
		err = cfg.CheckUpstreamHosts()
	}
	if err != nil {
		var probs config.Errors
		var lines []string
		if errors.As(err, &probs) {
			for _, p := range probs {
				lines = append(lines, p.Error())
			}
		} else {
			lines = append(lines, err.Error())
		}
		for _, line := range lines {
			m.log.Errorf("%s", line)
		}
		m.reloadFailed("invalid configuration", lines...)
		m.countReload(false)
		return
	}
	logWarnings(m.log, cfg)
	backend := m.cur.backend
	if cfg.Backend != m.cur.cfg.Backend {
		if backend, err = resolveBackend(cfg.Backend, m.log); err != nil {
			m.reloadFailed(err.Error())
			m.countReload(false)
			return
		}
	}
	g, err := m.newGeneration(cfg, data, backend)
	if err != nil {
		m.reloadFailed(err.Error())
		m.countReload(false)
		return
	}
	m.startGeneration(g)
}

// startGeneration spawns every worker of g and makes it the pending
// generation, promoted once all of them are ready.
func (m *master) startGeneration(g *generation) {
	m.pending = g
	m.readyC = time.After(readyTimeout)
	for i := range g.slots {
		if err := m.startWorker(g, i); err != nil {
			m.log.Errorf("worker %d: %v", i, err)
			m.abortPending("cannot start a worker")
			return
		}
	}
}

// promote makes the pending generation current and retires the old one:
// its workers stop accepting and drain (SIGTERM), and the master closes
// its copies of the sockets of addresses the new generation does not
// serve.
func (m *master) promote() {
	old, g := m.cur, m.pending
	m.cur, m.pending, m.readyC = g, nil, nil
	m.countReload(true)
	m.steer(g)
	if old == nil {
		m.log.Infof("nproxy started: %d workers, listening on %s", len(g.slots), strings.Join(g.addrs, ", "))
		fmt.Fprint(os.Stderr, banner(g.cfg, g.backend, len(g.slots)))
		m.notifyf("READY=1", statusLine(m.servingStatus(g)))
	} else {
		for w := range m.live {
			if w.gen == old {
				m.retire(w, syscall.SIGTERM)
			}
		}
		old.closeConfig()
		m.pool.closeExcept(g.addrs)
		m.applyGlobals(old.cfg, g.cfg)
		m.log.Infof("reloaded: %d workers, listening on %s", len(g.slots), strings.Join(g.addrs, ", "))
		m.reloadSucceeded(g)
	}
	if m.reloadAgain {
		m.reloadAgain = false
		m.reload()
	}
}

// abortPending stops the pending generation; the current one keeps
// serving. Without a current one (the first start) the master gives up.
func (m *master) abortPending(why string) {
	g := m.pending
	if g == nil {
		return
	}
	m.pending, m.readyC = nil, nil
	for w := range m.live {
		if w.gen == g {
			m.retire(w, syscall.SIGKILL)
		}
	}
	g.closeConfig()
	for addr, n := range g.opened {
		m.pool.shrink(addr, n)
	}
	if m.cur == nil {
		m.err = fmt.Errorf("%w: %s", ErrWorkerStart, why)
		m.log.Errorf("%v", m.err)
		m.notifyf(statusLine("failed to start: " + m.err.Error()))
		m.shutdown(true)
		return
	}
	m.reloadFailed(why)
	m.countReload(false)
	if m.reloadAgain {
		m.reloadAgain = false
		m.reload()
	}
}

// applyGlobals follows a reload's changes of error_log, log_level and
// pid_file. The old error log file is closed: only the master loop logs
// through m.log.
func (m *master) applyGlobals(old, cfg *config.Config) {
	if cfg.ErrorLog != old.ErrorLog || cfg.LogLevel != old.LogLevel || cfg.ErrorLogFormat != old.ErrorLogFormat {
		lv, _ := logging.ParseLevel(cfg.LogLevel)
		if l, err := logging.New(cfg.ErrorLog, lv); err != nil {
			m.log.Errorf("reload: error_log: %v", err)
		} else {
			l.SetJSON(cfg.ErrorLogFormat == "json")
			prev := m.log
			m.log = l
			if err := prev.Close(); err != nil {
				m.log.Errorf("reload: closing the previous error_log: %v", err)
			}
		}
	}
	if cfg.PIDFile != old.PIDFile {
		var p *pidFile
		if cfg.PIDFile != "" {
			var err error
			if p, err = createPIDFile(cfg.PIDFile); err != nil {
				m.log.Errorf("reload: %v", err)
				return
			}
		}
		m.pid.remove()
		m.pid = p
	}
}

func (m *master) retire(w *worker, sig syscall.Signal) {
	w.retired = true
	syscall.Kill(w.pid, sig)
}

// shutdown stops every worker: gracefully (SIGTERM: drain) or at once
// (SIGINT). A SIGINT during a graceful shutdown hurries it.
//
// The master's copies of the listening sockets close first: each socket
// then closes with its worker's copy, which the worker closes once it has
// taken what is queued on it (server.Drain), so a connection that arrives
// later is refused instead of being queued and then reset.
func (m *master) shutdown(immediate bool) {
	if m.stopping && (m.immediate || !immediate) {
		return
	}
	m.stopping, m.immediate = true, immediate
	m.readyC = nil
	how := "draining"
	if immediate {
		how = "stopping now"
	}
	m.notifyf("STOPPING=1", statusLine(how))
	m.closeListeners()
	sig, wait := syscall.SIGTERM, m.shutdownTimeout()+killGrace
	if immediate {
		sig, wait = syscall.SIGINT, killGrace
	}
	for w := range m.live {
		m.retire(w, sig)
	}
	m.killC = time.After(wait)
}

// newGeneration prepares the descriptors of a generation running cfg:
// the config memfd and, from the pool, at least one socket per (address,
// slot), opening those the pool lacks.
func (m *master) newGeneration(cfg *config.Config, data []byte, backend string) (*generation, error) {
	m.genSeq++
	m.registerMetrics(cfg)
	g := &generation{id: m.genSeq, cfg: cfg, backend: backend, socks: map[string][]*os.File{}, opened: map[string]int{},
		cred: workerCredential(cfg)}
	if err := handOverLogs(cfg); err != nil {
		return nil, err
	}
	var err error
	memfd, err := encodeWorkerConfig(data, cfg)
	if err != nil {
		return nil, err
	}
	if g.cfgFile, err = configMemfd(memfd); err != nil {
		return nil, err
	}
	n := cfg.WorkerProcesses
	g.slots = make([]slot, n)
	for _, sc := range cfg.Servers {
		for _, addr := range sc.Listen {
			if _, ok := g.socks[addr]; ok {
				continue
			}
			g.addrs = append(g.addrs, addr)
			socks, opened, err := m.pool.grow(addr, n)
			if err != nil {
				err = listenError(cfg, addr, err)
				g.closeConfig()
				for addr, n := range g.opened {
					m.pool.shrink(addr, n)
				}
				return nil, err
			}
			g.socks[addr] = slices.Clone(socks) // the pool may grow later
			if opened > 0 {
				g.opened[addr] = opened
			}
		}
	}
	return g, nil
}

// closeConfig closes the master's copy of g's configuration memfd.
func (g *generation) closeConfig() {
	if g.cfgFile != nil {
		g.cfgFile.Close()
		g.cfgFile = nil
	}
}

// closeListeners closes every listening socket and configuration memfd
// the master holds: at shutdown, so that a socket closes as soon as its
// last worker has taken what is queued on it.
func (m *master) closeListeners() {
	for _, g := range []*generation{m.pending, m.cur} {
		if g != nil {
			g.closeConfig()
		}
	}
	m.pool.closeExcept(nil)
}

// shutdownTimeout is worker_shutdown_timeout of the running
// configuration (of the first one while it starts).
func (m *master) shutdownTimeout() time.Duration {
	if g := m.cur; g != nil {
		return g.cfg.WorkerShutdownTimeout
	}
	if g := m.pending; g != nil {
		return g.cfg.WorkerShutdownTimeout
	}
	return config.DefaultWorkerShutdownTimeout
}

// steer makes new connections go to g's slot sockets only
// (listeners.go): the extras of slots a reload dropped and the sockets of
// a generation not ready yet receive none.
func (m *master) steer(g *generation) {
	if m.steerFailed {
		return
	}
	for _, addr := range g.addrs {
		if m.pool.shared[addr] != nil {
			continue // one socket, no group to steer
		}
		if err := steerReuseport(g.socks[addr][0], len(g.slots)); err != nil {
			m.steerFailed = true
			m.log.Warnf("listen %s: %v: a reload that lowers worker_processes may reset connections queued on the sockets it drops", addr, err)
			return
		}
	}
}

// logWarnings logs the configuration's warnings (a certificate close to
// its expiry), one line each, after a start or a reload loaded it.
func logWarnings(log *logging.Logger, cfg *config.Config) {
	for _, w := range cfg.Warnings {
		log.Warnf("%s", w)
	}
}

func (g *generation) allReady() bool {
	for _, s := range g.slots {
		if s.w == nil || !s.w.ready {
			return false
		}
	}
	return true
}

// startWorker spawns the worker of slot i of g and the two goroutines that
// report on it: one reads its readiness byte, one reaps it.
func (m *master) startWorker(g *generation, i int) error {
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return err
	}
	defer readyW.Close()
	spec := workerSpec{Slot: i, Master: os.Getpid(), File: m.src.File, Backend: g.backend}
	var socks []*os.File
	for _, addr := range g.addrs {
		for _, f := range workerSockets(g.socks[addr], i, len(g.slots)) {
			spec.Listen = append(spec.Listen, specSocket{Addr: addr})
			socks = append(socks, f)
		}
	}
	var tickets *os.File
	if m.tickets != nil {
		tickets = m.tickets.file
	}
	cmd, err := workerCmd(m.exe, spec, g.cfgFile, readyW, socks, m.metrics, tickets)
	if err != nil {
		readyR.Close()
		return err
	}
	cmd.SysProcAttr.Credential = g.cred
	cpu := -1
	if len(m.cpus) > 0 {
		cpu = m.cpus[i%len(m.cpus)]
	}
	if err := m.spawn.start(cmd, cpu); err != nil {
		readyR.Close()
		return err
	}
	w := &worker{gen: g, slot: i, pid: cmd.Process.Pid, started: time.Now()}
	g.slots[i].w = w
	m.live[w] = true
	m.log.Debugf("worker %d started: pid %d, cpu %d", i, w.pid, cpu)
	go func() {
		var b [1]byte
		n, _ := readyR.Read(b[:])
		readyR.Close()
		if n == 1 {
			m.send(event{kind: evReady, w: w})
		}
	}()
	go reap(m, w, cmd)
	return nil
}

// reap waits for the worker's exit (the SIGCHLD side of supervision: every
// child has a goroutine blocked in wait4 for it) and reports it.
func reap(m *master, w *worker, cmd *exec.Cmd) {
	cmd.Wait()
	m.send(event{kind: evExit, w: w, ps: cmd.ProcessState})
}
