//go:build linux

package static

import "errors"

// Errors returned by New. Each is wrapped with the offending value and, for
// a failed system call, the call's name; compare with errors.Is.
var (
	// ErrNoRoot is returned when the server has no static_root.
	ErrNoRoot = errors.New("static: static_root is not set")

	// ErrRootNotAbsolute is returned when static_root is a relative path;
	// config resolves it, so this means a Server built by hand.
	ErrRootNotAbsolute = errors.New("static: static_root is not an absolute path")

	// ErrRootNotDir is returned when static_root exists but is not a
	// directory.
	ErrRootNotDir = errors.New("static: static_root is not a directory")

	// ErrBadIndex is returned for an index name that is empty, "." or
	// "..", or that contains '/' or NUL.
	ErrBadIndex = errors.New("static: bad index file name")

	// ErrBadTryFiles is returned for try_files tokens config would refuse:
	// fewer than two, a token that is neither $uri-based nor an absolute
	// path, =CODE anywhere but last, or a code outside 100..599.
	ErrBadTryFiles = errors.New("static: bad try_files")
)
