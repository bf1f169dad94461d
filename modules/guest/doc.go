// Package guest runs a module written against package hook as a
// WebAssembly module: it implements nproxy's WebAssembly ABI (version
// hook.Version, documented in package modules) over the host functions
// nproxy provides, and exports the functions nproxy calls. A module
// registers its constructor from an init function of a file built only
// for wasip1:
//
//	//go:build wasip1
//
//	package main
//
//	import "github.com/nproxy/nproxy/modules/guest"
//
//	func init() { guest.Register(New) }
//
// and is built with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o filter.wasm .
//
// The same package, built with -buildmode=plugin for linux, is the native
// form of the module. Outside wasip1 this package is empty.
package guest
