//go:build linux

package proc

import (
	"fmt"
	"sync"
	"time"

	"github.com/nproxy/nproxy/config"
	"github.com/nproxy/nproxy/logging"
	"github.com/nproxy/nproxy/metrics"
	"github.com/nproxy/nproxy/reactor"
	"github.com/nproxy/nproxy/server"
)

// Listener is a listening socket handed to a worker, with the address of
// the configuration it serves.
type Listener struct {
	Addr string
	Fd   int
}

// WorkerOptions configure one worker.
type WorkerOptions struct {
	Config    *config.Config
	Listeners []Listener
	Backend   string // "auto", "epoll" or "io_uring"
	Log       *logging.Logger
	// Ready, if set, is called on the loop thread once the worker
	// accepts connections.
	Ready func()
	// Metrics, if set, is the table shared by the master's workers;
	// this worker counts into slot Slot of it.
	Metrics *metrics.Table
	Slot    int
	// TicketKeys, if set, is the master's TLS session ticket key region:
	// the worker hands its keys to the server and follows its rotations.
	// Without it the worker makes keys of its own, so that a session
	// resumes on the worker that issued its ticket only.
	TicketKeys *TicketKeys
}

// Worker is one reactor loop serving the configuration: the unit the
// master starts N of. Its methods other than Run may be called from any
// goroutine.
type Worker struct {
	opts WorkerOptions
	loop *reactor.Loop
	srv  *server.Server
	note string

	mu       sync.Mutex
	draining bool
}

// NewWorker prepares a worker: it chooses the backend (logging the choice
// the way CONTRACT.md words it) but opens nothing until Run.
func NewWorker(opts WorkerOptions) (*Worker, error) {
	b, note, err := reactor.New(opts.Config.Backend)
	if err != nil {
		return nil, err
	}
	w := &Worker{opts: opts, note: note}
	w.loop = reactor.NewLoop(b, reactor.Options{
		MaxConns: opts.Config.WorkerConnections,
		Logf:     func(f string, a ...any) { opts.Log.Warnf(f, a...) },
	})
	return w, nil
}

// BackendNote is the backend choice as logged: "backend=io_uring" or
// "backend=epoll (io_uring unavailable: REASON)".
func (w *Worker) BackendNote() string { return w.note }

// Run serves until Stop, or until a Drain completes. It locks the calling
// goroutine to its OS thread for the loop's life.
func (w *Worker) Run() error {
	srv, err := server.New(w.opts.Config, w.loop, w.opts.Log)
	if err != nil {
		return err
	}
	w.srv = srv
	defer srv.Close()
	if w.opts.Metrics != nil {
		srv.UseMetrics(w.opts.Metrics, w.opts.Slot)
	}
	w.useTicketKeys(srv)
	started := false
	w.loop.Post(func() {
		for _, l := range w.opts.Listeners {
			if err := srv.Serve(l.Fd, l.Addr); err != nil {
				w.opts.Log.Errorf("%v", err)
				w.loop.Stop()
				return
			}
		}
		started = true
		if w.opts.Ready != nil {
			w.opts.Ready()
		}
	})
	if err := w.loop.Run(); err != nil {
		return err
	}
	if !started {
		return fmt.Errorf("proc: worker did not start")
	}
	return nil
}

// Drain stops accepting, lets in-flight requests finish (keep-alive
// connections close at their next request boundary) and stops the loop
// when no connection is left or after timeout, whichever comes first.
func (w *Worker) Drain(timeout time.Duration) {
	w.mu.Lock()
	if w.draining {
		w.mu.Unlock()
		return
	}
	w.draining = true
	w.mu.Unlock()
	w.loop.Post(func() { w.srv.Drain(w.loop.Stop) })
	if timeout > 0 {
		time.AfterFunc(timeout, w.loop.Stop)
	}
}

// Stop ends the loop at once, closing every connection.
func (w *Worker) Stop() { w.loop.Stop() }
