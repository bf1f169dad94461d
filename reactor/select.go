//go:build linux

package reactor

import "fmt"

// newUring is set by the io_uring backend's file; it returns the backend or
// the reason io_uring cannot be used on this kernel.
var newUring func() (Backend, error)

// New returns the backend called name: "epoll", "io_uring" or "auto". For
// auto, note says what was chosen and why ("backend=io_uring", or
// "backend=epoll (io_uring unavailable: REASON)"); an explicit io_uring
// that cannot start is an error, never a silent fallback.
func New(name string) (b Backend, note string, err error) {
	switch name {
	case "epoll":
		return NewEpoll(), "backend=epoll", nil
	case "io_uring":
		if newUring == nil {
			return nil, "", fmt.Errorf("reactor: io_uring backend: not built in")
		}
		b, err := newUring()
		if err != nil {
			return nil, "", fmt.Errorf("reactor: io_uring backend: %w", err)
		}
		return b, "backend=io_uring", nil
	case "auto", "":
		if newUring == nil {
			return NewEpoll(), "backend=epoll (io_uring unavailable: not built in)", nil
		}
		b, err := newUring()
		if err != nil {
			return NewEpoll(), fmt.Sprintf("backend=epoll (io_uring unavailable: %v)", err), nil
		}
		return b, "backend=io_uring", nil
	}
	return nil, "", fmt.Errorf("%w %q", ErrUnknownBackend, name)
}
