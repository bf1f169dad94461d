//go:build linux && (amd64 || arm64)

package ring

import (
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// testWait bounds every wait in these tests.
const testWait = 5 * time.Second

// newTestRing creates a ring for one test. It locks the test goroutine to
// its OS thread first (DeferTaskrun needs it); the goroutine ends locked, so
// the runtime throws the thread away afterwards.
func newTestRing(t testing.TB, opts Options) *Ring {
	t.Helper()
	runtime.LockOSThread()
	r, err := New(opts)
	if err != nil {
		t.Fatalf("New(%+v): %v", opts, err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return r
}

// mustSQE returns an SQE, submitting once if the SQ is full.
func mustSQE(t testing.TB, r *Ring) *SQE {
	t.Helper()
	if s := r.GetSQE(); s != nil {
		return s
	}
	if _, err := r.Submit(); err != nil {
		t.Fatalf("Submit: %v", err)
	}
	s := r.GetSQE()
	if s == nil {
		t.Fatal("GetSQE: SQ still full after Submit")
	}
	return s
}

// reap submits pending SQEs and collects exactly n CQEs, failing after
// testWait.
func reap(t testing.TB, r *Ring, n int) []CQE {
	t.Helper()
	deadline := time.Now().Add(testWait)
	var got []CQE
	buf := make([]CQE, 64)
	for len(got) < n {
		left := time.Until(deadline)
		if left <= 0 {
			t.Fatalf("reap: got %d of %d CQEs: %+v", len(got), n, got)
		}
		if err := r.SubmitAndWait(1, left); err != nil {
			t.Fatalf("SubmitAndWait: %v", err)
		}
		k := r.PeekCQEs(buf[:min(len(buf), n-len(got))])
		got = append(got, buf[:k]...)
		r.CQAdvance(k)
	}
	return got
}

// byUserData indexes CQEs by user_data, failing on duplicates.
func byUserData(t testing.TB, cqes []CQE) map[uint64]CQE {
	t.Helper()
	m := make(map[uint64]CQE, len(cqes))
	for _, c := range cqes {
		if _, dup := m[c.UserData]; dup {
			t.Fatalf("duplicate CQE for user_data %d in %+v", c.UserData, cqes)
		}
		m[c.UserData] = c
	}
	return m
}

// offHeap returns n bytes of anonymous mapped memory, unmapped at cleanup.
func offHeap(t testing.TB, n int) []byte {
	t.Helper()
	b, err := unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		t.Fatalf("mmap: %v", err)
	}
	t.Cleanup(func() { unix.Munmap(b) })
	return b
}

func socketPair(t testing.TB) (int, int) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("socketpair: %v", err)
	}
	t.Cleanup(func() { unix.Close(fds[0]); unix.Close(fds[1]) })
	return fds[0], fds[1]
}

// listenLoopback returns a non-blocking listening socket on 127.0.0.1:0 and
// its address.
func listenLoopback(t testing.TB) (int, *unix.SockaddrInet4) {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("socket: %v", err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatalf("bind: %v", err)
	}
	if err := unix.Listen(fd, 128); err != nil {
		t.Fatalf("listen: %v", err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatalf("getsockname: %v", err)
	}
	return fd, sa.(*unix.SockaddrInet4)
}

// dialBlocking connects a blocking client socket to addr.
func dialBlocking(t testing.TB, addr *unix.SockaddrInet4) int {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("socket: %v", err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Connect(fd, addr); err != nil {
		t.Fatalf("connect: %v", err)
	}
	return fd
}

// readFull reads exactly n bytes from a non-blocking or blocking fd, polling
// for at most testWait.
func readFull(t testing.TB, fd int, n int) []byte {
	t.Helper()
	out := make([]byte, 0, n)
	buf := make([]byte, n)
	deadline := time.Now().Add(testWait)
	for len(out) < n {
		if time.Now().After(deadline) {
			t.Fatalf("readFull: got %d of %d bytes", len(out), n)
		}
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		if _, err := unix.Poll(pfd, 100); err != nil && err != unix.EINTR {
			t.Fatalf("poll: %v", err)
		}
		k, err := unix.Read(fd, buf[:n-len(out)])
		if err == unix.EAGAIN || err == unix.EINTR {
			continue
		}
		if err != nil || k == 0 {
			t.Fatalf("read: %d, %v", k, err)
		}
		out = append(out, buf[:k]...)
	}
	return out
}

func expectRes(t testing.TB, what string, c CQE, want int32) {
	t.Helper()
	if c.Res != want {
		t.Fatalf("%s: res %d (%v), want %d", what, c.Res, c.Err(), want)
	}
}
