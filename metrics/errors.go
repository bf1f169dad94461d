//go:build linux

package metrics

import "errors"

// ErrTableSize is returned by Map when the file is not the size Create
// makes: it was not made by this version's Create.
var ErrTableSize = errors.New("metrics: shared table has the wrong size")
