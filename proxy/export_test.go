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
