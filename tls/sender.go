package tls

import (
	"io"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// MaxRecordPlaintext is the most plaintext one record carries (RFC 8446
// §5.1): a Read into a buffer this long takes a whole record at once.
const MaxRecordPlaintext = 16 << 10

// sendBatch is the plaintext a Sender encrypts per socket send: three full
// records, so that a large body costs one send per 48 KiB and the
// ciphertext (with record overhead) still fits a loop's 64 KiB pooled
// buffer (reactor.LargeBuf).
const sendBatch = 3 * MaxRecordPlaintext

// Socket is where a Sender's ciphertext goes: the connection's
// reactor.Conn, on its loop thread.
type Socket interface {
	// Send writes all of b. done=false means the end is reported later
	// (the caller passes it to Sender.SendDone) and b must not change
	// until then; one send at a time.
	Send(b []byte) (done bool, err error)
	// ShutdownWrite half-closes the socket behind everything sent so far,
	// a send in flight included.
	ShutdownWrite()
}

// Buffers lends a Sender the buffers ciphertext is sent from and file
// bytes are read into: the loop's pool (reactor.Loop). GetBuf returns an
// empty buffer of at least size bytes of capacity, or less when size is
// past the largest the pool has; PutBuf takes a buffer GetBuf returned.
type Buffers interface {
	GetBuf(size int) []byte
	PutBuf(b []byte)
}

// Sender sends a Conn's records over its socket from the loop thread: the
// engine's own output (handshake flights, alerts, a TLS 1.3 KeyUpdate
// answer), and the caller's plaintext or file region, encrypted one batch
// of sendBatch at a time. One socket send is in flight at a time: the
// next batch is encrypted only when the previous one is out, so a slow
// peer holds one pooled buffer of ciphertext, never the whole body.
//
// It serves both directions, a server's client connections and a proxy's
// upstream connections; what differs between them (the handshake, what
// becomes of the plaintext read, kernel TLS, who closes on an error)
// stays with the caller, which hears of every end through the results of
// Send, SendFile and SendDone.
//
// Invariant, between calls: the caller's bytes still to encrypt (rest,
// the file region) exist only while a socket send is in flight, so
// Sending says whether anything of the Sender's is under way; after an
// error they are dropped.
//
// The zero Sender is unusable until Init; Release returns it to zero.
// Loop thread only. A Sender must not be copied.
type Sender struct {
	t    *Conn
	sock Socket
	bufs Buffers

	inflight       []byte // ciphertext the socket is sending; nil when none
	inflightPooled bool   // inflight came from bufs (else from the heap)
	rest           []byte // plaintext of the caller's Send still to encrypt
	fileFd         int    // the caller's SendFile region still to read and encrypt
	fileOff        int64
	fileLeft       int64
	owed           bool // the caller's send reported done=false: SendDone reports its end
	shutAfter      bool // ShutdownWrite waits for the send in flight
}

// Init readies s to send t's records on sock, with buffers from bufs.
func (s *Sender) Init(t *Conn, sock Socket, bufs Buffers) {
	*s = Sender{t: t, sock: sock, bufs: bufs}
}

// Send encrypts b and sends it. done=false means the end is reported by
// SendDone (owed=true), and b must not change until then. After an error
// nothing more of b is sent.
func (s *Sender) Send(b []byte) (done bool, err error) {
	s.rest = b
	return s.start()
}

// SendFile reads n bytes of the file fd from off, a batch at a time, and
// sends them encrypted, with the completion rule of Send; fd must stay
// open until the end. A file shorter than off+n fails the send with
// io.ErrUnexpectedEOF.
func (s *Sender) SendFile(fd int, off, n int64) (done bool, err error) {
	s.fileFd, s.fileOff, s.fileLeft = fd, off, n
	return s.start()
}

func (s *Sender) start() (bool, error) {
	done, err := s.pump()
	if err == nil && !done {
		s.owed = true
	}
	return done, err
}

// Flush sends the output the engine made on its own (a handshake flight,
// an alert, a KeyUpdate answer). done=false with no error means a socket
// send is in flight, and SendDone goes on with the rest. A send of the
// caller's in flight carries the engine's output out behind it.
func (s *Sender) Flush() (done bool, err error) {
	return s.pump()
}

// Sending reports whether a socket send of the Sender's is in flight.
func (s *Sender) Sending() bool { return s.inflight != nil }

// SendDone takes the end of the socket send in flight (err as the socket
// reported it) and sends what remains. busy=true: another socket send is
// in flight and SendDone runs again when it ends. Otherwise all is out,
// or err says why not, and owed says whether that ends a Send or SendFile
// that had reported done=false: the caller then reports that end as it
// would a socket's. When owed is false the send was the engine's own
// output, and an error means the connection is broken.
func (s *Sender) SendDone(err error) (busy, owed bool, _ error) {
	s.putInflight()
	if err == nil {
		var done bool
		if done, err = s.pump(); err == nil && !done {
			return true, false, nil
		}
		if err == nil && s.shutAfter {
			s.shutAfter = false
			err = s.closeWrite()
		}
	}
	if err != nil {
		s.drop()
	}
	owed, s.owed = s.owed, false
	return false, owed, err
}

// ShutdownWrite half-closes the connection after a close_notify alert:
// at once when nothing is in flight, else once the send in flight (the
// caller's whole send with it) is out, from SendDone. Nothing may be sent
// afterwards. Call it only once the handshake is done (before that, shut
// the socket down directly: there is no alert to send).
func (s *Sender) ShutdownWrite() {
	if s.inflight != nil {
		s.shutAfter = true
		return
	}
	s.closeWrite()
}

// closeWrite queues the close_notify alert, starts sending it and
// half-closes the socket behind it (the socket holds a shutdown back
// until the send in flight is done).
func (s *Sender) closeWrite() error {
	s.t.CloseNotify()
	_, err := s.pump()
	s.sock.ShutdownWrite()
	return err
}

// pump sends pending ciphertext, encrypting the rest of the caller's
// send (bytes, then file) one batch at a time. It reports done when
// nothing is left to send; false with no error means a send is in flight.
// On an error the caller's bytes still to send are dropped.
func (s *Sender) pump() (bool, error) {
	for {
		if s.inflight != nil {
			return false, nil
		}
		if s.t.Pending() == 0 {
			var err error
			switch {
			case len(s.rest) > 0:
				err = s.encryptRest()
			case s.fileLeft > 0:
				err = s.encryptFile()
			default:
				return true, nil
			}
			if err != nil {
				s.drop()
				return false, err
			}
		}
		buf := s.bufs.GetBuf(s.t.Pending())
		out := s.t.Output(buf)
		// Output of more than the pooled buffer holds (it does not happen
		// with batches of sendBatch) moved to the heap.
		pooled := cap(out) == cap(buf) && unsafe.SliceData(out) == unsafe.SliceData(buf)
		if !pooled {
			s.bufs.PutBuf(buf)
		}
		done, err := s.sock.Send(out)
		if err != nil {
			if pooled {
				s.bufs.PutBuf(out)
			}
			s.drop()
			return false, err
		}
		if !done {
			s.inflight, s.inflightPooled = out, pooled
			return false, nil
		}
		if pooled {
			s.bufs.PutBuf(out)
		}
	}
}

// encryptRest encrypts the next batch of the caller's bytes.
func (s *Sender) encryptRest() error {
	k := min(len(s.rest), sendBatch)
	if _, err := s.t.Write(s.rest[:k]); err != nil {
		return err
	}
	s.rest = s.rest[k:]
	return nil
}

// encryptFile reads the next batch of the caller's file region into a
// pooled buffer and encrypts it.
func (s *Sender) encryptFile() error {
	buf := s.bufs.GetBuf(sendBatch)
	err := s.encryptFileBatch(buf[:min(int64(cap(buf)), sendBatch, s.fileLeft)])
	s.bufs.PutBuf(buf)
	return err
}

func (s *Sender) encryptFileBatch(buf []byte) error {
	n, err := unix.Pread(s.fileFd, buf, s.fileOff)
	if err != nil {
		return os.NewSyscallError("pread", err)
	}
	if n == 0 {
		return io.ErrUnexpectedEOF // the file shrank under us
	}
	if _, err := s.t.Write(buf[:n]); err != nil {
		return err
	}
	s.fileOff += int64(n)
	s.fileLeft -= int64(n)
	return nil
}

// drop abandons the caller's bytes still to send, after an error.
func (s *Sender) drop() {
	s.rest, s.fileLeft = nil, 0
}

// putInflight gives the ciphertext buffer of a finished send back.
func (s *Sender) putInflight() {
	if s.inflight != nil && s.inflightPooled {
		s.bufs.PutBuf(s.inflight)
	}
	s.inflight = nil
}

// Release gives the buffer of a send in flight back and returns s to its
// zero value. Call it once the socket is closed (a send in flight is then
// abandoned, and its buffer is free) or when nothing is in flight; the
// Conn is the caller's to close.
func (s *Sender) Release() {
	s.putInflight()
	*s = Sender{}
}
