//go:build linux

package static

import (
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/nproxy/nproxy/http"
)

// Cache limits, per Handler (that is, per worker loop and server block).
const (
	// validFor is how long a cached lookup is trusted before the path is
	// opened and stat'ed again: nginx's open_file_cache_valid 1s. A file
	// changed on disk is therefore seen at most about a second late.
	validFor = int64(time.Second)

	// maxEntries bounds the number of cached files and directories
	// (nginx's open_file_cache max=10000 in the usual tuning guides).
	// Each file entry above smallFileMax holds one descriptor, so this
	// also bounds the descriptors a worker keeps open for the cache.
	maxEntries = 10000

	// smallFileMax is the largest file kept in memory. Up to this size the
	// server writes head and body with one write, which measured faster
	// than a write plus sendfile; above it, sendfile wins.
	smallFileMax = 16 << 10

	// maxBodyBytes bounds the memory of cached small-file bodies, so that
	// 10000 entries of 16 KiB (160 MiB) cannot be reached per worker.
	maxBodyBytes = 64 << 20

	// maxMetaBytes bounds the rest of the memory of file and directory
	// entries (see entryBytes). A tree's own paths are short, so
	// maxEntries binds first; this binds when paths are long, as in a
	// tree with a symlink to a parent directory, through which a client
	// can name the same directories by many distinct paths up to
	// PATH_MAX.
	maxMetaBytes = 16 << 20

	// maxNegativeBytes bounds the memory of negative entries (paths that
	// are missing, forbidden or refused; see entryBytes). Their paths
	// are the client's to invent, up to http.MaxURILen each, and a
	// negative entry only saves a failed open when the same path comes
	// back within validFor, so the budget is sized for the missing
	// paths a site sees in a second (1 MiB holds thousands of ordinary
	// ones), not for what a client scanning for paths can send.
	maxNegativeBytes = 1 << 20

	// entryOverhead is the memory of an entry besides its path and header
	// bytes: the struct, plus a slot in the map's table (a string header
	// and a pointer) counted twice over for the slack a map keeps to grow.
	entryOverhead = int64(unsafe.Sizeof(entry{})) + 2*(16+8)
)

// entryKind is what a path turned out to be. The kinds of negative
// entries come first (see (*entry).negative).
type entryKind uint8

const (
	kindNotFound  entryKind = iota // ENOENT and friends, special files, escapes
	kindForbidden                  // EACCES/EPERM: 403, as nginx
	kindDir                        // a directory (no descriptor kept)
	kindFile                       // a regular file
)

// entry is one cached lookup of a path under static_root, nginx's
// ngx_cached_open_file. Apart from its validation time, its list links and
// its reference count, an entry never changes after it is built: when the
// file changes a new entry replaces it, so a response still sending from
// the old one keeps consistent bytes and a valid descriptor.
//
// An entry must not be copied (it holds an atomic counter).
type entry struct {
	key  string
	kind entryKind

	// refs counts the cache's own reference (while the entry is in the
	// cache) plus one per response sending from fd. The descriptor is
	// closed when it drops to zero. It is atomic so that Release is safe
	// even if a server ever calls it from another thread.
	refs atomic.Int32

	fd      int   // open O_RDONLY descriptor of a large file; -1 otherwise
	size    int64 // file size in bytes
	mtime   int64 // modification time, Unix seconds
	mtimeNs int64 // and its nanoseconds, for change detection
	dev     uint64
	ino     uint64
	checked int64 // x.Now (Unix ns) when the entry was last validated

	// header holds "Last-Modified", "ETag", "Content-Type" and
	// "Accept-Ranges" lines, CRLF-terminated, ready to append; the first
	// notModLen bytes are the two lines a 304 repeats.
	header    []byte
	notModLen int
	etag      []byte // `"<mtime hex>-<size hex>"`, quotes included
	lastMod   []byte // the Last-Modified value

	body []byte // the whole file when size <= smallFileMax, else nil

	prev, next *entry // list of the cache (see cache); nil when not in it
}

var _ http.Releaser = (*entry)(nil)

// Release gives back one reference taken for a response (see
// Handler.Serve). The last reference closes the descriptor. It does not
// allocate.
func (e *entry) Release() {
	if e.refs.Add(-1) == 0 && e.fd >= 0 {
		unix.Close(e.fd)
		e.fd = -1
	}
}

// negative reports whether e records a path that is not served
// (missing, forbidden or refused): a negative entry. Clients can make any
// number of those, so they have their own budget (see cache).
func (e *entry) negative() bool {
	return e.kind <= kindForbidden
}

// entryBytes is the memory e costs the cache, its body aside: the path,
// the header lines and entryOverhead. It is an estimate: the allocator
// rounds each allocation up to its size class, by at most an eighth.
func (e *entry) entryBytes() int64 {
	return entryOverhead + int64(len(e.key)) + int64(cap(e.header))
}

// fresh reports whether e was validated less than validFor before now. A
// clock that went backwards makes the entry stale rather than fresh
// forever.
func (e *entry) fresh(now int64) bool {
	d := now - e.checked
	return d >= 0 && d < validFor
}

// cache is an open-file cache: a map by path plus two lists for eviction.
// It is used by one loop thread only and has no lock.
//
// Files and directories are kept in least-recently-used order and
// bounded by count (max), body bytes (maxBody) and other bytes (maxMeta).
// Negative entries, which cost a client nothing to create, are kept apart
// so that they never push out files: in the order they were last
// validated, bounded by bytes (maxNeg) and dropped once older than
// validFor, oldest first, since after that they would be checked again
// anyway.
type cache struct {
	m   map[string]*entry
	lru entry // sentinel of files and directories: lru.next the most recently used, lru.prev the least
	neg entry // sentinel of negative entries: neg.next the last validated, neg.prev the first

	max     int   // files and directories
	maxBody int64 // bytes of small-file bodies
	maxMeta int64 // entryBytes of files and directories
	maxNeg  int64 // entryBytes of negative entries

	positives int // files and directories cached
	bodyBytes int64
	metaBytes int64
	negBytes  int64
}

func (c *cache) init() {
	c.m = make(map[string]*entry)
	c.lru.next, c.lru.prev = &c.lru, &c.lru
	c.neg.next, c.neg.prev = &c.neg, &c.neg
	c.max, c.maxBody, c.maxMeta, c.maxNeg = maxEntries, maxBodyBytes, maxMetaBytes, maxNegativeBytes
}

// get returns the entry for path p, or nil. The string conversion in the
// index expression does not allocate.
func (c *cache) get(p []byte) *entry {
	return c.m[string(p)]
}

// touch records a use of e: a file or directory becomes the most recently
// used; a negative entry keeps its place, which is by validation time.
func (c *cache) touch(e *entry) {
	if e.negative() || c.lru.next == e {
		return
	}
	e.prev.next, e.next.prev = e.next, e.prev
	c.pushFront(&c.lru, e)
}

// pushFront puts e at the head of the list whose sentinel is l.
func (c *cache) pushFront(l, e *entry) {
	e.prev, e.next = l, l.next
	l.next.prev = e
	l.next = e
}

// revalidated records that e was found unchanged at now, and drops the
// negative entries that went stale meanwhile.
func (c *cache) revalidated(e *entry, now int64) {
	e.checked = now
	if !e.negative() {
		c.touch(e)
	} else if c.neg.next != e {
		e.prev.next, e.next.prev = e.next, e.prev
		c.pushFront(&c.neg, e)
	}
	c.trim(now, e)
}

// add inserts e (holding its cache reference), replacing an entry with the
// same key, then evicts past the limits (see trim).
func (c *cache) add(e *entry) {
	if old := c.m[e.key]; old != nil {
		c.remove(old)
	}
	c.m[e.key] = e
	if e.negative() {
		c.pushFront(&c.neg, e)
		c.negBytes += e.entryBytes()
	} else {
		c.pushFront(&c.lru, e)
		c.positives++
		c.bodyBytes += int64(len(e.body))
		c.metaBytes += e.entryBytes()
	}
	c.trim(e.checked, e)
}

// trim drops the negative entries that are stale at now or over the
// negative budget, oldest first, and the least recently used files and
// directories past their limits. It keeps entry keep, just added, even
// if it alone is over a limit, until the next add.
func (c *cache) trim(now int64, keep *entry) {
	for old := c.neg.prev; old != &c.neg && old != keep && (c.negBytes > c.maxNeg || !old.fresh(now)); old = c.neg.prev {
		c.remove(old)
	}
	for c.positives > c.max || c.bodyBytes > c.maxBody || c.metaBytes > c.maxMeta {
		old := c.lru.prev
		if old == keep || old == &c.lru {
			break
		}
		c.remove(old)
	}
}

// remove takes e out of the cache and drops the cache's reference; a
// response still using e keeps its descriptor open until released.
func (c *cache) remove(e *entry) {
	if c.m[e.key] == e {
		delete(c.m, e.key)
	}
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
	if e.negative() {
		c.negBytes -= e.entryBytes()
	} else {
		c.positives--
		c.bodyBytes -= int64(len(e.body))
		c.metaBytes -= e.entryBytes()
	}
	e.Release()
}

// evictOldest removes up to n least recently used files and directories,
// to give back descriptors when the process runs out of them (negative
// entries hold none).
func (c *cache) evictOldest(n int) {
	for ; n > 0 && c.lru.prev != &c.lru; n-- {
		c.remove(c.lru.prev)
	}
}

// clear removes every entry.
func (c *cache) clear() {
	c.evictOldest(c.positives)
	for c.neg.prev != &c.neg {
		c.remove(c.neg.prev)
	}
}
