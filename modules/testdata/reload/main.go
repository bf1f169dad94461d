// Command reload is a native module loaded by one test only, which
// changes its file and loads it from another path: Go's plugin loader
// keeps a package loaded once per process, so no other test may load it.
package main

import "github.com/nproxy/nproxy/modules/hook"

// NproxyAPI is the hook API version this module is built for.
var NproxyAPI = hook.Version

type pass struct{}

func (pass) OnRequest(hook.Request) error { return nil }

// New returns a module that lets every request through.
func New(args []string) (any, error) { return pass{}, nil }

func main() {}
