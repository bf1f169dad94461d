//go:build linux

package proc

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/nproxy/nproxy/reactor"
)

// Environment of a worker process. A worker is this same binary re-executed
// (Go cannot fork without exec); roleEnv marks it and specEnv carries its
// workerSpec as JSON. Everything else arrives as inherited descriptors.
const (
	roleEnv = "NPROXY_ROLE"
	specEnv = "NPROXY_WORKER"
	// ProfileEnv names a directory: each worker writes its CPU profile
	// (cpu-PID.pprof) and allocation profile (heap-PID.pprof) there when it
	// exits. `nproxy bench --profile` sets it.
	ProfileEnv = "NPROXY_PROFILE_DIR"
)

// Descriptors every worker inherits, in exec.Cmd.ExtraFiles order (the
// first extra file is descriptor 3): the configuration, the readiness
// pipe, one listening socket per address, then the metrics table and the
// session ticket key region when the master has them (their descriptors
// are in the spec: MetricsFD, TicketsFD).
const (
	configFD    = 3
	readyFD     = 4
	firstSockFD = 5
)

// workerSpec is what a master tells a worker beyond its descriptors.
type workerSpec struct {
	Slot    int          `json:"slot"`    // 0..N-1; the same across respawns and reloads
	Master  int          `json:"master"`  // the master's pid, to notice its death
	File    string       `json:"file"`    // config file name, "" for the embedded default
	Backend string       `json:"backend"` // the backend the master resolved: "epoll" or "io_uring"
	Listen  []specSocket `json:"listen"`
	// MetricsFD is the shared /metrics table (package metrics), after the
	// sockets; 0 when there is none.
	MetricsFD int `json:"metrics_fd,omitempty"`
	// TicketsFD is the TLS session ticket key region (tickets.go), after
	// the metrics table; 0 when there is none.
	TicketsFD int `json:"tickets_fd,omitempty"`
}

type specSocket struct {
	Addr string `json:"addr"`
	FD   int    `json:"fd"`
}

// spawnRequest asks the spawner thread to start cmd on cpu (-1: anywhere).
type spawnRequest struct {
	cmd  *exec.Cmd
	cpu  int
	done chan error
}

// spawner starts every worker from one OS thread that lives as long as the
// master. Two kernel facts need that thread:
//
//   - PR_SET_PDEATHSIG (SysProcAttr.Pdeathsig) fires when the *thread*
//     that forked the child exits, not the process. The Go runtime may end
//     an idle thread whose goroutine was locked to it; a thread locked
//     for good never ends before the process does.
//   - A child inherits the CPU affinity of the thread that forked it, and
//     keeps it across exec. Setting this thread's affinity to the worker's
//     CPU just before the fork pins every thread of the worker, including
//     the runtime's, from its first instruction; sched_setaffinity inside
//     the worker would pin only the calling thread.
type spawner struct {
	reqs chan spawnRequest
	all  unix.CPUSet // this thread's affinity at start, restored after each spawn
}

func newSpawner() *spawner {
	s := &spawner{reqs: make(chan spawnRequest)}
	started := make(chan struct{})
	go func() {
		runtime.LockOSThread() // never unlocked: see the type's comment
		unix.SchedGetaffinity(0, &s.all)
		close(started)
		for r := range s.reqs {
			r.done <- s.startOnThread(r.cmd, r.cpu)
		}
	}()
	<-started
	return s
}

// start runs cmd on the spawner thread, pinned to cpu unless cpu < 0.
func (s *spawner) start(cmd *exec.Cmd, cpu int) error {
	done := make(chan error, 1)
	s.reqs <- spawnRequest{cmd: cmd, cpu: cpu, done: done}
	return <-done
}

func (s *spawner) startOnThread(cmd *exec.Cmd, cpu int) error {
	if cpu >= 0 {
		var one unix.CPUSet
		one.Set(cpu)
		if err := unix.SchedSetaffinity(0, &one); err == nil {
			defer unix.SchedSetaffinity(0, &s.all)
		}
	}
	return cmd.Start()
}

// workerCPUs lists the CPUs this process may run on (taskset and cpusets
// respected); worker i is pinned to cpus[i mod len].
func workerCPUs() []int {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return nil
	}
	var cpus []int
	for i := 0; i < len(set)*64; i++ {
		if set.IsSet(i) {
			cpus = append(cpus, i)
		}
	}
	return cpus
}

// openListener opens a SO_REUSEPORT listening socket for addr, wrapped in
// an *os.File that exec.Cmd.ExtraFiles can hand down.
//
// os.NewFile on a non-blocking socket registers it with the master's own
// netpoller (each incoming connection would then wake the master, which
// never accepts) and a later File.Fd would not touch it; a blocking one is
// left alone. So the socket is made blocking for NewFile and non-blocking
// again at once: O_NONBLOCK belongs to the open file description, shared
// by every worker that inherits it, and a worker's accept must never block.
func openListener(addr string) (*os.File, error) {
	fd, err := reactor.ListenTCP(addr, 0)
	if err != nil {
		return nil, err
	}
	return listenerFile(fd, "listen "+addr)
}

// listenerFile wraps the listening socket fd in an *os.File the master's
// netpoller leaves alone, and leaves fd non-blocking (see openListener).
// fd is closed on error.
func listenerFile(fd int, name string) (*os.File, error) {
	if err := unix.SetNonblock(fd, false); err != nil {
		unix.Close(fd)
		return nil, os.NewSyscallError("fcntl", err)
	}
	f := os.NewFile(uintptr(fd), name)
	if err := unix.SetNonblock(fd, true); err != nil {
		f.Close()
		return nil, os.NewSyscallError("fcntl", err)
	}
	return f, nil
}

// configMemfd returns a sealed in-memory file holding data: the bytes the
// master validated, readable by every worker of a generation, respawns
// included. Workers read it with pread, since the file offset is shared by
// all inherited copies.
func configMemfd(data []byte) (*os.File, error) {
	fd, err := unix.MemfdCreate("nproxy-config", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, os.NewSyscallError("memfd_create", err)
	}
	f := os.NewFile(uintptr(fd), "nproxy-config")
	if _, err := f.Write(data); err != nil {
		f.Close()
		return nil, err
	}
	seals := unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE | unix.F_SEAL_SEAL
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, seals); err != nil {
		f.Close()
		return nil, os.NewSyscallError("fcntl", err)
	}
	return f, nil
}

// workerCmd builds the command for one worker: this binary, its role and
// spec in the environment, its descriptors as extra files.
func workerCmd(exe string, spec workerSpec, cfgFile, ready *os.File, socks []*os.File, metricsFile, ticketsFile *os.File) (*exec.Cmd, error) {
	files := []*os.File{cfgFile, ready}
	for i, f := range socks {
		spec.Listen[i].FD = firstSockFD + i
		files = append(files, f)
	}
	if metricsFile != nil {
		spec.MetricsFD = firstSockFD + len(socks)
		files = append(files, metricsFile)
	}
	if ticketsFile != nil {
		spec.TicketsFD = 3 + len(files)
		files = append(files, ticketsFile)
	}
	js, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe)
	cmd.Args = []string{"nproxy: worker process"}
	env := []string{roleEnv + "=worker", specEnv + "=" + string(js)}
	for _, kv := range os.Environ() {
		if !masterOnlyEnv(kv) {
			env = append(env, kv)
		}
	}
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.ExtraFiles = files
	// SIGINT makes the worker stop at once (and still write its
	// profiles); the worker also polls getppid in case the signal is lost.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGINT}
	return cmd, nil
}

// masterOnlyEnv reports whether kv, an environment entry, is one a worker
// must not inherit: its role and spec (set afresh), and what the service
// manager handed the master alone (NOTIFY_SOCKET: only the master
// reports the service's state).
func masterOnlyEnv(kv string) bool {
	name, _, _ := strings.Cut(kv, "=")
	switch name {
	case roleEnv, specEnv, notifySocketEnv, listenPIDEnv, listenFDsEnv, listenNamesEnv:
		return true
	}
	return false
}

// exitText describes how a worker ended: "exit status 2" or "killed by
// signal 9 (killed)".
func exitText(ps *os.ProcessState) string {
	if ps == nil {
		return "unknown status"
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return fmt.Sprintf("killed by signal %d (%v)", int(ws.Signal()), ws.Signal())
	}
	return fmt.Sprintf("exit status %d", ps.ExitCode())
}
