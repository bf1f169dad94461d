//go:build linux

package reactor

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Buffer size classes. A connection takes a buffer only while it has work
// (a partial request, a response in flight) and gives it back when it goes
// idle, so an idle keep-alive connection holds none. 16 KiB holds a typical
// request head or response head with a small body; 64 KiB holds the largest
// request head we accept (http.MaxHeadLen).
const (
	SmallBuf = 16 << 10
	LargeBuf = 64 << 10
	slabSize = 1 << 20 // buffers are carved from 1 MiB mmap'd slabs
)

// bufPool hands out fixed-size buffers carved from anonymous mmap'd slabs.
// The memory is off the Go heap: the collector never scans it, and the
// kernel may read or write it after an io_uring submission without the
// buffer moving or being freed under it. Buffers are recycled LIFO, so the
// buffer a connection gets is usually still in cache.
//
// A buffer has one owner at a time: the pool while it is in a free list,
// else whoever got it, until PutBuf. Built with the nproxydebug tag, the
// pool checks that rule (see buffers_debug.go); otherwise dbg is empty and
// its calls compile to nothing.
type bufPool struct {
	dbg          bufDebug
	small, large [][]byte
	slabs        [][]byte
}

func (p *bufPool) get(size int) []byte {
	list := &p.small
	if size > SmallBuf {
		list, size = &p.large, LargeBuf
	} else {
		size = SmallBuf
	}
	if n := len(*list); n > 0 {
		b := (*list)[n-1]
		*list = (*list)[:n-1]
		p.dbg.taken(b)
		return b[:0]
	}
	slab, err := unix.Mmap(-1, 0, slabSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		// Out of address space: fall back to the heap rather than fail
		// the request; io_uring users pin nothing extra because the
		// slice stays referenced until its completion.
		b := make([]byte, 0, size)
		p.dbg.handedOut(b)
		return b
	}
	p.slabs = append(p.slabs, slab)
	mappedBytes.Add(slabSize)
	for off := slabSize - size; off > 0; off -= size {
		b := slab[off : off+size : off+size]
		p.dbg.freed(b)
		*list = append(*list, b)
	}
	b := slab[0:0:size]
	p.dbg.handedOut(b)
	return b
}

// owns reports whether ptr points into one of the pool's slabs (off-heap
// memory that never moves or goes away while the loop runs).
func (p *bufPool) owns(ptr *byte) bool {
	a := uintptr(unsafe.Pointer(ptr))
	for _, s := range p.slabs {
		base := uintptr(unsafe.Pointer(unsafe.SliceData(s)))
		if a >= base && a < base+uintptr(len(s)) {
			return true
		}
	}
	return false
}

// put takes b back into its free list. A buffer of another capacity (the
// heap buffer AppendBuf grows past LargeBuf) is left to the collector.
func (p *bufPool) put(b []byte) {
	p.dbg.returned(p, b)
	switch cap(b) {
	case SmallBuf:
		p.small = append(p.small, b[:0])
	case LargeBuf:
		p.large = append(p.large, b[:0])
	}
}

// AppendBuf appends data to b, a buffer from GetBuf (or nil), and returns
// the result: in place while it fits, else in a larger pooled buffer (b
// goes back to the pool), else, past LargeBuf (a burst that arrived after
// receiving stopped), on the heap with room to double. Loop thread only.
func (l *Loop) AppendBuf(b, data []byte) []byte {
	need := len(b) + len(data)
	if need <= cap(b) {
		return append(b, data...)
	}
	var nb []byte
	if need <= LargeBuf {
		nb = l.GetBuf(need)
	} else {
		nb = make([]byte, 0, 2*need)
	}
	nb = append(append(nb, b...), data...)
	if b != nil {
		l.PutBuf(b)
	}
	return nb
}

// GetBuf returns an empty buffer with capacity at least size (SmallBuf or
// LargeBuf; larger requests get LargeBuf). Loop thread only.
func (l *Loop) GetBuf(size int) []byte { return l.bufs.get(size) }

// PutBuf gives a buffer from GetBuf (or AppendBuf) back: the caller must
// neither use it nor put it again afterwards. b may be resliced in length
// (b[:0], b[:n]) but must start where the buffer starts and keep its
// capacity. Loop thread only.
//
// The nproxydebug build enforces this: PutBuf panics on a buffer already
// in the pool or one the pool did not hand out, and a buffer in the pool
// can be neither read nor written (see buffers_debug.go).
func (l *Loop) PutBuf(b []byte) { l.bufs.put(b) }
