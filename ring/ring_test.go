//go:build linux && (amd64 || arm64)

package ring

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

func TestNopRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		mode TaskRun
	}{
		{"defer", DeferTaskrun},
		{"coop", CoopTaskrun},
		{"plain", PlainTaskrun},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newTestRing(t, Options{Entries: 16, CQEntries: 64, TaskRun: tt.mode, SubmitAll: true})
			if r.TaskRun() != tt.mode {
				t.Fatalf("TaskRun = %v, want %v (kernel 6.18 accepts all modes)", r.TaskRun(), tt.mode)
			}
			if r.SQEntries() != 16 || r.CQEntries() != 64 {
				t.Fatalf("sizes SQ %d CQ %d, want 16/64", r.SQEntries(), r.CQEntries())
			}
			for i := range 10 {
				s := mustSQE(t, r)
				s.Nop()
				s.SetUserData(uint64(100 + i))
			}
			got := byUserData(t, reap(t, r, 10))
			for i := range 10 {
				c, ok := got[uint64(100+i)]
				if !ok {
					t.Fatalf("missing CQE %d", 100+i)
				}
				expectRes(t, "nop", c, 0)
			}
			if r.CQReady() != 0 {
				t.Fatalf("CQReady = %d after reaping everything", r.CQReady())
			}
		})
	}
}

func TestGetSQEFullAndClose(t *testing.T) {
	r := newTestRing(t, Options{Entries: 4})
	for i := range 4 {
		if r.GetSQE() == nil {
			t.Fatalf("GetSQE %d returned nil on a 4-entry SQ", i)
		}
	}
	if r.GetSQE() != nil {
		t.Fatal("GetSQE returned an SQE from a full SQ")
	}
	if n, err := r.Submit(); err != nil || n != 4 {
		t.Fatalf("Submit = %d, %v; want 4, nil", n, err)
	}
	if r.GetSQE() == nil {
		t.Fatal("GetSQE returned nil after Submit freed the SQ")
	}
	if err := r.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := r.Submit(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Submit after Close = %v, want ErrClosed", err)
	}
	if r.GetSQE() != nil {
		t.Fatal("GetSQE after Close returned an SQE")
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	tests := []struct {
		name string
		opts Options
	}{
		{"cq smaller than sq", Options{Entries: 64, CQEntries: 32}},
		{"too many entries", Options{Entries: 1 << 20}},
		{"unknown task run", Options{TaskRun: TaskRun(7)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := New(tt.opts)
			if !errors.Is(err, ErrInvalid) {
				if r != nil {
					r.Close()
				}
				t.Fatalf("New(%+v) = %v, want ErrInvalid", tt.opts, err)
			}
		})
	}
}

func TestSocketpairSendRecv(t *testing.T) {
	r := newTestRing(t, Options{Entries: 8})
	a, b := socketPair(t)
	out := offHeap(t, 4096)
	in := offHeap(t, 4096)
	copy(out, "hello over io_uring")
	n := len("hello over io_uring")

	s := mustSQE(t, r)
	s.Recv(b, in, 0)
	s.SetUserData(1)
	s = mustSQE(t, r)
	s.Send(a, out[:n], 0)
	s.SetUserData(2)
	got := byUserData(t, reap(t, r, 2))
	expectRes(t, "send", got[2], int32(n))
	expectRes(t, "recv", got[1], int32(n))
	if !bytes.Equal(in[:n], out[:n]) {
		t.Fatalf("received %q, want %q", in[:n], out[:n])
	}
}

func TestLoopbackConnectAcceptSendRecv(t *testing.T) {
	r := newTestRing(t, Options{Entries: 8})
	ln, addr := listenLoopback(t)
	client, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(client)

	peer := offHeap(t, 256)
	peerLen := (*uint32)(unsafe.Pointer(&peer[128]))
	*peerLen = uint32(unsafe.Sizeof(unix.RawSockaddrAny{}))
	s := mustSQE(t, r)
	s.Accept(ln, rawSockaddr(peer), peerLen, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
	s.SetUserData(1)
	s = mustSQE(t, r)
	if err := r.PrepConnect(s, client, addr); err != nil {
		t.Fatal(err)
	}
	s.SetUserData(2)
	got := byUserData(t, reap(t, r, 2))
	expectRes(t, "connect", got[2], 0)
	conn := int(got[1].Res)
	if conn < 0 {
		t.Fatalf("accept: %v", got[1].Err())
	}
	defer unix.Close(conn)
	if *peerLen != unix.SizeofSockaddrInet4 || rawSockaddr(peer).Addr.Family != unix.AF_INET {
		t.Fatalf("accept address: len %d family %d", *peerLen, rawSockaddr(peer).Addr.Family)
	}

	msg := offHeap(t, 4096)
	for i := range msg {
		msg[i] = byte(i)
	}
	in := offHeap(t, 4096)
	s = mustSQE(t, r)
	s.Send(client, msg, 0)
	s.SetUserData(3)
	got = byUserData(t, reap(t, r, 1))
	expectRes(t, "send", got[3], 4096)
	total := 0
	for total < 4096 {
		s = mustSQE(t, r)
		s.Recv(conn, in[total:], 0)
		s.SetUserData(4)
		c := reap(t, r, 1)[0]
		if c.Res <= 0 {
			t.Fatalf("recv: res %d", c.Res)
		}
		total += int(c.Res)
	}
	if !bytes.Equal(in, msg) {
		t.Fatal("loopback data mismatch")
	}
}

func TestAcceptMultishot(t *testing.T) {
	r := newTestRing(t, Options{Entries: 8, CQEntries: 32})
	ln, addr := listenLoopback(t)
	s := mustSQE(t, r)
	s.AcceptMultishot(ln, unix.SOCK_CLOEXEC)
	s.SetUserData(7)
	if _, err := r.Submit(); err != nil {
		t.Fatal(err)
	}
	const clients = 3
	for range clients {
		dialBlocking(t, addr)
	}
	for i, c := range reap(t, r, clients) {
		if c.UserData != 7 || c.Res < 0 || !c.More() {
			t.Fatalf("accept CQE %d: %+v (err %v), want a fd with CQEFMore", i, c, c.Err())
		}
		unix.Close(int(c.Res))
	}
	s = mustSQE(t, r)
	s.AsyncCancel(7, 0)
	s.SetUserData(8)
	got := byUserData(t, reap(t, r, 2))
	expectRes(t, "cancel", got[8], 0)
	expectRes(t, "cancelled accept", got[7], -int32(unix.ECANCELED))
	if got[7].More() {
		t.Fatal("final accept CQE still has CQEFMore")
	}
}

func TestRecvMultishotBufferExhaustion(t *testing.T) {
	r := newTestRing(t, Options{Entries: 8, CQEntries: 64})
	const (
		group   = 3
		nbufs   = 4
		bufSize = 16
	)
	br, err := r.NewBufRing(group, nbufs, bufSize)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.NewBufRing(group, nbufs, bufSize); !errors.Is(err, ErrInvalid) {
		t.Fatalf("second group %d: %v, want ErrInvalid", group, err)
	}
	if _, err := r.NewBufRing(9, 3, bufSize); !errors.Is(err, ErrInvalid) {
		t.Fatalf("3 entries: %v, want ErrInvalid", err)
	}
	a, b := socketPair(t)
	want := make([]byte, 100) // more than nbufs*bufSize
	for i := range want {
		want[i] = byte('a' + i%26)
	}
	if n, err := unix.Write(a, want); err != nil || n != len(want) {
		t.Fatalf("write: %d, %v", n, err)
	}

	var got []byte
	var held []uint16
	arm := func() {
		s := mustSQE(t, r)
		s.RecvMultishot(b, group, 0)
		s.SetUserData(42)
	}
	arm()
	sawNoBufs := false
	for len(got) < len(want) {
		c := reap(t, r, 1)[0]
		switch {
		case c.Res > 0:
			bid, ok := c.BufferID()
			if !ok {
				t.Fatalf("recv CQE without CQEFBuffer: %+v", c)
			}
			got = append(got, br.Buf(bid)[:c.Res]...)
			held = append(held, bid)
			if !c.More() && len(got) < len(want) {
				arm()
			}
		case c.Res == -int32(unix.ENOBUFS):
			// The group ran dry: the multishot recv ended. Refill, re-arm.
			if c.More() {
				t.Fatal("ENOBUFS CQE has CQEFMore; the request should have ended")
			}
			if len(held) != nbufs {
				t.Fatalf("ENOBUFS with %d buffers held, want %d", len(held), nbufs)
			}
			sawNoBufs = true
			for _, bid := range held {
				br.Recycle(bid)
			}
			br.Advance(len(held))
			held = held[:0]
			arm()
		default:
			t.Fatalf("recv: %+v (%v)", c, c.Err())
		}
	}
	if !sawNoBufs {
		t.Fatal("never saw ENOBUFS although the data exceeds the buffer ring")
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("received %q, want %q", got, want)
	}
	// Still armed: cancel and drain the final CQE.
	s := mustSQE(t, r)
	s.AsyncCancelFd(b, CancelAll)
	s.SetUserData(43)
	m := byUserData(t, reap(t, r, 2))
	expectRes(t, "cancel by fd", m[43], 1)
	expectRes(t, "cancelled recv", m[42], -int32(unix.ECANCELED))
	if err := br.Close(); err != nil {
		t.Fatalf("BufRing.Close: %v", err)
	}
	if err := br.Close(); err != nil {
		t.Fatalf("second BufRing.Close: %v", err)
	}
}

// TestRecvMultishotIncremental: on an incremental buffer ring, small
// receives share a buffer, each one's bytes after the previous one's, with
// CQEFBufMore while the kernel keeps the buffer; a receive that fills the
// rest of it ends it (no CQEFBufMore), and the next goes on in another.
func TestRecvMultishotIncremental(t *testing.T) {
	r := newTestRing(t, Options{Entries: 8, CQEntries: 64})
	const group, bufSize = 5, 64
	br, err := r.NewBufRingIncremental(group, 4, bufSize, 4)
	if err != nil {
		t.Skipf("incremental buffer rings (6.12): %v", err)
	}
	if !br.Incremental() {
		t.Fatal("Incremental() = false")
	}
	a, b := socketPair(t)
	s := mustSQE(t, r)
	s.RecvMultishot(b, group, 0)
	s.SetUserData(42)
	if _, err := r.Submit(); err != nil {
		t.Fatal(err)
	}
	recv := func(msg string) (bid uint16, data []byte, done bool) {
		t.Helper()
		if n, err := unix.Write(a, []byte(msg)); err != nil || n != len(msg) {
			t.Fatalf("write: %d, %v", n, err)
		}
		c := reap(t, r, 1)[0]
		bid, ok := c.BufferID()
		if c.Res != int32(len(msg)) || !ok || !c.More() {
			t.Fatalf("recv %q: %+v", msg, c)
		}
		data, done = br.Consume(bid, int(c.Res), c.BufMore())
		if string(data) != msg {
			t.Fatalf("recv %q: Consume gave %q", msg, data)
		}
		if done == c.BufMore() {
			t.Fatalf("recv %q: done %v with CQEFBufMore %v", msg, done, c.BufMore())
		}
		return bid, data, done
	}
	bid1, d1, done1 := recv("first")
	bid2, d2, done2 := recv("second")
	if done1 || done2 || bid1 != bid2 {
		t.Fatalf("two small receives: buffers %d and %d, done %v %v; want one shared buffer", bid1, bid2, done1, done2)
	}
	if &d2[0] != &br.Buf(bid1)[len(d1)] {
		t.Fatal("the second receive's bytes do not follow the first's in the buffer")
	}
	// Fill the rest of the buffer exactly: the kernel is done with it.
	rest := strings.Repeat("x", bufSize-len(d1)-len(d2))
	bid3, _, done3 := recv(rest)
	if bid3 != bid1 || !done3 {
		t.Fatalf("filling receive: buffer %d (want %d), done %v", bid3, bid1, done3)
	}
	br.Recycle(bid3)
	br.Advance(1)
	if bid4, _, _ := recv("next"); bid4 == bid1 {
		t.Fatalf("the receive after a full buffer reused it (%d) before the others", bid4)
	}
	s = mustSQE(t, r)
	s.AsyncCancel(42, 0)
	s.SetUserData(43)
	m := byUserData(t, reap(t, r, 2))
	expectRes(t, "cancelled recv", m[42], -int32(unix.ECANCELED))
}

func TestTimeoutFires(t *testing.T) {
	r := newTestRing(t, Options{Entries: 8})
	s := mustSQE(t, r)
	r.PrepTimeout(s, 10*time.Millisecond, 0, 0)
	s.SetUserData(1)
	start := time.Now()
	c := reap(t, r, 1)[0]
	expectRes(t, "timeout", c, -int32(unix.ETIME))
	if time.Since(start) < 10*time.Millisecond {
		t.Fatalf("timeout fired after %v, before 10ms", time.Since(start))
	}
}

func TestTimeoutCount(t *testing.T) {
	r := newTestRing(t, Options{Entries: 8})
	s := mustSQE(t, r)
	r.PrepTimeout(s, time.Minute, 2, 0)
	s.SetUserData(1)
	for i := range 2 {
		s = mustSQE(t, r)
		s.Nop()
		s.SetUserData(uint64(10 + i))
	}
	got := byUserData(t, reap(t, r, 3))
	expectRes(t, "count timeout", got[1], 0)
}

func TestTimeoutRemove(t *testing.T) {
	r := newTestRing(t, Options{Entries: 8})
	s := mustSQE(t, r)
	r.PrepTimeout(s, time.Minute, 0, 0)
	s.SetUserData(1)
	if _, err := r.Submit(); err != nil {
		t.Fatal(err)
	}
	s = mustSQE(t, r)
	s.TimeoutRemove(1, 0)
	s.SetUserData(2)
	got := byUserData(t, reap(t, r, 2))
	expectRes(t, "timeout remove", got[2], 0)
	expectRes(t, "removed timeout", got[1], -int32(unix.ECANCELED))
}

func TestLinkTimeoutCancelsRecv(t *testing.T) {
	r := newTestRing(t, Options{Entries: 8})
	_, b := socketPair(t)
	in := offHeap(t, 64)
	s := mustSQE(t, r)
	s.Recv(b, in, 0)
	s.Link()
	s.SetUserData(1)
	s = mustSQE(t, r)
	r.PrepLinkTimeout(s, 20*time.Millisecond, 0)
	s.SetUserData(2)
	got := byUserData(t, reap(t, r, 2))
	expectRes(t, "recv", got[1], -int32(unix.ECANCELED))
	expectRes(t, "link timeout", got[2], -int32(unix.ETIME))
}

func TestAsyncCancel(t *testing.T) {
	r := newTestRing(t, Options{Entries: 8})
	_, b := socketPair(t)
	in := offHeap(t, 64)
	s := mustSQE(t, r)
	s.Recv(b, in, 0)
	s.SetUserData(1)
	if _, err := r.Submit(); err != nil {
		t.Fatal(err)
	}
	s = mustSQE(t, r)
	s.AsyncCancel(1, 0)
	s.SetUserData(2)
	got := byUserData(t, reap(t, r, 2))
	expectRes(t, "cancel", got[2], 0)
	expectRes(t, "recv", got[1], -int32(unix.ECANCELED))

	s = mustSQE(t, r)
	s.AsyncCancel(99, 0)
	s.SetUserData(3)
	expectRes(t, "cancel of nothing", reap(t, r, 1)[0], -int32(unix.ENOENT))
}

func TestPollAdd(t *testing.T) {
	r := newTestRing(t, Options{Entries: 8})
	a, b := socketPair(t)
	s := mustSQE(t, r)
	s.PollMultishot(b, unix.POLLIN)
	s.SetUserData(1)
	if _, err := r.Submit(); err != nil {
		t.Fatal(err)
	}
	unix.Write(a, []byte("x"))
	c := reap(t, r, 1)[0]
	if c.Res&unix.POLLIN == 0 || !c.More() {
		t.Fatalf("poll CQE %+v, want POLLIN with CQEFMore", c)
	}
	s = mustSQE(t, r)
	s.PollRemove(1)
	s.SetUserData(2)
	got := byUserData(t, reap(t, r, 2))
	expectRes(t, "poll remove", got[2], 0)
}

func TestSpliceFilePipeSocket(t *testing.T) {
	r := newTestRing(t, Options{Entries: 8})
	want := bytes.Repeat([]byte("splice!"), 1000)
	path := filepath.Join(t.TempDir(), "body")
	if err := os.WriteFile(path, want, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	a, b := socketPair(t)
	if err := unix.SetsockoptInt(a, unix.SOL_SOCKET, unix.SO_SNDBUF, 1<<20); err != nil {
		t.Fatal(err)
	}

	n := uint32(len(want))
	s := mustSQE(t, r)
	s.Splice(int(f.Fd()), 0, p[1], -1, n, unix.SPLICE_F_MOVE)
	s.Link()
	s.SetUserData(1)
	s = mustSQE(t, r)
	s.Splice(p[0], -1, a, -1, n, unix.SPLICE_F_MOVE)
	s.SetUserData(2)
	got := byUserData(t, reap(t, r, 2))
	expectRes(t, "file→pipe", got[1], int32(n))
	expectRes(t, "pipe→socket", got[2], int32(n))
	if data := readFull(t, b, len(want)); !bytes.Equal(data, want) {
		t.Fatal("spliced data mismatch")
	}
}

func TestSendZC(t *testing.T) {
	r := newTestRing(t, Options{Entries: 8})
	ln, addr := listenLoopback(t)
	client := dialBlocking(t, addr)
	deadline := time.Now().Add(testWait)
	var conn int
	for {
		fd, _, err := unix.Accept4(ln, unix.SOCK_CLOEXEC)
		if err == nil {
			conn = fd
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("accept: %v", err)
		}
		time.Sleep(time.Millisecond)
	}
	defer unix.Close(conn)
	msg := offHeap(t, 64<<10)
	for i := range msg {
		msg[i] = byte(i * 7)
	}
	s := mustSQE(t, r)
	s.SendZC(client, msg, 0, SendZCReportUsage)
	s.SetUserData(5)
	cqes := reap(t, r, 1)
	first := cqes[0]
	expectRes(t, "send_zc", first, int32(len(msg)))
	if !first.More() || first.Notif() {
		t.Fatalf("first SEND_ZC CQE %+v: want CQEFMore and no CQEFNotif", first)
	}
	notif := reap(t, r, 1)[0]
	if notif.UserData != 5 || !notif.Notif() || notif.More() {
		t.Fatalf("notification CQE %+v: want user_data 5, CQEFNotif, no CQEFMore", notif)
	}
	if data := readFull(t, conn, len(msg)); !bytes.Equal(data, msg) {
		t.Fatal("zero-copy data mismatch")
	}
}

func TestRegisteredFiles(t *testing.T) {
	r := newTestRing(t, Options{Entries: 8})
	if err := r.RegisterFilesSparse(8); err != nil {
		t.Fatal(err)
	}
	a, b := socketPair(t)
	if n, err := r.RegisterFilesUpdate(3, []int32{int32(a)}); err != nil || n != 1 {
		t.Fatalf("RegisterFilesUpdate = %d, %v", n, err)
	}
	out := offHeap(t, 16)
	copy(out, "fixed")
	s := mustSQE(t, r)
	s.Send(3, out[:5], 0)
	s.FixedFile()
	s.SetUserData(1)
	expectRes(t, "send on fixed file", reap(t, r, 1)[0], 5)
	if got := readFull(t, b, 5); string(got) != "fixed" {
		t.Fatalf("read %q", got)
	}
	if err := r.UnregisterFiles(); err != nil {
		t.Fatal(err)
	}
}

func TestSkipSuccess(t *testing.T) {
	r := newTestRing(t, Options{Entries: 8})
	s := mustSQE(t, r)
	s.Nop()
	s.SkipSuccess()
	s.SetUserData(1)
	s = mustSQE(t, r)
	s.Nop()
	s.SetUserData(2)
	c := reap(t, r, 1)[0]
	if c.UserData != 2 {
		t.Fatalf("got CQE for %d, want only 2", c.UserData)
	}
	if err := r.SubmitAndWait(0, 0); err != nil {
		t.Fatal(err)
	}
	if r.CQReady() != 0 {
		t.Fatalf("CQReady = %d, the skipped NOP posted a CQE", r.CQReady())
	}
}

// TestCQOverflow fills a tiny CQ far past its size without reaping; with
// FeatNoDrop the kernel keeps the surplus and PeekCQEs/SubmitAndWait flush
// it, so every completion arrives exactly once.
func TestCQOverflow(t *testing.T) {
	r := newTestRing(t, Options{Entries: 4, CQEntries: 8})
	if r.Features()&FeatNoDrop == 0 {
		t.Skip("kernel without IORING_FEAT_NODROP drops overflowed CQEs")
	}
	const total = 200
	for i := range total {
		s := mustSQE(t, r)
		s.Nop()
		s.SetUserData(uint64(i))
	}
	if _, err := r.Submit(); err != nil {
		t.Fatal(err)
	}
	if err := r.SubmitAndWait(0, 0); err != nil {
		t.Fatal(err)
	}
	if r.CQReady() != 8 {
		t.Fatalf("CQReady = %d, want a full CQ of 8", r.CQReady())
	}
	got := byUserData(t, reap(t, r, total))
	for i := range total {
		if _, ok := got[uint64(i)]; !ok {
			t.Fatalf("CQE %d lost", i)
		}
	}
	if r.CQOverflow() != 0 {
		t.Fatalf("kernel dropped %d CQEs", r.CQOverflow())
	}
}

// TestWrapAround drives a small SQ and CQ through thousands of random
// batches so both ring indices wrap many times, and checks that every
// user_data completes exactly once.
func TestWrapAround(t *testing.T) {
	for _, mode := range []TaskRun{DeferTaskrun, CoopTaskrun} {
		t.Run(mode.String(), func(t *testing.T) {
			r := newTestRing(t, Options{Entries: 8, CQEntries: 16, TaskRun: mode})
			rng := rand.New(rand.NewPCG(1, uint64(mode)))
			outstanding := make(map[uint64]bool)
			var next uint64
			buf := make([]CQE, 32)
			rounds := 3000
			if testing.Short() {
				rounds = 300
			}
			for range rounds {
				batch := 1 + rng.IntN(20)
				for range batch {
					s := r.GetSQE()
					if s == nil {
						if _, err := r.Submit(); err != nil {
							t.Fatal(err)
						}
						continue
					}
					s.Nop()
					s.SetUserData(next)
					outstanding[next] = true
					next++
				}
				if err := r.SubmitAndWait(rng.IntN(2), NoTimeout); err != nil {
					t.Fatal(err)
				}
				k := r.PeekCQEs(buf[:1+rng.IntN(len(buf)-1)])
				adv := k
				if k > 0 {
					adv = rng.IntN(k + 1) // sometimes leave some for the next round
				}
				for _, c := range buf[:adv] {
					if !outstanding[c.UserData] {
						t.Fatalf("unexpected or duplicate user_data %d", c.UserData)
					}
					delete(outstanding, c.UserData)
				}
				r.CQAdvance(adv)
			}
			for len(outstanding) > 0 {
				for _, c := range reap(t, r, 1) {
					if !outstanding[c.UserData] {
						t.Fatalf("unexpected or duplicate user_data %d", c.UserData)
					}
					delete(outstanding, c.UserData)
				}
			}
			if r.CQReady() != 0 {
				t.Fatalf("%d extra CQEs", r.CQReady())
			}
			if next < uint64(rounds) {
				t.Fatalf("only %d requests in %d rounds", next, rounds)
			}
		})
	}
}

// TestSingleIssuerOtherThread checks the DeferTaskrun contract: the ring
// works from the locked thread that created it and refuses another thread.
func TestSingleIssuerOtherThread(t *testing.T) {
	r := newTestRing(t, Options{Entries: 8})
	if r.TaskRun() != DeferTaskrun {
		t.Skipf("kernel gave %v", r.TaskRun())
	}
	s := mustSQE(t, r)
	s.Nop()
	s.SetUserData(1)
	reap(t, r, 1)

	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		errc <- r.SubmitAndWait(0, 0)
	}()
	select {
	case err := <-errc:
		if !errors.Is(err, ErrNotIssuer) {
			t.Fatalf("SubmitAndWait from another thread = %v, want ErrNotIssuer", err)
		}
	case <-time.After(testWait):
		t.Fatal("SubmitAndWait from another thread hung")
	}
}

func TestSubmitAndWaitTimeout(t *testing.T) {
	r := newTestRing(t, Options{Entries: 8})
	start := time.Now()
	if err := r.SubmitAndWait(1, 20*time.Millisecond); err != nil {
		t.Fatalf("SubmitAndWait on an idle ring: %v", err)
	}
	if el := time.Since(start); el < 20*time.Millisecond || el > testWait {
		t.Fatalf("waited %v, want about 20ms", el)
	}
	if r.CQReady() != 0 {
		t.Fatal("CQEs appeared on an idle ring")
	}
}

// TestSubmitAndWaitRaw: the raw wait submits, returns the completion that
// came, returns empty once its time is up, and refuses to wait without a
// time limit.
func TestSubmitAndWaitRaw(t *testing.T) {
	r := newTestRing(t, Options{Entries: 8})
	s := mustSQE(t, r)
	s.Nop()
	s.SetUserData(7)
	if err := r.SubmitAndWaitRaw(1, testWait); err != nil {
		t.Fatalf("SubmitAndWaitRaw with a NOP queued: %v", err)
	}
	got := make([]CQE, 4)
	if n := r.PeekCQEs(got); n != 1 || got[0].UserData != 7 {
		t.Fatalf("after the raw wait: %d CQEs %+v, want the NOP's", n, got[:n])
	}
	r.CQAdvance(1)
	if err := r.SubmitAndWaitRaw(1, time.Millisecond); err != nil {
		t.Fatalf("SubmitAndWaitRaw on an idle ring: %v", err)
	}
	if r.CQReady() != 0 {
		t.Fatal("CQEs appeared on an idle ring")
	}
	if err := r.SubmitAndWaitRaw(1, NoTimeout); !errors.Is(err, ErrInvalid) {
		t.Fatalf("SubmitAndWaitRaw(1, NoTimeout) = %v, want ErrInvalid", err)
	}
}

// TestRegisterRingFd: after RegisterRingFd the ring still submits and
// reaps (every enter now names it by index), and Close unregisters it.
func TestRegisterRingFd(t *testing.T) {
	r := newTestRing(t, Options{Entries: 8})
	if err := r.RegisterRingFd(); err != nil {
		t.Fatalf("RegisterRingFd: %v", err)
	}
	if err := r.RegisterRingFd(); err != nil {
		t.Fatalf("RegisterRingFd again: %v", err)
	}
	for i := range 3 {
		s := mustSQE(t, r)
		s.Nop()
		s.SetUserData(uint64(100 + i))
		if c := reap(t, r, 1)[0]; c.UserData != uint64(100+i) || c.Res != 0 {
			t.Fatalf("NOP %d through the registered ring: %+v", i, c)
		}
	}
	if err := r.SubmitAndWaitRaw(1, time.Millisecond); err != nil {
		t.Fatalf("raw wait through the registered ring: %v", err)
	}
}

func TestProbeDescribeAvailable(t *testing.T) {
	r := newTestRing(t, Options{Entries: 4})
	for _, op := range []Op{OpNop, OpAccept, OpRecv, OpSendZC, OpSplice} {
		if !r.Supported(op) {
			t.Errorf("%v not supported on this kernel", op)
		}
	}
	if r.Supported(Op(255)) {
		t.Error("opcode 255 reported as supported")
	}
	if err := Available(); err != nil {
		t.Fatalf("Available: %v", err)
	}
	d, err := Describe()
	if err != nil {
		t.Fatalf("Describe: %v", err)
	}
	for _, want := range []string{"SINGLE_ISSUER|DEFER_TASKRUN", "EXT_ARG", "SEND_ZC", "usable: yes"} {
		if !strings.Contains(d, want) {
			t.Errorf("Describe lacks %q:\n%s", want, d)
		}
	}
}

func TestExplainSetupError(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"seccomp", os.NewSyscallError("io_uring_setup", unix.EPERM), "io_uring_setup: operation not permitted (seccomp?)"},
		{"nosys", os.NewSyscallError("io_uring_setup", unix.ENOSYS), "CONFIG_IO_URING"},
	}
	if readDisabledSysctl() != "0" {
		t.Skip("kernel.io_uring_disabled is not 0 here")
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := explainSetupError(tt.err)
			if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("explainSetupError = %q, want ErrUnavailable mentioning %q", err, tt.want)
			}
		})
	}
}

func TestPutSockaddr(t *testing.T) {
	var raw unix.RawSockaddrAny
	n, err := PutSockaddr(&raw, &unix.SockaddrInet4{Port: 0x1234, Addr: [4]byte{127, 0, 0, 1}})
	if err != nil || n != unix.SizeofSockaddrInet4 {
		t.Fatalf("inet4: %d, %v", n, err)
	}
	b := (*[16]byte)(unsafe.Pointer(&raw))
	if b[2] != 0x12 || b[3] != 0x34 || b[4] != 127 || b[7] != 1 {
		t.Fatalf("inet4 bytes % x", b[:8])
	}
	if _, err := PutSockaddr(&raw, &unix.SockaddrUnix{Name: strings.Repeat("x", 200)}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("long unix path: %v", err)
	}
}

func rawSockaddr(b []byte) *unix.RawSockaddrAny {
	return (*unix.RawSockaddrAny)(unsafe.Pointer(&b[0]))
}

// TestRecvMultishotLimit: a limited multishot receive ends by itself
// (its last CQE without CQEFMore) with the receive that reaches the
// limit (which the kernel does not cut to it).
func TestRecvMultishotLimit(t *testing.T) {
	r := newTestRing(t, Options{Entries: 8, CQEntries: 64})
	if _, err := r.NewBufRing(3, 64, 1024); err != nil {
		t.Fatal(err)
	}
	a, b := socketPair(t)
	s := mustSQE(t, r)
	s.RecvMultishotLimit(b, 3, 0, 2500)
	s.SetUserData(42)
	if _, err := r.Submit(); err != nil {
		t.Fatal(err)
	}
	total := 0
	for i := 0; i < 5; i++ {
		if n, err := unix.Write(a, make([]byte, 1000)); n != 1000 || err != nil {
			t.Fatalf("write: %d, %v", n, err)
		}
		c := reap(t, r, 1)[0]
		if c.Res == -int32(unix.EINVAL) && i == 0 {
			t.Skip("this kernel has no multishot receive limit")
		}
		if c.Res <= 0 {
			t.Fatalf("recv %d: %+v (%v)", i, c, c.Err())
		}
		total += int(c.Res)
		if !c.More() {
			if i != 2 {
				t.Fatalf("the multishot ended after %d bytes in %d CQEs, want the third (2500 reached)", total, i+1)
			}
			return
		}
	}
	t.Fatalf("still armed after %d bytes, over the 2500 limit", total)
}
