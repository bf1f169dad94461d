// Command pass is a module that does nothing in the hooks its ARGS name
// ("request", "response", "log"; all three without ARGS): the cost of a
// module that is configured and passes, per hook, for the benchmarks
// (BenchmarkHook, bench/modules.sh). It builds as a native and as a
// WebAssembly module.
package main

import (
	"fmt"

	"github.com/nproxy/nproxy/modules/hook"
)

// NproxyAPI is the hook API version this module is built for.
var NproxyAPI = hook.Version

type (
	onRequest       struct{}
	onResponse      struct{}
	onLog           struct{}
	requestResponse struct {
		onRequest
		onResponse
	}
	all struct {
		onRequest
		onResponse
		onLog
	}
)

func (onRequest) OnRequest(hook.Request) error    { return nil }
func (onResponse) OnResponse(hook.Response) error { return nil }
func (onLog) OnLog(hook.Log) error                { return nil }

// New returns a module with the hooks args name.
func New(args []string) (any, error) {
	if len(args) == 0 {
		return all{}, nil
	}
	if len(args) == 2 && args[0] == "request" && args[1] == "response" {
		return requestResponse{}, nil
	}
	if len(args) == 1 {
		switch args[0] {
		case "request":
			return onRequest{}, nil
		case "response":
			return onResponse{}, nil
		case "log":
			return onLog{}, nil
		}
	}
	return nil, fmt.Errorf("%q: want one of request, response, log, \"request response\", or nothing for all three", args)
}

func main() {}
