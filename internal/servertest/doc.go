// Package servertest runs an nproxy worker for a test: on a loopback port
// chosen by the kernel, on each reactor backend this kernel has, stopped
// when the test ends.
//
//	servertest.ForEachBackend(t, func(t *testing.T, backend string) {
//		srv := servertest.Start(t, backend, "", "static_root = "+root+"\nautoindex = on\n")
//		resp, err := srv.Client().Get(srv.URL + "/")
//		...
//	})
//
// The worker runs in the test's process (proc.NewWorker), so the race
// detector sees it. Every wait is bounded; none is a fixed sleep.
//
// Only test code imports this package; it is internal so that its API can
// follow what the tests need.
package servertest
