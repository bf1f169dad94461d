//go:build cgo

package modules

// Go's plugin package loads a plugin with dlopen, through cgo: only a
// binary built with cgo can load native modules. The build tag states a
// fact about the toolchain that built nproxy, not a platform choice.
func init() { nativeSupported = true }
