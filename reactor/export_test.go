//go:build linux

package reactor

import "time"

// SetCloseLinger sets closeLinger for a test and returns the function
// that restores it. Call it before the loop runs, restore after it
// stopped: the loop reads it on its own thread.
func SetCloseLinger(d time.Duration) (restore func()) {
	old := closeLinger
	closeLinger = d
	return func() { closeLinger = old }
}
