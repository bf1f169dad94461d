//go:build linux

package proc

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nproxy/nproxy/config"
	"github.com/nproxy/nproxy/logging"
	"github.com/nproxy/nproxy/reactor"
)

// MasterOptions configure the master process.
type MasterOptions struct {
	Config     *config.Config
	ConfigFile string // "" for the embedded default
	Backend    string // --backend, "" = the config's
	Workers    int    // --workers, 0 = the config's
}

// DrainTimeout bounds a graceful shutdown or reload: connections still busy
// after it are closed.
const DrainTimeout = 30 * time.Second

// IsWorker reports whether this process was started by a master as one of
// its workers.
func IsWorker() bool { return os.Getenv(roleEnv) == "worker" }

const roleEnv = "NPROXY_ROLE"

// WorkerMain runs a worker process; it returns the exit status.
func WorkerMain() int {
	fmt.Fprintln(os.Stderr, "nproxy: worker processes are not supported by this build")
	return 1
}

// RunMaster runs the server in the foreground until SIGTERM (graceful) or
// SIGINT (immediate).
func RunMaster(o MasterOptions) error {
	cfg := o.Config
	lv, err := logging.ParseLevel(cfg.LogLevel)
	if err != nil {
		return err
	}
	log, err := logging.New(cfg.ErrorLog, lv)
	if err != nil {
		return err
	}
	if cfg.PIDFile != "" {
		if err := writePIDFile(cfg.PIDFile); err != nil {
			return err
		}
		defer os.Remove(cfg.PIDFile)
	}
	var ls []Listener
	for _, sc := range cfg.Servers {
		for _, addr := range sc.Listen {
			if hasAddr(ls, addr) {
				continue
			}
			fd, err := reactor.ListenTCP(addr, 0)
			if err != nil {
				closeListeners(ls)
				return err
			}
			ls = append(ls, Listener{Addr: addr, Fd: fd})
		}
	}
	defer closeListeners(ls)
	w, err := NewWorker(WorkerOptions{Config: cfg, Listeners: ls, Backend: cfg.Backend, Log: log})
	if err != nil {
		return err
	}
	log.Infof("nproxy started: %s, listening on %s", w.BackendNote(), listenerAddrs(ls))
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGUSR1)
	defer signal.Stop(sigs)
	go func() {
		for sig := range sigs {
			switch sig {
			case syscall.SIGTERM:
				log.Infof("SIGTERM: draining")
				w.Drain(DrainTimeout)
			case syscall.SIGINT:
				log.Infof("SIGINT: stopping")
				w.Stop()
			case syscall.SIGUSR1:
				log.Reopen()
			case syscall.SIGHUP:
				log.Warnf("SIGHUP: reload is not available in single-process mode")
			}
		}
	}()
	return w.Run()
}

func hasAddr(ls []Listener, addr string) bool {
	for _, l := range ls {
		if l.Addr == addr {
			return true
		}
	}
	return false
}

func listenerAddrs(ls []Listener) string {
	var s []string
	for _, l := range ls {
		s = append(s, l.Addr)
	}
	return strings.Join(s, ", ")
}

func closeListeners(ls []Listener) {
	for _, l := range ls {
		syscall.Close(l.Fd)
	}
}

// writePIDFile writes the pid file, refusing when it names a live process.
func writePIDFile(path string) error {
	if pid, err := readPIDFile(path); err == nil && pid != os.Getpid() && syscall.Kill(pid, 0) == nil {
		return fmt.Errorf("proc: pid file %s: nproxy already running as pid %d", path, pid)
	}
	return os.WriteFile(path, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644)
}

func readPIDFile(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("proc: pid file %s: bad content", path)
	}
	return pid, nil
}

// SignalMaster sends the -s signal to the master named by cfg's pid_file.
func SignalMaster(cfg *config.Config, name string) error {
	sigs := map[string]syscall.Signal{"stop": syscall.SIGINT, "quit": syscall.SIGTERM, "reload": syscall.SIGHUP, "reopen": syscall.SIGUSR1}
	sig, ok := sigs[name]
	if !ok {
		return fmt.Errorf("-s %q: want stop, quit, reload or reopen", name)
	}
	if cfg.PIDFile == "" {
		return errors.New("-s needs pid_file in the configuration")
	}
	pid, err := readPIDFile(cfg.PIDFile)
	if err != nil {
		return err
	}
	if err := syscall.Kill(pid, sig); err != nil {
		return fmt.Errorf("signal %s to pid %d: %w", name, pid, err)
	}
	return nil
}

// KernelSupport describes which backends this kernel supports.
func KernelSupport() string {
	var b strings.Builder
	b.WriteString("backends: epoll: yes\n")
	_, note, _ := reactor.New("auto")
	fmt.Fprintf(&b, "auto chooses: %s\n", note)
	return b.String()
}
