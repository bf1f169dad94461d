// Command v1api is a native module written for hook API version 1 (a
// request hook only, NproxyAPI = 1): nproxy, which runs versions 1 to
// hook.Version, must load and run it.
package main

import "github.com/nproxy/nproxy/modules/hook"

// NproxyAPI is the version this module was written for, not
// hook.Version.
var NproxyAPI = 1

type pass struct{}

func (pass) OnRequest(hook.Request) error { return nil }

// New returns a module that lets every request through.
func New(args []string) (any, error) { return pass{}, nil }

func main() {}
