//go:build linux

package modules_test

import (
	"errors"
	"testing"

	"github.com/nproxy/nproxy/modules"
	"github.com/nproxy/nproxy/modules/hook"
)

// The cost of a module that passes, per hook call, in each form:
//
//	go test -run '^$' -bench Hook -benchtime 2s ./modules
//
// This is what a module adds to each request it sees, per hook, on the
// worker's loop thread: a native module's interface call, or a
// WebAssembly call with its deadline. Requests per second and CPU per
// request through a worker with 0, 1 and 3 modules are measured with the
// nproxy binary by bench/modules.sh (BENCHMARKS.md, Modules).

// The phases' arguments, never asked anything: the hooks of
// testdata/pass return without looking.
type (
	passRequest  struct{ hook.Request }
	passResponse struct{ hook.Response }
	passLog      struct{ hook.Log }
)

func BenchmarkHook(b *testing.B) {
	for _, form := range forms {
		path := ""
		for _, phase := range []string{"request", "response", "log"} {
			b.Run(form.String()+"/"+phase, func(b *testing.B) {
				if path == "" {
					path = modules.BuildModule(b, form, "testdata/pass")
				}
				m, err := modules.Open("pass", path, []string{phase}, nil)
				if err != nil {
					b.Fatal(err)
				}
				defer m.Close()
				call := map[string]func() error{
					"request":  func() error { return m.OnRequest(passRequest{}) },
					"response": func() error { return m.OnResponse(passResponse{}) },
					"log":      func() error { return m.OnLog(passLog{}) },
				}[phase]
				b.ReportAllocs()
				b.ResetTimer()
				limits := 0
				for i := 0; i < b.N; i++ {
					err := call()
					if errors.Is(err, modules.ErrTimeLimit) {
						// A loaded machine took the thread away for
						// longer than the limit: counted, not fatal.
						limits++
						continue
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(limits), "limits")
			})
		}
	}
}
