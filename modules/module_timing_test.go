//go:build linux

package modules_test

import (
	"testing"

	"github.com/nproxy/nproxy/modules"
	"github.com/nproxy/nproxy/modules/hook"
)

// The cost of a module that passes, per hook call, in each form:
//
//	go test -run '^$' -bench Hook -benchtime 2s ./modules
//
// This is what a module adds to each request it sees, on the worker's
// loop thread: a native module's interface call, or a WebAssembly call
// with its deadline. wazero also starts a goroutine per call to watch the
// deadline, which runs on another thread; a benchmark run with -cpu 1
// leaves those goroutines no thread but the benchmark's, so run it with
// the default GOMAXPROCS. Requests per second through a worker with 0, 1
// and 3 modules are measured with the nproxy binary and nproxy bench
// --url (see the README, Modules).

// passRequest is a request that satisfies hook.Request and is never
// asked anything: the hook under test passes without looking.
type passRequest struct{ hook.Request }

func BenchmarkHook(b *testing.B) {
	for _, form := range forms {
		b.Run(form.String(), func(b *testing.B) {
			m, err := modules.Open("probe", modules.BuildModule(b, form, "testdata/probe"), []string{"requestonly"}, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer m.Close()
			r := passRequest{}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := m.OnRequest(r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
