//go:build linux

package proxy

import "time"

// SetFailTimeout shortens the passive fail timeout for a test; the
// returned function restores it. Call it before starting a worker.
func SetFailTimeout(d time.Duration) (restore func()) {
	old := failTimeout
	failTimeout = d
	return func() { failTimeout = old }
}

// OnSplice makes f run (on a worker's loop thread) whenever a response
// body starts being spliced; the returned function removes it. Call it
// before starting a worker.
func OnSplice(f func()) (restore func()) {
	old := testHookSplice
	testHookSplice = f
	return func() { testHookSplice = old }
}

// OnTLSBacklog makes f run (on a worker's loop thread) whenever reading
// from a TLS backend pauses with records possibly still to decrypt; the
// returned function removes it. Call it before starting a worker.
func OnTLSBacklog(f func()) (restore func()) {
	old := testHookTLSBacklog
	testHookTLSBacklog = f
	return func() { testHookTLSBacklog = old }
}
