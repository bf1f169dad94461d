package tls

import (
	"bytes"
	"errors"
	"io"
	"os"
	"testing"
	"unsafe"
)

// errSocket is what fakeSocket's failing send reports.
var errSocket = errors.New("fake socket: send failed")

// fakeSocket stands in for a reactor.Conn: it takes a send at once, or
// holds it (done=false) until complete, as a socket whose buffer is full;
// like the reactor, it holds a half-close back behind a send in flight.
type fakeSocket struct {
	tb      testing.TB
	hold    bool // Send reports done=false; complete finishes it
	discard bool // keep nothing of what is sent (allocation tests)
	failAt  int  // the failAt-th Send fails (counting from 1); 0: none
	failEnd int  // the failEnd-th held send fails when it completes

	sends    int
	ends     int
	pending  []byte
	sent     []byte // every byte taken, in order
	shutAt   int    // len(sent) when the half-close took effect; -1 before
	shutWait bool
}

func newFakeSocket(tb testing.TB, hold bool) *fakeSocket {
	return &fakeSocket{tb: tb, hold: hold, shutAt: -1}
}

func (s *fakeSocket) Send(b []byte) (bool, error) {
	if s.pending != nil {
		s.tb.Fatal("Send with a send in flight")
	}
	if s.shutAt >= 0 || s.shutWait {
		s.tb.Fatal("Send after ShutdownWrite")
	}
	s.sends++
	if s.sends == s.failAt {
		return false, errSocket
	}
	if s.hold {
		s.pending = b
		return false, nil
	}
	s.take(b)
	return true, nil
}

func (s *fakeSocket) take(b []byte) {
	if !s.discard {
		s.sent = append(s.sent, b...)
	}
}

func (s *fakeSocket) ShutdownWrite() {
	if s.pending != nil {
		s.shutWait = true
		return
	}
	s.shutAt = len(s.sent)
}

// complete finishes the send in flight and returns its result.
func (s *fakeSocket) complete() error {
	s.ends++
	if s.ends == s.failEnd {
		s.pending = nil
		return errSocket
	}
	s.take(s.pending)
	s.pending = nil
	if s.shutWait {
		s.shutWait, s.shutAt = false, len(s.sent)
	}
	return nil
}

// fakePool stands in for the loop's buffer pool: buffers of one size,
// checked for double puts and for buffers it never handed out.
type fakePool struct {
	tb   testing.TB
	size int
	all  [][]byte // every buffer handed out, by its first byte
	free [][]byte
	lent int
}

func newFakePool(tb testing.TB, size int) *fakePool { return &fakePool{tb: tb, size: size} }

func (p *fakePool) GetBuf(int) []byte {
	p.lent++
	if n := len(p.free); n > 0 {
		b := p.free[n-1]
		p.free = p.free[:n-1]
		return b[:0]
	}
	b := make([]byte, 0, p.size)
	p.all = append(p.all, b)
	return b
}

func (p *fakePool) PutBuf(b []byte) {
	if !p.has(p.all, b) || cap(b) != p.size {
		p.tb.Fatalf("PutBuf of a buffer the pool never handed out (cap %d)", cap(b))
	}
	if p.has(p.free, b) {
		p.tb.Fatal("PutBuf of a buffer already in the pool")
	}
	p.lent--
	p.free = append(p.free, b)
}

func (p *fakePool) has(list [][]byte, b []byte) bool {
	for _, x := range list {
		if unsafe.SliceData(x) == unsafe.SliceData(b) {
			return true
		}
	}
	return false
}

// senderPair is a Sender on one end of an established memPair, the other
// end reading what its socket took.
type senderPair struct {
	p    *memPair
	from *Conn // the Sender's end
	to   *Conn // the reading end
	sock *fakeSocket
	pool *fakePool
	s    Sender
}

func newSenderPair(tb testing.TB, client bool, hold bool, poolSize int) *senderPair {
	tb.Helper()
	ctx, cc := versionContext(tb, 0x0304)
	p := newMemPair(tb, ctx, cc)
	p.mustHandshake()
	x := &senderPair{p: p, from: p.server, to: p.client, sock: newFakeSocket(tb, hold), pool: newFakePool(tb, poolSize)}
	if client {
		x.from, x.to = p.client, p.server
	}
	x.s.Init(x.from, x.sock, x.pool)
	return x
}

// drive completes held sends until the Sender has none in flight and
// returns what the last SendDone reported.
func (x *senderPair) drive() (owed bool, err error) {
	for x.sock.pending != nil {
		var busy bool
		if busy, owed, err = x.s.SendDone(x.sock.complete()); !busy {
			return owed, err
		}
	}
	return false, nil
}

// check fails tb unless the peer reads exactly want, ended by end, and
// every pooled buffer is back.
func (x *senderPair) check(tb testing.TB, want []byte, end error) {
	tb.Helper()
	got, err := x.received(tb)
	if !errors.Is(err, end) {
		tb.Errorf("peer's read ended with %v, want %v", err, end)
	}
	if !bytes.Equal(got, want) {
		tb.Errorf("peer read %d bytes, want the %d sent", len(got), len(want))
	}
	x.checkPool(tb)
}

func (x *senderPair) checkPool(tb testing.TB) {
	tb.Helper()
	if x.pool.lent != 0 {
		tb.Errorf("%d pooled buffers not given back", x.pool.lent)
	}
}

// received decrypts what the socket took: the plaintext, and the error
// that ended it (ErrWouldBlock when the stream goes on, io.EOF after a
// close_notify).
func (x *senderPair) received(tb testing.TB) ([]byte, error) {
	tb.Helper()
	x.to.Feed(x.sock.sent)
	var got []byte
	buf := make([]byte, MaxRecordPlaintext)
	for {
		n, err := x.to.Read(buf)
		got = append(got, buf[:n]...)
		if n == 0 {
			return got, err
		}
	}
}

// body is n bytes that tell where they are.
func body(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}

// writeTemp writes b to a file and returns it open.
func writeTemp(tb testing.TB, b []byte) *os.File {
	tb.Helper()
	f, err := os.CreateTemp(tb.TempDir(), "body")
	if err == nil {
		_, err = f.Write(b)
	}
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { f.Close() })
	return f
}

// TestSenderDelivers sends bytes and file regions in both directions,
// through a socket that takes every send at once and one that holds each
// until it completes: the peer reads exactly what was sent, a batch of
// sendBatch per socket send, the caller hears of a held send's end once,
// and every pooled buffer comes back.
func TestSenderDelivers(t *testing.T) {
	file := body(200 << 10)
	tests := []struct {
		name     string
		client   bool  // the Sender is on the client's end
		hold     bool  // the socket holds every send
		n        int   // bytes sent
		fileOff  int64 // -1: Send; else SendFile of file from this offset
		wantSend int   // socket sends
	}{
		{name: "small bytes at once", n: 100, fileOff: -1, wantSend: 1},
		{name: "small bytes held", hold: true, n: 100, fileOff: -1, wantSend: 1},
		{name: "large bytes at once", n: 150 << 10, fileOff: -1, wantSend: 4},
		{name: "large bytes held", hold: true, n: 150 << 10, fileOff: -1, wantSend: 4},
		{name: "exact batch held", hold: true, n: sendBatch, fileOff: -1, wantSend: 1},
		{name: "client large bytes held", client: true, hold: true, n: 150 << 10, fileOff: -1, wantSend: 4},
		{name: "file at once", n: 100 << 10, fileOff: 1000, wantSend: 3},
		{name: "file held", hold: true, n: 100 << 10, fileOff: 1000, wantSend: 3},
		{name: "client file held", client: true, hold: true, n: 100 << 10, fileOff: 7, wantSend: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := newSenderPair(t, tt.client, tt.hold, 64<<10)
			var want []byte
			var done bool
			var err error
			if tt.fileOff < 0 {
				want = body(tt.n)
				done, err = x.s.Send(want)
			} else {
				want = file[tt.fileOff : tt.fileOff+int64(tt.n)]
				done, err = x.s.SendFile(int(writeTemp(t, file).Fd()), tt.fileOff, int64(tt.n))
			}
			if err != nil {
				t.Fatal(err)
			}
			if done == tt.hold {
				t.Fatalf("send done=%v with a socket that holds sends: %v", done, tt.hold)
			}
			if tt.hold {
				if !x.s.Sending() {
					t.Fatal("Sending() false with a send held")
				}
				owed, err := x.drive()
				if err != nil || !owed {
					t.Fatalf("end of the held send: owed %v, err %v; want true, nil", owed, err)
				}
			}
			if x.s.Sending() {
				t.Error("Sending() true after the end")
			}
			if x.sock.sends != tt.wantSend {
				t.Errorf("%d socket sends, want %d", x.sock.sends, tt.wantSend)
			}
			x.check(t, want, ErrWouldBlock)
		})
	}
}

// TestSenderFlush sends the engine's own output (a close_notify queued
// directly here) without any send of the caller's.
func TestSenderFlush(t *testing.T) {
	x := newSenderPair(t, false, true, 64<<10)
	if done, err := x.s.Flush(); !done || err != nil {
		t.Fatalf("Flush with nothing pending: %v, %v", done, err)
	}
	x.from.CloseNotify()
	if done, err := x.s.Flush(); done || err != nil {
		t.Fatalf("Flush of an alert on a holding socket: %v, %v; want false, nil", done, err)
	}
	if owed, err := x.drive(); owed || err != nil {
		t.Fatalf("end of the engine's send: owed %v, err %v; want false, nil", owed, err)
	}
	x.check(t, nil, io.EOF)
}

// TestSenderShutdownWrite checks that the half-close comes after the
// caller's whole send and a close_notify, whenever it is asked for.
func TestSenderShutdownWrite(t *testing.T) {
	tests := []struct {
		name   string
		n      int  // bytes sent first
		during bool // ShutdownWrite while the send is in flight
	}{
		{name: "nothing sent"},
		{name: "after the send", n: 150 << 10},
		{name: "during the send", n: 150 << 10, during: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := newSenderPair(t, false, true, 64<<10)
			want := body(tt.n)
			if tt.n > 0 {
				if _, err := x.s.Send(want); err != nil {
					t.Fatal(err)
				}
			}
			if tt.during {
				x.s.ShutdownWrite()
				if x.sock.shutAt >= 0 || x.sock.shutWait {
					t.Fatal("the half-close did not wait for the send in flight")
				}
			}
			if tt.n > 0 {
				if owed, err := x.drive(); !owed || err != nil {
					t.Fatalf("end of the send: owed %v, err %v; want true, nil", owed, err)
				}
			}
			if !tt.during {
				x.s.ShutdownWrite()
			}
			x.drive() // the alert, if it was held
			if x.sock.shutAt != len(x.sock.sent) {
				t.Fatalf("half-close after %d of %d bytes", x.sock.shutAt, len(x.sock.sent))
			}
			x.check(t, want, io.EOF) // after the close_notify
		})
	}
}

// TestSenderErrors checks that a failed send is reported once, with
// nothing more of the caller's bytes sent afterwards and every pooled
// buffer back.
func TestSenderErrors(t *testing.T) {
	tests := []struct {
		name    string
		hold    bool // the socket holds every send
		failAt  int  // the socket's send that fails at once
		failEnd int  // the socket's held send that fails when it completes
		short   bool // send a file region past the end of the file
		want    error
	}{
		{name: "socket refuses the first send", failAt: 1, want: errSocket},
		{name: "socket refuses a later send", hold: true, failAt: 2, want: errSocket},
		{name: "send in flight fails", hold: true, failEnd: 1, want: errSocket},
		{name: "file shorter than the region", hold: true, short: true, want: io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := newSenderPair(t, false, tt.hold, 64<<10)
			x.sock.failAt, x.sock.failEnd = tt.failAt, tt.failEnd
			b := body(150 << 10)
			var err error
			if tt.short {
				_, err = x.s.SendFile(int(writeTemp(t, b).Fd()), 0, 2*int64(len(b)))
			} else {
				_, err = x.s.Send(b)
			}
			if err == nil {
				var owed bool
				if owed, err = x.drive(); !owed {
					t.Error("the end of the failed send was not reported as the caller's")
				}
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("send ended with %v, want %v", err, tt.want)
			}
			sends := x.sock.sends
			if done, err := x.s.Flush(); !done || err != nil || x.sock.sends != sends {
				t.Errorf("after the error Flush sent more: %v, %v, %d socket sends, not %d", done, err, x.sock.sends, sends)
			}
			x.checkPool(t)
		})
	}
}

// TestSenderHeapOutput gives the Sender a pool of buffers smaller than a
// batch's records: the output goes to the heap, the pool gets back only
// its own buffers, and the peer still reads everything.
func TestSenderHeapOutput(t *testing.T) {
	x := newSenderPair(t, false, true, 1<<10)
	want := body(100 << 10)
	if _, err := x.s.Send(want); err != nil {
		t.Fatal(err)
	}
	if owed, err := x.drive(); !owed || err != nil {
		t.Fatalf("end of the send: owed %v, err %v; want true, nil", owed, err)
	}
	x.check(t, want, ErrWouldBlock)
}

// TestSenderRelease releases a Sender with a send in flight, as a
// connection closed mid-response does: the buffer goes back, and the
// Sender is zero again.
func TestSenderRelease(t *testing.T) {
	x := newSenderPair(t, false, true, 64<<10)
	if _, err := x.s.Send(body(150 << 10)); err != nil {
		t.Fatal(err)
	}
	x.s.Release()
	x.checkPool(t)
	if x.s.t != nil || x.s.sock != nil || x.s.bufs != nil || x.s.Sending() || x.s.rest != nil {
		t.Error("Release left state behind")
	}
}
