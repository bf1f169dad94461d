//go:build linux && (amd64 || arm64)

package ring

import (
	"fmt"
	"os"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// BufRing is a provided-buffer ring (IORING_REGISTER_PBUF_RING, 5.19): N
// buffers of S bytes that the kernel picks from for requests carrying
// SetBufferGroup, notably RecvMultishot. The ring and the buffers are
// off-heap (anonymous mmap), so the kernel may write into them at any time
// while they are published.
//
// Life of a buffer: published (after Add and Advance) → chosen by the
// kernel for a completion (CQE.BufferID) → owned by the caller, who reads
// Buf(bid)[:res] → handed back with Recycle (or Add) and Advance. The
// kernel never hands out a buffer twice without it being re-added. When no
// buffer is published, receives fail with -ENOBUFS, and a multishot receive
// ends (its CQE lacks CQEFMore): recycle buffers, then re-arm it.
//
// A BufRing belongs to its Ring's goroutine and must not be copied.
type BufRing struct {
	r       *Ring
	group   uint16
	mask    uint16
	size    uint32
	ringMem []byte
	bufMem  []byte
	entries []bufRingEntry
	tail    uint16   // last published tail
	staged  uint16   // entries written after tail, not yet published
	fresh   uint32   // buffers ever published: ids [0, fresh) are in use
	used    []uint32 // incremental ring: bytes of each buffer already delivered
	closed  bool
}

// maxBufRingEntries is the kernel's limit (ring_entries must be below 65536).
const maxBufRingEntries = 1 << 15

// NewBufRing registers buffer group group with entries buffers (a power of
// two, at most 32768) of size bytes each, and publishes all of them: buffer
// id i is Buf(i). The ring is closed with Ring.Close if not before.
func (r *Ring) NewBufRing(group uint16, entries, size uint32) (*BufRing, error) {
	return r.NewBufRingPartial(group, entries, size, entries)
}

// NewBufRingPartial is NewBufRing publishing only the first initial
// buffers; Grow publishes more. The buffers' memory is reserved at once but
// a page is only touched when the kernel first writes into it, so a ring
// that starts small and grows when receives run dry (ENOBUFS) keeps the
// resident memory of a quiet server small while a busy one still gets the
// whole ring.
func (r *Ring) NewBufRingPartial(group uint16, entries, size, initial uint32) (*BufRing, error) {
	return r.newBufRing(group, entries, size, initial, false)
}

// NewBufRingIncremental is NewBufRingPartial for a ring whose buffers the
// kernel consumes incrementally (IOU_PBUF_RING_INC, 6.12): a completion
// takes only the bytes it needs from the buffer at the head of the ring,
// and the next completion (of any request of the group) goes on in the
// same buffer after them. Small receives of many connections then share
// one buffer, whose lines stay in the cache, instead of each taking a
// whole buffer of its own. Read a completion's bytes with Consume, which
// also says when the kernel is done with the buffer (recycle it then).
// On an older kernel the registration fails with EINVAL.
func (r *Ring) NewBufRingIncremental(group uint16, entries, size, initial uint32) (*BufRing, error) {
	return r.newBufRing(group, entries, size, initial, true)
}

func (r *Ring) newBufRing(group uint16, entries, size, initial uint32, inc bool) (*BufRing, error) {
	if r.closed {
		return nil, ErrClosed
	}
	if entries == 0 || entries&(entries-1) != 0 || entries > maxBufRingEntries || size == 0 {
		return nil, fmt.Errorf("%w: buffer ring of %d entries of %d bytes (entries must be a power of two ≤ %d)", ErrInvalid, entries, size, maxBufRingEntries)
	}
	if _, dup := r.bufRings[group]; dup {
		return nil, fmt.Errorf("%w: buffer group %d already registered", ErrInvalid, group)
	}
	const prot = unix.PROT_READ | unix.PROT_WRITE
	const flags = unix.MAP_PRIVATE | unix.MAP_ANONYMOUS
	// The ring memory must be page aligned, which mmap guarantees.
	ringMem, err := unix.Mmap(-1, 0, int(entries)*int(unsafe.Sizeof(bufRingEntry{})), prot, flags)
	if err != nil {
		return nil, os.NewSyscallError("mmap", err)
	}
	bufMem, err := unix.Mmap(-1, 0, int(entries)*int(size), prot, flags)
	if err != nil {
		unix.Munmap(ringMem)
		return nil, os.NewSyscallError("mmap", err)
	}
	b := &BufRing{
		r:       r,
		group:   group,
		mask:    uint16(entries - 1),
		size:    size,
		ringMem: ringMem,
		bufMem:  bufMem,
		entries: unsafe.Slice((*bufRingEntry)(unsafe.Pointer(&ringMem[0])), entries),
	}
	reg := bufReg{ringAddr: uint64(uintptr(unsafe.Pointer(&ringMem[0]))), ringEntries: entries, bgid: group}
	if inc {
		reg.flags = pbufRingInc
		b.used = make([]uint32, entries)
	}
	if _, err := r.register(registerPbufRing, unsafe.Pointer(&reg), 1); err != nil {
		unix.Munmap(bufMem)
		unix.Munmap(ringMem)
		return nil, err
	}
	if initial == 0 || initial > entries {
		initial = entries
	}
	b.Grow(int(initial))
	if r.bufRings == nil {
		r.bufRings = make(map[uint16]*BufRing)
	}
	r.bufRings[group] = b
	return b, nil
}

// Grow publishes up to n buffers never published before and returns how
// many it added (0 once every buffer of the ring is in use).
func (b *BufRing) Grow(n int) int {
	total := uint32(b.mask) + 1
	added := 0
	for ; added < n && b.fresh < total; added++ {
		b.Recycle(uint16(b.fresh))
		b.fresh++
	}
	b.Advance(added)
	return added
}

// Published returns how many buffers of the ring are in use (published at
// least once).
func (b *BufRing) Published() int { return int(b.fresh) }

// Group returns the buffer group id to pass to SetBufferGroup/RecvMultishot.
func (b *BufRing) Group() uint16 { return b.group }

// Entries returns the number of buffers.
func (b *BufRing) Entries() int { return int(b.mask) + 1 }

// Size returns the size of each buffer.
func (b *BufRing) Size() int { return int(b.size) }

// Buf returns buffer bid (full size); after a completion, its first res
// bytes hold the data. The slice points into off-heap memory that is
// unmapped by Close.
func (b *BufRing) Buf(bid uint16) []byte {
	off := int(bid&b.mask) * int(b.size)
	return b.bufMem[off : off+int(b.size) : off+int(b.size)]
}

// Consume returns the n bytes a completion delivered in buffer bid
// (CQE.BufferID; n is its res) and reports whether the kernel is done with
// the buffer: then give it back with Recycle once the bytes are used.
// Without incremental consumption every completion has its own buffer
// from its start and done is always true; with it (NewBufRingIncremental)
// a completion's bytes follow those of the buffer's previous completions,
// and more (CQEFBufMore in the CQE's flags) says the kernel keeps the rest
// of the buffer for the next ones.
func (b *BufRing) Consume(bid uint16, n int, more bool) (data []byte, done bool) {
	if b.used == nil {
		return b.Buf(bid)[:n], true
	}
	i := bid & b.mask
	off := b.used[i]
	data = b.Buf(bid)[off : int(off)+n]
	if more {
		b.used[i] += uint32(n)
		return data, false
	}
	b.used[i] = 0
	return data, true
}

// Incremental reports whether the ring's buffers are consumed
// incrementally (NewBufRingIncremental).
func (b *BufRing) Incremental() bool { return b.used != nil }

// Add stages buffer bid at addr/length (memory that must stay valid,
// off-heap or pinned, while published) in the next free ring slot. It is not
// visible to the kernel until Advance. Never stage more buffers than
// Entries minus those published and not yet returned by the kernel.
func (b *BufRing) Add(bid uint16, addr uintptr, length uint32) {
	e := &b.entries[(b.tail+b.staged)&b.mask]
	e.addr = uint64(addr)
	e.len = length
	e.bid = bid
	b.staged++
}

// Recycle stages buffer bid's own memory again (Add with Buf(bid)); call
// Advance to publish it. Use it once the data of a completion is consumed.
func (b *BufRing) Recycle(bid uint16) {
	b.Add(bid, uintptr(unsafe.Pointer(&b.bufMem[int(bid&b.mask)*int(b.size)])), b.size)
}

// Advance publishes count staged buffers to the kernel.
//
// The tail is a 16-bit field overlaying entry 0's resv (bytes 14..15 of the
// ring). Go has no 16-bit atomic store, so Advance stores the aligned 32-bit
// word at bytes 12..15, which on little-endian machines holds entry 0's bid
// in its low half and the tail in its high half. Only this side writes
// entry 0's bid, so re-storing its current value is harmless even while the
// kernel reads it. The store is sequentially consistent: the staged entries
// are visible to the kernel before the tail that covers them.
func (b *BufRing) Advance(count int) {
	if count <= 0 || b.closed {
		return
	}
	if count > int(b.staged) {
		count = int(b.staged)
	}
	b.tail += uint16(count)
	b.staged -= uint16(count)
	word := (*uint32)(unsafe.Pointer(&b.ringMem[12]))
	atomic.StoreUint32(word, uint32(b.entries[0].bid)|uint32(b.tail)<<16)
}

// Close unregisters the group and unmaps the ring and its buffers. No
// request may still use the group. Idempotent.
func (b *BufRing) Close() error {
	if b.closed {
		return nil
	}
	b.closed = true
	var err error
	if !b.r.closed {
		reg := bufReg{bgid: b.group}
		_, err = b.r.register(unregisterPbufRing, unsafe.Pointer(&reg), 1)
		delete(b.r.bufRings, b.group)
	}
	b.entries = nil
	if e := unix.Munmap(b.bufMem); e != nil && err == nil {
		err = os.NewSyscallError("munmap", e)
	}
	if e := unix.Munmap(b.ringMem); e != nil && err == nil {
		err = os.NewSyscallError("munmap", e)
	}
	b.bufMem, b.ringMem = nil, nil
	return err
}

// BufferID returns the provided-buffer id of a completion and whether it
// has one (CQEFBuffer).
func (c CQE) BufferID() (uint16, bool) {
	return uint16(c.Flags >> CQEBufferShift), c.Flags&CQEFBuffer != 0
}

// BufMore reports whether the kernel keeps using the provided buffer of c
// for later completions (CQEFBufMore, incremental buffer rings).
func (c CQE) BufMore() bool { return c.Flags&CQEFBufMore != 0 }

// More reports whether the request that posted c stays armed (CQEFMore):
// multishot accept/recv/poll, or a SEND_ZC whose notification is pending.
func (c CQE) More() bool { return c.Flags&CQEFMore != 0 }

// Notif reports whether c is a SEND_ZC notification (CQEFNotif): the send
// buffer may be reused.
func (c CQE) Notif() bool { return c.Flags&CQEFNotif != 0 }

// Err returns the CQE's error (a unix.Errno) when Res is negative, else nil.
func (c CQE) Err() error {
	if c.Res < 0 {
		return unix.Errno(-c.Res)
	}
	return nil
}
