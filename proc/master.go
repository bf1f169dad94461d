//go:build linux

package proc

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
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
	// DrainTimeout bounds a graceful shutdown or reload: connections still
	// busy after it are closed.
	DrainTimeout = 30 * time.Second

	// readyTimeout bounds how long a new worker may take to accept; a
	// worker that takes longer fails the start or the reload. Starting
	// is milliseconds of work: this only catches a wedged worker.
	readyTimeout = 10 * time.Second

	// killGrace is how long the master waits past a worker's own
	// deadline (DrainTimeout for SIGTERM, at once for SIGINT) before it
	// sends SIGKILL.
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
	backend string   // resolved: "epoll" or "io_uring"
	cfgFile *os.File // sealed memfd with the validated bytes
	addrs   []string
	// socks[addr][slot] is the SO_REUSEPORT socket of slot on addr. A
	// reload reuses the socket of an (addr, slot) pair that remains, so
	// connections queued on it are accepted by the new worker instead of
	// being reset when it closes.
	socks map[string][]*os.File
	slots []slot
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
	genSeq       int
	live         map[*worker]bool
	readyC       <-chan time.Time // pending generation's deadline
	killC        <-chan time.Time // shutdown deadline
	stopping     bool
	immediate    bool
	reloadAgain  bool
	err          error // returned by RunMaster
	// metrics is the shared table every worker counts into (one slot per
	// worker slot), so that /metrics on any worker sums them all; it
	// outlives workers, respawns and reloads.
	metrics *os.File
	// tickets is the TLS session ticket key region every worker maps
	// (tickets.go); like metrics it outlives reloads, so sessions resume
	// across them. rotateC fires every ticketKeyRotation.
	tickets *ticketKeyWriter
	rotateC <-chan time.Time
}

// RunMaster runs the master in the foreground: it opens the listening
// sockets, starts the workers, supervises them and handles the signals
// (SIGHUP reload, SIGTERM graceful stop, SIGINT immediate stop, SIGUSR1
// reopen logs) until the last worker exits. It does no request handling.
func RunMaster(o MasterOptions) error {
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
		var err error
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
	m := &master{
		src:    o.Source,
		log:    log,
		cpus:   workerCPUs(),
		events: make(chan event, 64),
		quit:   make(chan struct{}),
		live:   map[*worker]bool{},
	}
	// /proc/self/exe, not os.Executable's path: the workers run the very
	// binary the master runs even when the file was replaced on disk.
	m.exe = "/proc/self/exe"
	if f, err := metrics.Create(); err == nil {
		m.metrics = f
		defer f.Close()
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
	}
	defer func() { m.pid.remove() }()
	backend, err := resolveBackend(cfg.Backend, log)
	if err != nil {
		return err
	}
	m.spawn = newSpawner()
	g, err := m.newGeneration(cfg, data, backend, nil)
	if err != nil {
		return err
	}
	m.startGeneration(g)
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
	for _, g := range []*generation{m.pending, m.cur} {
		if g != nil {
			g.release(nil)
		}
	}
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
		m.log.Infof("SIGTERM: graceful shutdown (drain up to %v)", DrainTimeout)
		m.shutdown(false)
	case syscall.SIGINT:
		m.log.Infof("SIGINT: stopping now")
		m.shutdown(true)
	case syscall.SIGUSR1:
		m.log.Infof("SIGUSR1: reopening log files")
		if err := m.log.Reopen(); err != nil {
			m.log.Errorf("reopen: %v", err)
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
	default:
		if time.Since(w.started) >= backoffReset {
			s.backoff = 0
		}
		m.log.Errorf("worker %d (pid %d) exited unexpectedly: %s; respawning in %v", w.slot, w.pid, status, s.delay())
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
	cfg, data, err := m.src.Load()
	if err != nil {
		var probs config.Errors
		if errors.As(err, &probs) {
			for _, p := range probs {
				m.log.Errorf("%s", p)
			}
		} else {
			m.log.Errorf("%v", err)
		}
		m.log.Errorf("reload failed: keeping the running configuration")
		return
	}
	backend := m.cur.backend
	if cfg.Backend != m.cur.cfg.Backend {
		if backend, err = resolveBackend(cfg.Backend, m.log); err != nil {
			m.log.Errorf("reload failed: %v: keeping the running configuration", err)
			return
		}
	}
	g, err := m.newGeneration(cfg, data, backend, m.cur)
	if err != nil {
		m.log.Errorf("reload failed: %v: keeping the running configuration", err)
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
// its copies of the sockets the new generation does not use.
func (m *master) promote() {
	old, g := m.cur, m.pending
	m.cur, m.pending, m.readyC = g, nil, nil
	if old == nil {
		m.log.Infof("nproxy started: %d workers, listening on %s", len(g.slots), strings.Join(g.addrs, ", "))
	} else {
		for w := range m.live {
			if w.gen == old {
				m.retire(w, syscall.SIGTERM)
			}
		}
		old.release(g)
		m.applyGlobals(old.cfg, g.cfg)
		m.log.Infof("reloaded: %d workers, listening on %s", len(g.slots), strings.Join(g.addrs, ", "))
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
	g.release(m.cur)
	if m.cur == nil {
		m.err = fmt.Errorf("%w: %s", ErrWorkerStart, why)
		m.log.Errorf("%v", m.err)
		m.shutdown(true)
		return
	}
	m.log.Errorf("reload failed: %s: keeping the running configuration", why)
	if m.reloadAgain {
		m.reloadAgain = false
		m.reload()
	}
}

// applyGlobals follows a reload's changes of error_log, log_level and
// pid_file.
func (m *master) applyGlobals(old, cfg *config.Config) {
	if cfg.ErrorLog != old.ErrorLog || cfg.LogLevel != old.LogLevel {
		lv, _ := logging.ParseLevel(cfg.LogLevel)
		if l, err := logging.New(cfg.ErrorLog, lv); err != nil {
			m.log.Errorf("reload: error_log: %v", err)
		} else {
			m.log = l
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
func (m *master) shutdown(immediate bool) {
	if m.stopping && (m.immediate || !immediate) {
		return
	}
	m.stopping, m.immediate = true, immediate
	m.readyC = nil
	sig, wait := syscall.SIGTERM, DrainTimeout+killGrace
	if immediate {
		sig, wait = syscall.SIGINT, killGrace
	}
	for w := range m.live {
		m.retire(w, sig)
	}
	m.killC = time.After(wait)
}

// newGeneration prepares the descriptors of a generation running cfg:
// the config memfd and a socket per (address, slot), reusing prev's where
// the address and slot remain.
func (m *master) newGeneration(cfg *config.Config, data []byte, backend string, prev *generation) (*generation, error) {
	m.genSeq++
	g := &generation{id: m.genSeq, cfg: cfg, backend: backend, socks: map[string][]*os.File{}}
	var err error
	if g.cfgFile, err = configMemfd(data); err != nil {
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
			socks := make([]*os.File, n)
			g.socks[addr] = socks
			for i := range socks {
				if prev != nil && i < len(prev.socks[addr]) {
					socks[i] = prev.socks[addr][i]
					continue
				}
				if socks[i], err = openListener(addr); err != nil {
					g.release(prev)
					return nil, err
				}
			}
		}
	}
	return g, nil
}

// release closes the master's copies of g's descriptors, except the
// sockets next (the generation that replaces it) still uses. Workers keep
// their own copies: a socket closes for good when its last worker exits.
func (g *generation) release(next *generation) {
	if g.cfgFile != nil {
		g.cfgFile.Close()
		g.cfgFile = nil
	}
	for addr, socks := range g.socks {
		for i, f := range socks {
			if f == nil {
				continue
			}
			if next != nil && i < len(next.socks[addr]) && next.socks[addr][i] == f {
				continue
			}
			f.Close()
		}
	}
	g.socks = nil
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
	socks := make([]*os.File, len(g.addrs))
	for j, addr := range g.addrs {
		spec.Listen = append(spec.Listen, specSocket{Addr: addr})
		socks[j] = g.socks[addr][i]
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
