//go:build linux

package static

import (
	"bytes"
	"encoding/binary"
	"os"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// Directory listings (autoindex = on) are read in passes over the
// directory, each returning, sorted, the smallest names after the last
// one sent, as many as fit in a byte budget: memory stays bounded however
// large the directory is, and the page goes out in order, batch after
// batch. The first pass also stats every entry, for the validators
// (ETag, Last-Modified), which must precede the body. A directory whose
// entries fit in one pass (the usual case) is read once; one that needs
// k passes is read k times, so the cost of a huge directory grows with
// its size squared over the budget: 100,000 entries of 20-byte names
// take about eight passes (see listLimits.passBytes).

// listLimits bound the work and memory of directory listings. They are
// per Handler so that tests can make them small.
type listLimits struct {
	// syncEntries: a directory with at most this many listed entries,
	// read within syncOps, is answered from Serve in one piece, with
	// Content-Length. A page of 1000 entries is about 200 KB of HTML.
	syncEntries int
	// syncOps is the work Serve may do on a listing before it hands the
	// rest to a stream (see listStream), in ops: one per directory entry
	// read, resolveOps more per entry stat'ed.
	syncOps int
	// stepOps is the work a stream does per loop turn before it lets the
	// loop serve other connections: about a millisecond.
	stepOps int
	// passBytes bounds the names one pass holds (each counted with
	// entryCost). 1 MiB holds about 16,000 typical names.
	passBytes int
	// maxStreams bounds the listings a Handler streams at once: each
	// holds up to passBytes of names, a getdents buffer and an output
	// chunk. More are answered 503 with Retry-After.
	maxStreams int
	// chunk is the output a stream gathers before it sends.
	chunk int
}

// defaultListLimits are the limits of every Handler New makes.
var defaultListLimits = listLimits{
	syncEntries: 1000,
	syncOps:     8192,
	stepOps:     8192,
	passBytes:   1 << 20,
	maxStreams:  16,
	chunk:       32 << 10,
}

const (
	// resolveOps is the cost of stat'ing one entry, in listLimits ops:
	// a system call against about a quarter of one per entry for
	// getdents64.
	resolveOps = 4

	// entryCost is what one selected entry costs a pass besides its
	// name: the listEntry and its share of the slice's slack.
	entryCost = 64

	// direntBufSize is the getdents64 buffer: about 1000 entries of
	// short names per system call.
	direntBufSize = 32 << 10
)

// listEntry is one entry of a directory listing.
type listEntry struct {
	name  string
	dir   bool  // a directory (or a symlink to one beneath the root)
	size  int64 // bytes, for a file
	mtime int64 // Unix nanoseconds
	known bool  // dir, size and mtime are set (resolved)
}

// lister reads one directory in sorted batches (see the comment at the
// top of this file). It belongs to one listing, on the loop thread.
type lister struct {
	h    *Handler
	fd   int    // the directory, opened with dirOpenFlags; -1 once closed
	rel  string // its path under the root: "" for the root, else ending in '/'
	top  bool   // it is the site's root: .well-known is listed
	hide bool   // hidden_files = deny: dot names are not listed

	buf    []byte // getdents64 records
	bufPos int    // next record in buf
	bufEnd int    // end of the records read

	// The pass in progress: a max-heap by name of the smallest names
	// after cursor, within passBytes.
	sel      []listEntry
	selBytes int
	evicted  bool   // a name after cursor was left out: another pass follows
	ceiling  string // when evicted, the smallest name left out: no name from it on is taken
	cursor   string // last name of the previous pass's batch
	passes   int    // passes completed

	// Validators, complete after the first pass.
	sum    uint64 // sum of every listed entry's hash: order does not matter
	count  int    // entries listed
	latest int64  // newest modification time, Unix ns, of the directory and its entries
}

// openLister opens directory dir (a path under the root, ending in '/')
// for a listing; top says that it is the site's root (/.well-known/ is
// listed there). On failure it returns the status to answer: 404 when the
// directory is gone or outside the root, 403 when it cannot be read, 500
// otherwise.
func (h *Handler) openLister(dir []byte, top bool) (*lister, int) {
	rel := string(dir[1:])
	fd, err := h.openBeneathHow(rel, &h.dirHow)
	switch err {
	case nil:
	case unix.ENOENT, unix.ENOTDIR, unix.ENAMETOOLONG, unix.ELOOP, unix.EXDEV:
		return nil, 404
	case unix.EACCES, unix.EPERM:
		return nil, 403
	default:
		return nil, 500
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, 500
	}
	return &lister{
		h: h, fd: fd, rel: rel, top: top && rel == "", hide: h.denyHidden,
		buf:    make([]byte, direntBufSize),
		latest: st.Mtim.Nano(),
	}, 0
}

// close closes the directory; a second close does nothing.
func (l *lister) close() {
	if l.fd >= 0 {
		unix.Close(l.fd)
		l.fd = -1
	}
	l.buf, l.sel = nil, nil
}

// scan continues the pass in progress, spending at most *ops, and reports
// whether the pass reached the end of the directory (batch is then
// ready).
func (l *lister) scan(ops *int) (done bool, err error) {
	for *ops > 0 {
		if l.bufPos >= l.bufEnd {
			n, err := unix.Getdents(l.fd, l.buf)
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				return false, os.NewSyscallError("getdents64", err)
			}
			if n == 0 {
				return true, nil
			}
			l.bufPos, l.bufEnd = 0, n
		}
		// struct linux_dirent64: d_ino u64, d_off s64, d_reclen u16,
		// d_type u8, then the name, NUL-terminated and padded.
		rec := l.buf[l.bufPos:l.bufEnd]
		if len(rec) < 20 {
			return false, os.NewSyscallError("getdents64", unix.EIO)
		}
		reclen := int(binary.NativeEndian.Uint16(rec[16:18]))
		if reclen < 20 || reclen > len(rec) {
			return false, os.NewSyscallError("getdents64", unix.EIO)
		}
		l.bufPos += reclen
		*ops--
		name := rec[19:reclen]
		if i := bytes.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		if binary.NativeEndian.Uint64(rec[0:8]) == 0 || len(name) == 0 ||
			string(name) == "." || string(name) == ".." || l.hide && hiddenName(name, l.top) {
			continue
		}
		if l.passes > 0 && string(name) <= l.cursor {
			continue
		}
		if l.passes == 0 {
			// The first pass stats every entry for the validators, and
			// keeps what it learned for the first batch.
			e := listEntry{name: string(name)}
			*ops -= resolveOps
			if !l.resolve(&e) {
				continue
			}
			l.account(&e)
			l.insert(e)
			continue
		}
		if l.fits(name) {
			l.insert(listEntry{name: string(name)})
		}
	}
	return false, nil
}

// The selection's invariant: every name it holds sorts before every name
// the pass left out (the ceiling), so the batch is exactly the smallest
// names after cursor and the next pass, starting after the batch's last
// name, misses none.

// fits reports whether insert would keep name: it sorts before the
// ceiling, and there is room or it sorts before the largest name held
// (which insert then drops).
func (l *lister) fits(name []byte) bool {
	if l.evicted && string(name) >= l.ceiling {
		return false
	}
	if l.selBytes+len(name)+entryCost <= l.h.list.passBytes || len(l.sel) == 0 {
		return true
	}
	if string(name) > l.sel[0].name {
		l.leaveOut(string(name))
		return false
	}
	return true
}

// insert adds e to the selection unless it sorts from the ceiling on,
// then drops the largest names while the selection is over its budget
// (keeping at least one, so that every pass progresses).
func (l *lister) insert(e listEntry) {
	if l.evicted && e.name >= l.ceiling {
		return
	}
	if l.selBytes+len(e.name)+entryCost > l.h.list.passBytes && len(l.sel) > 0 && e.name > l.sel[0].name {
		l.leaveOut(e.name)
		return
	}
	l.sel = append(l.sel, e)
	l.selBytes += len(e.name) + entryCost
	l.siftUp(len(l.sel) - 1)
	for l.selBytes > l.h.list.passBytes && len(l.sel) > 1 {
		l.leaveOut(l.sel[0].name)
		l.selBytes -= len(l.sel[0].name) + entryCost
		last := len(l.sel) - 1
		l.sel[0] = l.sel[last]
		l.sel[last] = listEntry{}
		l.sel = l.sel[:last]
		l.siftDown(0)
	}
}

// leaveOut records that the pass leaves name out for a later one.
func (l *lister) leaveOut(name string) {
	if !l.evicted || name < l.ceiling {
		l.evicted, l.ceiling = true, name
	}
}

// siftUp and siftDown keep l.sel a max-heap by name.
func (l *lister) siftUp(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if l.sel[p].name >= l.sel[i].name {
			return
		}
		l.sel[p], l.sel[i] = l.sel[i], l.sel[p]
		i = p
	}
}

func (l *lister) siftDown(i int) {
	for {
		big, a, b := i, 2*i+1, 2*i+2
		if a < len(l.sel) && l.sel[a].name > l.sel[big].name {
			big = a
		}
		if b < len(l.sel) && l.sel[b].name > l.sel[big].name {
			big = b
		}
		if big == i {
			return
		}
		l.sel[i], l.sel[big] = l.sel[big], l.sel[i]
		i = big
	}
}

// account adds a listed entry of the first pass to the validators.
func (l *lister) account(e *listEntry) {
	var b [17]byte
	binary.LittleEndian.PutUint64(b[0:8], uint64(e.size))
	binary.LittleEndian.PutUint64(b[8:16], uint64(e.mtime))
	if e.dir {
		b[16] = 1
	}
	l.sum += fnv1a(fnv1a(fnvOffset, e.name), b[:])
	l.count++
	l.latest = max(l.latest, e.mtime)
}

// FNV-1a, 64 bits (the constants of hash/fnv, inline so that hashing an
// entry allocates nothing).
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func fnv1a[S string | []byte](h uint64, s S) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h
}

// batch ends the pass: it returns the selection sorted by name (byte
// order, which for UTF-8 is code point order) and whether names are left
// for another pass. The entries stay valid until nextPass.
func (l *lister) batch() (entries []listEntry, more bool) {
	slices.SortFunc(l.sel, func(a, b listEntry) int { return strings.Compare(a.name, b.name) })
	l.passes++
	if len(l.sel) > 0 {
		l.cursor = l.sel[len(l.sel)-1].name
	}
	return l.sel, l.evicted
}

// nextPass starts another pass from the directory's beginning, for the
// names after the last batch.
func (l *lister) nextPass() error {
	clear(l.sel)
	l.sel, l.selBytes, l.evicted, l.ceiling = l.sel[:0], 0, false, ""
	l.bufPos, l.bufEnd = 0, 0
	if _, err := unix.Seek(l.fd, 0, 0); err != nil {
		return os.NewSyscallError("lseek", err)
	}
	return nil
}

// resolve stats entry e and reports whether it is listed: a regular file
// or a directory, or a symlink to one that stays beneath the root (one
// that leaves it, dangles or loops is not listed, as it would not be
// served). FIFOs, sockets and devices are not listed either.
func (l *lister) resolve(e *listEntry) bool {
	var st unix.Stat_t
	if err := unix.Fstatat(l.fd, e.name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return false
	}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK && !l.h.statBeneath(l.rel+e.name, &st) {
		return false
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		e.dir, e.size = false, st.Size
	case unix.S_IFDIR:
		e.dir, e.size = true, 0
	default:
		return false
	}
	e.mtime, e.known = st.Mtim.Nano(), true
	return true
}

// statBeneath stats rel (relative to the root) where it resolves,
// following symlinks only while they stay beneath the root, and reports
// whether it could.
func (h *Handler) statBeneath(rel string, st *unix.Stat_t) bool {
	if h.root < 0 {
		return false
	}
	fd, err := h.openBeneathHow(rel, &h.pathHow)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	return unix.Fstat(fd, st) == nil
}
