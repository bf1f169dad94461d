//go:build linux && nproxydebug

// The nproxydebug build tag turns on the ownership checks of the loop's
// buffer pool ("one owner per buffer", issue 9). STYLE.md keeps build tags
// for GOOS; this one is the exception because it selects a checking mode,
// not a platform: the checks cost a map lookup, a fill and a compare of the
// whole buffer and two mprotect(2) calls per GetBuf/PutBuf pair, which a
// release build must not pay, and a run-time switch would still leave a
// branch in both and push PutBuf past the inlining budget. CI runs the
// tests of reactor, server and proxy with it (.ci/run):
//
//	go test -race -tags nproxydebug ./reactor ./server ./proxy

package reactor

import (
	"bytes"
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// bufDebug checks the pool's ownership rule (see bufPool and PutBuf):
//
//   - PutBuf of a buffer already in the pool (a double put) panics.
//   - PutBuf of memory the pool did not hand out panics: a heap slice of a
//     pool size, a slice that starts inside a pool buffer, a pool buffer
//     whose capacity was cut (it could never be handed out again).
//   - A buffer in the pool is mprotect'ed PROT_NONE from PutBuf to the next
//     GetBuf, so a read or a write after PutBuf faults at the access (the
//     program dies with "unexpected fault address" and the stack of the
//     culprit; debug.SetPanicOnFault makes it a panic), and a kernel access
//     (a send still in flight) fails with EFAULT. Slab buffers are page
//     aligned: the slab is mmap'd and buffers sit at multiples of their
//     size, itself a multiple of the page size.
//   - PutBuf of a buffer that a pending Send still reads (lent to the
//     connection until OnSendDone or Close) panics, naming the connection.
//   - Where protection is not possible (a heap buffer from the fallback
//     when mmap fails, or mprotect refused: vm.max_map_count reached), the
//     buffer is filled with a poison pattern on PutBuf and checked on the
//     next GetBuf, which panics naming the offset a late write changed.
//
// A buffer PutBuf is given whose capacity is no pool size and which lies
// outside the slabs (the heap buffer AppendBuf grows past LargeBuf) is
// ignored, as in the release build.
type bufDebug struct {
	bufs  map[uintptr]*bufInfo // by the buffer's first byte
	loans map[*Conn]*bufInfo   // the pool buffer each pending Send reads
}

// bufInfo is what the checker knows of one buffer.
type bufInfo struct {
	addr      uintptr
	size      int   // the buffer's capacity
	free      bool  // in the pool (else handed out)
	protected bool  // PROT_NONE while free
	lentTo    *Conn // the conn whose pending Send reads it
}

// poisonPattern fills a buffer in the pool: bytes that are not ASCII, so
// that a parser reading them by mistake fails too.
const poisonPattern = "\xde\xad\xbe\xef"

var (
	poison   [LargeBuf]byte
	pageSize = uintptr(os.Getpagesize())
)

func init() {
	for i := range poison {
		poison[i] = poisonPattern[i%len(poisonPattern)]
	}
}

func bufAddr(b []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }

// handedOut registers a buffer that goes to its first owner without having
// been in a free list.
func (d *bufDebug) handedOut(b []byte) {
	d.info(b).free = false
}

// freed registers a buffer of a new slab, which starts in the free list.
func (d *bufDebug) freed(b []byte) { d.enterPool(d.info(b), b, true) }

func (d *bufDebug) info(b []byte) *bufInfo {
	if d.bufs == nil {
		d.bufs = make(map[uintptr]*bufInfo)
	}
	a := bufAddr(b)
	bi := d.bufs[a]
	if bi == nil {
		bi = &bufInfo{addr: a, size: cap(b)}
		d.bufs[a] = bi
	}
	return bi
}

// taken checks a buffer leaving the free list for GetBuf.
func (d *bufDebug) taken(b []byte) {
	a := bufAddr(b)
	bi := d.bufs[a]
	if bi == nil || !bi.free {
		panic(fmt.Sprintf("reactor: GetBuf: the free list holds buffer %#x, which is not free (pool corrupted)", a))
	}
	b = b[:bi.size]
	if bi.protected {
		if err := unix.Mprotect(b, unix.PROT_READ|unix.PROT_WRITE); err != nil {
			panic(fmt.Sprintf("reactor: GetBuf: mprotect of buffer %#x: %v", a, err))
		}
		bi.protected = false
	}
	if !bytes.Equal(b, poison[:bi.size]) {
		off := 0
		for b[off] == poison[off] {
			off++
		}
		panic(fmt.Sprintf("reactor: GetBuf: buffer %#x (cap %d) was written after PutBuf: byte %d is %#02x, not the poison %#02x",
			a, bi.size, off, b[off], poison[off]))
	}
	bi.free = false
}

// returned checks a buffer given to PutBuf and takes it into the pool.
func (d *bufDebug) returned(p *bufPool, b []byte) {
	if cap(b) == 0 {
		return // nil: nothing to give back
	}
	a := bufAddr(b)
	bi := d.bufs[a]
	switch {
	case bi == nil && p.owns(unsafe.SliceData(b)):
		panic(fmt.Sprintf("reactor: PutBuf: %#x (cap %d) points inside a pool buffer, not at its start", a, cap(b)))
	case bi == nil && (cap(b) == SmallBuf || cap(b) == LargeBuf):
		panic(fmt.Sprintf("reactor: PutBuf: %#x (cap %d) is not a pool buffer: the pool never handed it out", a, cap(b)))
	case bi == nil:
		return // AppendBuf's heap growth: left to the collector
	case bi.free:
		panic(fmt.Sprintf("reactor: PutBuf: double put: buffer %#x (cap %d) is already in the pool", a, bi.size))
	case cap(b) != bi.size:
		panic(fmt.Sprintf("reactor: PutBuf: buffer %#x comes back with capacity %d, not its %d", a, cap(b), bi.size))
	case bi.lentTo != nil:
		c := bi.lentTo
		panic(fmt.Sprintf("reactor: PutBuf: buffer %#x is still being sent on conn %d (gen %d): "+
			"it goes back after OnSendDone or Close", a, c.idx, c.gen))
	}
	d.enterPool(bi, b, p.owns(unsafe.SliceData(b)))
}

// enterPool poisons b and, when it is page-aligned slab memory, makes it
// inaccessible until GetBuf hands it out again. A heap buffer (inSlab
// false) shares its pages with other objects: it is only poisoned.
func (d *bufDebug) enterPool(bi *bufInfo, b []byte, inSlab bool) {
	b = b[:bi.size]
	copy(b, poison[:bi.size])
	bi.free = true
	if a := bufAddr(b); inSlab && a%pageSize == 0 && uintptr(bi.size)%pageSize == 0 {
		bi.protected = unix.Mprotect(b, unix.PROT_NONE) == nil
	}
}

// lend records that c's pending Send reads b (a pool buffer or a slice of
// one; other memory is not tracked) until endLoan.
func (d *bufDebug) lend(c *Conn, b []byte) {
	bi := d.containing(bufAddr(b))
	if bi == nil {
		return
	}
	if bi.free {
		panic(fmt.Sprintf("reactor: Send of buffer %#x, which is in the pool (put before the send)", bi.addr))
	}
	if bi.lentTo != nil {
		o := bi.lentTo
		panic(fmt.Sprintf("reactor: Send on conn %d of buffer %#x, which a pending Send on conn %d (gen %d) still reads",
			c.idx, bi.addr, o.idx, o.gen))
	}
	if d.loans == nil {
		d.loans = make(map[*Conn]*bufInfo)
	}
	bi.lentTo = c
	d.loans[c] = bi
}

// endLoan records that c's pending output ended or was abandoned.
func (d *bufDebug) endLoan(c *Conn) {
	if bi := d.loans[c]; bi != nil {
		bi.lentTo = nil
		delete(d.loans, c)
	}
}

// containing returns the pool buffer that holds the byte at a, or nil.
// Slab buffers start on page boundaries, at most LargeBuf below any byte
// of theirs, and lie end to end in their slab: the first buffer start
// found going down from a, page by page, is the one to check.
func (d *bufDebug) containing(a uintptr) *bufInfo {
	if bi := d.bufs[a]; bi != nil {
		return bi // a heap buffer starts anywhere
	}
	for p := a &^ (pageSize - 1); p+LargeBuf > a; p -= pageSize {
		if bi := d.bufs[p]; bi != nil {
			if a < p+uintptr(bi.size) {
				return bi
			}
			return nil
		}
	}
	return nil
}
