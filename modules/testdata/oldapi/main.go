// Command oldapi is a native module that declares another hook API
// version than nproxy's: nproxy must refuse it with both versions named,
// before loading it.
package main

// NproxyAPI is not hook.Version.
var NproxyAPI = 0

// New is never called.
func New(args []string) (any, error) { return nil, nil }

func main() {}
