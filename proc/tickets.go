//go:build linux

package proc

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"os"
	"runtime"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/nproxy/nproxy/server"
)

// TLS session ticket keys shared by every worker.
//
// SO_REUSEPORT hashes each new connection to any worker, so a client that
// resumes a TLS session usually lands on another worker than the one that
// issued its ticket. The ticket decrypts there only if every worker holds
// the same keys, so the keys are made by the master, not by each worker's
// crypto/tls: the master writes them into one shared page, every worker
// maps that page read-only and hands the keys to its server.
//
// The page is a memfd (not sealed: the master rewrites it on rotation)
// that outlives reloads, so sessions survive a SIGHUP; a new master (a
// binary restart) makes new keys. Its layout, in the machine's byte order
// (little-endian on amd64 and arm64; the page never leaves the machine):
//
//	offset  0  uint64    sequence number (seqlock: odd while the master
//	                     writes, +2 for each published key set)
//	offset  8  [32]byte  current key: encrypts new tickets
//	offset 40  [32]byte  previous key: decrypts tickets of the last period
//	offset 72  [32]byte  next key: the master's next current key
//
// crypto/tls's Config.SetSessionTicketKeys encrypts with keys[0] and tries
// them all to decrypt, so a worker hands over [current, previous, next].
// The next key covers the second at most between the master's rotation
// and a worker's poll: a worker that already rotated issues tickets under
// the new current key, which a worker that has not rotated yet still
// decrypts as its next key.
//
// Seqlock: the master (the only writer) stores seq+1, the keys, then
// seq+2; a reader loads seq, copies the keys, loads seq again and keeps
// the copy only if both loads returned the same even value. Every access
// is an atomic 8-byte load or store, so a reader's copy is ordered against
// the master's writes (Go's atomics are sequentially consistent) and a
// torn copy is always caught by the second load.
const (
	ticketSeqOff   = 0
	ticketKeysOff  = 8
	ticketKeyCount = 3
	ticketKeyWords = 32 / 8
	ticketLayout   = ticketKeysOff + ticketKeyCount*32

	// Key positions in the region and in the slice handed to the server.
	ticketCurrent  = 0
	ticketPrevious = 1
	ticketNext     = 2
)

const (
	// ticketKeyRotation is how often the master rotates the keys. A
	// ticket is encrypted under the current key and still decrypts while
	// that key is the previous one, so a ticket lives at most two periods
	// (at least one) whatever lifetime it advertises: this bounds how long
	// a stolen key can decrypt recorded sessions (forward secrecy of
	// resumed sessions). nginx rotated its ticket keys only on a reload
	// (or by hand, with ssl_session_ticket_key files) until 1.23.2; since
	// then it rotates them on its own when ssl_session_cache is shared.
	ticketKeyRotation = time.Hour

	// ticketKeyPoll is how often a worker checks the sequence number; a
	// rotation reaches every worker within this (plus one loop tick).
	ticketKeyPoll = time.Second

	// ticketLoadRetries bounds a reader's attempts to copy a consistent
	// key set. The master's write lasts a few dozen nanoseconds, so a
	// reader that fails this often faces a master that died mid-write,
	// and keeps the keys it has.
	ticketLoadRetries = 1000
)

// ticketRegion is a mapping of the key page, read-write in the master and
// read-only in a worker.
type ticketRegion struct {
	mem []byte
}

func (r ticketRegion) seq() *atomic.Uint64 {
	return (*atomic.Uint64)(unsafe.Pointer(&r.mem[ticketSeqOff]))
}

// word returns the j-th 8-byte word of key i.
func (r ticketRegion) word(i, j int) *atomic.Uint64 {
	return (*atomic.Uint64)(unsafe.Pointer(&r.mem[ticketKeysOff+32*i+8*j]))
}

// mapTicketRegion maps the region file fd with prot, after checking its
// size: one page, as newTicketKeyWriter makes it.
func mapTicketRegion(fd, prot int) (ticketRegion, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return ticketRegion{}, os.NewSyscallError("fstat", err)
	}
	size := os.Getpagesize()
	if st.Size != int64(size) {
		return ticketRegion{}, fmt.Errorf("%w: %d bytes, want %d", ErrTicketKeys, st.Size, size)
	}
	mem, err := unix.Mmap(fd, 0, size, prot, unix.MAP_SHARED)
	if err != nil {
		return ticketRegion{}, os.NewSyscallError("mmap", err)
	}
	return ticketRegion{mem: mem}, nil
}

func (r ticketRegion) unmap() error {
	if r.mem == nil {
		return nil
	}
	return os.NewSyscallError("munmap", unix.Munmap(r.mem))
}

// TicketKeys is a worker's read-only view of the master's session ticket
// keys. Its methods may be called from any goroutine.
type TicketKeys struct {
	r ticketRegion
}

// OpenTicketKeys maps the key region the master handed down as descriptor
// fd. It returns ErrTicketKeys when fd is not a region of the expected
// size. fd may be closed afterwards.
func OpenTicketKeys(fd int) (*TicketKeys, error) {
	r, err := mapTicketRegion(fd, unix.PROT_READ)
	if err != nil {
		return nil, err
	}
	return &TicketKeys{r: r}, nil
}

// Seq returns the region's sequence number without copying the keys: it
// changes, by 2, each time the master publishes keys, and is odd while it
// writes. It is 0 until the first key set is published.
func (k *TicketKeys) Seq() uint64 { return k.r.seq().Load() }

// Load copies a consistent key set, [current, previous, next], with the
// sequence number it was published under. It returns 0 and nil when no
// key set has been published or when the master stayed mid-write through
// every retry (it died writing): the caller keeps the keys it has.
func (k *TicketKeys) Load() (seq uint64, keys [][32]byte) {
	var set [ticketKeyCount][32]byte
	for range ticketLoadRetries {
		s1 := k.r.seq().Load()
		if s1 == 0 {
			return 0, nil
		}
		if s1&1 != 0 {
			runtime.Gosched()
			continue
		}
		for i := range set {
			for j := range ticketKeyWords {
				binary.NativeEndian.PutUint64(set[i][8*j:], k.r.word(i, j).Load())
			}
		}
		if k.r.seq().Load() == s1 {
			return s1, set[:]
		}
	}
	return 0, nil
}

// Close unmaps the region; k must not be used after.
func (k *TicketKeys) Close() error {
	r := k.r
	k.r = ticketRegion{}
	return r.unmap()
}

// ticketKeyWriter is the master's side of the region: it owns the memfd
// handed to every worker and is the region's only writer. It is used by
// the master loop only.
type ticketKeyWriter struct {
	file *os.File
	r    ticketRegion
	keys [ticketKeyCount][32]byte // what the region holds
}

// newTicketKeyWriter makes the region and publishes a first key set.
// Every key is random, the previous one included: no ticket was issued
// under it, but a worker still accepts tickets it decrypts, so a known
// key (zeros) would let anyone forge a session.
func newTicketKeyWriter() (*ticketKeyWriter, error) {
	fd, err := unix.MemfdCreate("nproxy-tickets", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("memfd_create", err)
	}
	f := os.NewFile(uintptr(fd), "nproxy-tickets")
	if err := unix.Ftruncate(fd, int64(os.Getpagesize())); err != nil {
		f.Close()
		return nil, os.NewSyscallError("ftruncate", err)
	}
	r, err := mapTicketRegion(fd, unix.PROT_READ|unix.PROT_WRITE)
	if err != nil {
		f.Close()
		return nil, err
	}
	w := &ticketKeyWriter{file: f, r: r}
	for i := range w.keys {
		w.keys[i] = randomTicketKey()
	}
	w.publish(w.keys)
	return w, nil
}

// rotate makes the next key current and the current one previous, draws a
// new next key and publishes the set.
func (w *ticketKeyWriter) rotate() {
	k := w.keys
	k[ticketCurrent], k[ticketPrevious], k[ticketNext] = w.keys[ticketNext], w.keys[ticketCurrent], randomTicketKey()
	w.publish(k)
}

// publish writes keys into the region under the seqlock: seq odd, the
// keys, seq even again.
func (w *ticketKeyWriter) publish(keys [ticketKeyCount][32]byte) {
	w.keys = keys
	seq := w.r.seq()
	s := seq.Load()
	seq.Store(s + 1)
	for i := range keys {
		for j := range ticketKeyWords {
			w.r.word(i, j).Store(binary.NativeEndian.Uint64(keys[i][8*j:]))
		}
	}
	seq.Store(s + 2)
}

// close unmaps the region and closes the master's descriptor; workers keep
// their own mappings.
func (w *ticketKeyWriter) close() {
	w.r.unmap()
	w.file.Close()
}

// randomTicketKey returns a key from crypto/rand, whose Read never fails
// (it crashes the program rather than return predictable bytes).
func randomTicketKey() [32]byte {
	var k [32]byte
	rand.Read(k[:])
	return k
}

// ticketKeyPoller hands the region's keys to a server: once at start, then
// whenever the sequence number changed, checked at most every
// ticketKeyPoll on the worker's loop.
type ticketKeyPoller struct {
	keys  *TicketKeys
	apply func(keys [][32]byte) // called on the loop thread
	seq   uint64                // of the keys last applied
	next  int64                 // loop clock (Unix ns) of the next check
}

// pollOnLoop is the poller's loop ticker (reactor.Loop.AddTicker): the
// loop runs it after every poll, so it returns at once until the next
// check is due; a check is one atomic load unless the keys changed.
func (p *ticketKeyPoller) pollOnLoop(now int64) {
	if now < p.next {
		return
	}
	p.next = now + int64(ticketKeyPoll)
	if p.keys.Seq() == p.seq {
		return
	}
	seq, keys := p.keys.Load()
	if keys == nil {
		return
	}
	p.seq = seq
	p.apply(keys)
}

// useTicketKeys gives srv its session ticket keys (startTicketKeys). It
// runs on the goroutine that will run the loop, before the loop starts,
// so every call to SetTicketKeys happens on the loop thread.
func (w *Worker) useTicketKeys(srv *server.Server) {
	if poll := startTicketKeys(w.opts.TicketKeys, srv.SetTicketKeys); poll != nil {
		w.loop.AddTicker(poll)
	}
}

// startTicketKeys hands set its first keys and returns the loop ticker
// that follows the region's rotations. Without a region (a worker built
// in-process by a test) the keys are the worker's own, made once, and
// resume sessions within that worker only; the ticker is then nil.
func startTicketKeys(k *TicketKeys, set func(keys [][32]byte)) func(now int64) {
	if k == nil {
		set([][32]byte{randomTicketKey()})
		return nil
	}
	p := &ticketKeyPoller{keys: k, apply: set}
	p.pollOnLoop(time.Now().UnixNano())
	return p.pollOnLoop
}
