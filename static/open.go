//go:build linux

package static

import (
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nproxy/nproxy/http"
)

// openFlags opens files for reading. O_NONBLOCK keeps open(2) of a FIFO
// from blocking until a writer appears (the FIFO is then refused after
// fstat), as nginx does with NGX_FILE_NONBLOCK; it has no effect on reads
// of regular files.
const openFlags = unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NONBLOCK

// resolveFlags confine path resolution to static_root: RESOLVE_BENEATH
// refuses ".." above the root, absolute symlinks and symlinks whose target
// leaves the root (EXDEV), while symlinks that stay beneath it are followed;
// RESOLVE_NO_MAGICLINKS refuses /proc/*/fd style links (ELOOP).
const resolveFlags = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS

// dirOpenFlags open a directory to read its entries (directory listing).
const dirOpenFlags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC | unix.O_NONBLOCK

// pathOpenFlags open a file only to stat it where it resolves (a
// symlink's target, for a directory listing), without reading it.
const pathOpenFlags = unix.O_PATH | unix.O_CLOEXEC

// openBeneath opens rel (relative, "" meaning the root itself) under the
// root directory for reading, refusing any resolution that leaves it with
// EXDEV.
func (h *Handler) openBeneath(rel string) (int, error) {
	return h.openBeneathHow(rel, &h.how)
}

// openBeneathHow is openBeneath with how's open flags (how.Resolve is
// always resolveFlags).
//
// Without openat2 (Linux < 5.6, or a seccomp filter that refuses it, which
// New detects), it falls back to openat(2), which follows any symlink, and
// then checks where the descriptor landed by reading /proc/self/fd/N: a
// file outside the root is closed again and refused. The fallback opens the
// outside file before refusing it; with O_NONBLOCK that is harmless for
// regular files, FIFOs and the usual devices.
func (h *Handler) openBeneathHow(rel string, how *unix.OpenHow) (int, error) {
	if rel == "" {
		rel = "."
	}
	if h.openat2 {
		for {
			fd, err := unix.Openat2(h.root, rel, how)
			if err == unix.EINTR || err == unix.EAGAIN {
				// EAGAIN: a concurrent rename raced with the lookup;
				// the kernel asks for a retry (openat2(2)).
				continue
			}
			return fd, err
		}
	}
	var fd int
	var err error
	for {
		fd, err = unix.Openat(h.root, rel, int(how.Flags), 0)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return -1, err
	}
	if !h.beneathRoot(fd) {
		unix.Close(fd)
		return -1, unix.EXDEV
	}
	return fd, nil
}

// beneathRoot reports whether fd refers to a file under the root, by the
// path the kernel resolved it to. Without /proc it reports false: refusing
// is the safe answer.
func (h *Handler) beneathRoot(fd int) bool {
	p, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	if err != nil {
		return false
	}
	if h.rootReal == "/" || p == h.rootReal {
		return true
	}
	return strings.HasPrefix(p, h.rootReal) && p[len(h.rootReal)] == '/'
}

// probeOpenat2 reports whether openat2 works here. Some container seccomp
// profiles answer EPERM rather than ENOSYS for system calls they do not
// know, so a failing probe of the root itself decides, not only ENOSYS.
func probeOpenat2(root int) bool {
	how := unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: resolveFlags}
	fd, err := unix.Openat2(root, ".", &how)
	if err != nil {
		return false
	}
	unix.Close(fd)
	return true
}

// probe is the outcome of opening and stat'ing one path.
type probe struct {
	fd  int // open descriptor of a regular file, or -1
	st  unix.Stat_t
	err error // open or fstat error, nil on success
}

// openStat opens path p (absolute within the root) and stats it. Only a
// regular file keeps its descriptor.
func (h *Handler) openStat(p []byte) probe {
	r := probe{fd: -1}
	fd, err := h.openBeneath(string(p[1:]))
	if err == unix.EMFILE || err == unix.ENFILE {
		// Out of descriptors: give some back from the cache and retry
		// once (responses in flight keep theirs until released).
		h.cache.evictOldest(h.cache.positives/8 + 1)
		fd, err = h.openBeneath(string(p[1:]))
	}
	if err != nil {
		r.err = err
		return r
	}
	if err := unix.Fstat(fd, &r.st); err != nil {
		unix.Close(fd)
		r.err = os.NewSyscallError("fstat", err)
		return r
	}
	if r.st.Mode&unix.S_IFMT == unix.S_IFREG {
		r.fd = fd
	} else {
		unix.Close(fd)
	}
	return r
}

// kind classifies a probe. ok is false for errors that say nothing about
// the file (out of descriptors or memory, I/O errors): those are answered
// with 500 and never cached.
func (r *probe) kind() (k entryKind, ok bool) {
	switch r.err {
	case nil:
	case unix.ENOENT, unix.ENOTDIR, unix.ENAMETOOLONG, unix.ELOOP, unix.EXDEV, unix.ENXIO:
		// ELOOP: a symlink loop or a magic link; EXDEV: resolution
		// left the root; ENXIO: a UNIX socket.
		return kindNotFound, true
	case unix.EACCES, unix.EPERM:
		return kindForbidden, true
	default:
		return kindNotFound, false
	}
	switch r.st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		return kindFile, true
	case unix.S_IFDIR:
		return kindDir, true
	}
	return kindNotFound, true // FIFOs, devices, sockets: nginx answers 404 too
}

// same reports whether probe r describes the file e was built from, so
// that e can stay: same kind and, for a file, same inode, size and
// modification time.
func (e *entry) same(r *probe, k entryKind) bool {
	if k != e.kind {
		return false
	}
	if k != kindFile {
		return true
	}
	return uint64(r.st.Dev) == e.dev && r.st.Ino == e.ino && r.st.Size == e.size &&
		r.st.Mtim.Sec == e.mtime && r.st.Mtim.Nsec == e.mtimeNs
}

// newEntry builds the entry of path p from probe r of kind k, taking over
// r's descriptor.
func newEntry(p []byte, r *probe, k entryKind, now int64) *entry {
	e := &entry{key: string(p), kind: k, fd: -1, checked: now}
	e.refs.Store(1)
	if k != kindFile {
		return e
	}
	e.size, e.mtime, e.mtimeNs = r.st.Size, r.st.Mtim.Sec, r.st.Mtim.Nsec
	e.dev, e.ino = uint64(r.st.Dev), r.st.Ino
	e.fd = r.fd
	if e.size <= smallFileMax {
		// Read it once; the descriptor is then not needed. A file
		// that changes size under us keeps its descriptor and is sent
		// with sendfile like a large one, and revalidation replaces
		// it within a second.
		b := make([]byte, e.size)
		if n, err := preadFull(e.fd, b); err == nil && n == len(b) {
			e.body = b
			unix.Close(e.fd)
			e.fd = -1
		}
	}

	h := make([]byte, 0, 160)
	h = append(h, "Last-Modified: "...)
	lm := len(h)
	h = time.Unix(e.mtime, 0).UTC().AppendFormat(h, http.TimeFormat)
	lmEnd := len(h)
	h = append(h, "\r\nETag: "...)
	et := len(h)
	h = append(h, '"')
	h = strconv.AppendInt(h, e.mtime, 16)
	h = append(h, '-')
	h = strconv.AppendInt(h, e.size, 16)
	h = append(h, '"')
	etEnd := len(h)
	h = append(h, "\r\n"...)
	e.notModLen = len(h)
	h = append(h, "Content-Type: "...)
	h = append(h, contentType(p)...)
	h = append(h, "\r\nAccept-Ranges: bytes\r\n"...)
	e.header = h
	e.lastMod = h[lm:lmEnd:lmEnd]
	e.etag = h[et:etEnd:etEnd]
	return e
}

// preadFull reads len(b) bytes from the start of fd, or fewer at end of
// file.
func preadFull(fd int, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := unix.Pread(fd, b[n:], int64(n))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return n, os.NewSyscallError("pread", err)
		}
		if m == 0 {
			break
		}
		n += m
	}
	return n, nil
}

// lookup returns the cache entry for path p, opening and stat'ing it when
// it is not cached or was validated validFor or longer ago. It returns nil
// only for an error that says nothing about the file (answer 500); a stale
// entry is then kept and served rather than failing.
func (h *Handler) lookup(p []byte, now int64) *entry {
	e := h.cache.get(p)
	if e != nil && e.fresh(now) {
		h.cache.touch(e)
		return e
	}
	r := h.openStat(p)
	k, ok := r.kind()
	if !ok {
		if e != nil {
			h.cache.touch(e)
		}
		return e
	}
	if e != nil && e.same(&r, k) {
		if r.fd >= 0 {
			unix.Close(r.fd)
		}
		h.cache.revalidated(e, now)
		return e
	}
	e = newEntry(p, &r, k, now)
	h.cache.add(e)
	return e
}
