//go:build !linux

package logging

import "os"

// openAppend opens path for appending, creating it (nproxy runs on
// Linux only; see open_linux.go for what a root master checks there).
func openAppend(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
}

// OpenAppend opens the log file at path for appending, creating it.
func OpenAppend(path string) (*os.File, error) { return openAppend(path) }
