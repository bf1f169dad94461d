//go:build linux

package server

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/nproxy/nproxy/reactor"
)

// watchReopen reopens the access logs on SIGUSR1 (nproxy -s reopen: the
// master forwards it to every worker after reopening its error log). The
// signal arrives on a goroutine; the reopen runs on the loop thread,
// which owns the logs. Go delivers a signal to every channel registered
// for it, so this coexists with the worker's own SIGUSR1 handling of the
// error log. The returned function stops watching.
func watchReopen(loop *reactor.Loop, reopen func()) (stop func()) {
	sigs := make(chan os.Signal, 1)
	done := make(chan struct{})
	signal.Notify(sigs, syscall.SIGUSR1)
	go func() {
		for {
			select {
			case <-sigs:
				loop.Post(reopen)
			case <-done:
				return
			}
		}
	}()
	return func() {
		signal.Stop(sigs)
		close(done)
	}
}
