//go:build linux && !race

package server_test

import (
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/nproxy/nproxy/internal/servertest"
)

// idleConnHeapMax bounds the heap an idle keep-alive connection keeps:
// its conn (the 176-byte size class, TestConnAllocSize) and its Conn in
// the reactor's table (136 bytes, allocated 64 at a time in the
// 9472-byte size class), with room for a pointer-sized field or two but
// not for a buffer or a struct of the uncommon phases (a stream, a body
// being dropped, a PROXY header), which is how it grew before.
// compare.sh idle measures the same memory as RSS, against nginx's: see
// BENCHMARKS.md, "Idle keep-alive memory".
const idleConnHeapMax = 352

// TestIdleConnAlloc opens idle keep-alive connections (one request each,
// then nothing) and bounds the heap they keep.
func TestIdleConnAlloc(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "index.html"), []byte("home\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	servertest.ForEachBackend(t, func(t *testing.T, backend string) {
		srv := servertest.Start(t, backend, "", "static_root = "+root+"\n")
		ap, err := netip.ParseAddrPort(srv.Addr)
		if err != nil {
			t.Fatal(err)
		}
		sa := &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
		req := []byte("GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n")
		buf := make([]byte, 4096)
		// Raw sockets: the client side keeps nothing on the heap.
		open := func(n int) []int {
			fds := make([]int, 0, n)
			for range n {
				fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
				if err != nil {
					t.Fatal(err)
				}
				fds = append(fds, fd)
				if err := unix.Connect(fd, sa); err != nil {
					t.Fatal(err)
				}
				if _, err := unix.Write(fd, req); err != nil {
					t.Fatal(err)
				}
				// The response: the server is done with the request.
				if m, err := unix.Read(fd, buf); err != nil || m <= 0 {
					t.Fatalf("read: %d, %v", m, err)
				}
			}
			return fds
		}
		closeAll := func(fds []int) {
			for _, fd := range fds {
				unix.Close(fd)
			}
		}
		closeAll(open(1)) // the pools of a request hold something
		// The heap profile, every allocation sampled, counts what the
		// worker's code keeps (other tests' leftovers are not in it).
		rate := runtime.MemProfileRate
		runtime.MemProfileRate = 1
		defer func() { runtime.MemProfileRate = rate }()
		before := workerHeap()
		const n = 500
		fds := open(n)
		defer closeAll(fds)
		per := (workerHeap() - before) / n
		t.Logf("%s: %d bytes of heap per idle connection", backend, per)
		if per > idleConnHeapMax {
			t.Errorf("%s: %d bytes of heap per idle keep-alive connection, want at most %d", backend, per, idleConnHeapMax)
		}
	})
}

// workerHeap sums the heap in use that the server's and the reactor's
// code allocated, from the heap profile (as of a collection run now).
func workerHeap() int64 {
	runtime.GC()
	runtime.GC() // the profile shows the cycle before the last one
	var recs []runtime.MemProfileRecord
	n, _ := runtime.MemProfile(nil, false)
	for {
		recs = make([]runtime.MemProfileRecord, n+50)
		var ok bool
		if n, ok = runtime.MemProfile(recs, false); ok {
			recs = recs[:n]
			break
		}
	}
	var sum int64
	for i := range recs {
		frames := runtime.CallersFrames(recs[i].Stack())
		for {
			f, more := frames.Next()
			if strings.HasPrefix(f.Function, "github.com/nproxy/nproxy/server.") ||
				strings.HasPrefix(f.Function, "github.com/nproxy/nproxy/reactor.") {
				sum += recs[i].InUseBytes()
				break
			}
			if !more {
				break
			}
		}
	}
	return sum
}
