//go:build linux

package static

import (
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nproxy/nproxy/http"
)

// Cache limits, per Handler (that is, per worker loop).
const (
	// validFor is how long a cached lookup is trusted before the path is
	// opened and stat'ed again: nginx's open_file_cache_valid 1s. A file
	// changed on disk is therefore seen at most about a second late.
	validFor = int64(time.Second)

	// maxEntries bounds the number of cached paths (nginx's
	// open_file_cache max=10000 in the usual tuning guides). Each file
	// entry above smallFileMax holds one descriptor, so this also bounds
	// the descriptors a worker keeps open for the cache.
	maxEntries = 10000

	// smallFileMax is the largest file kept in memory. Up to this size the
	// server writes head and body with one write, which measured faster
	// than a write plus sendfile; above it, sendfile wins.
	smallFileMax = 16 << 10

	// maxBodyBytes bounds the memory of cached small-file bodies, so that
	// 10000 entries of 16 KiB (160 MiB) cannot be reached per worker.
	maxBodyBytes = 64 << 20
)

// entryKind is what a path turned out to be.
type entryKind uint8

const (
	kindNotFound  entryKind = iota // ENOENT and friends, special files, escapes
	kindForbidden                  // EACCES/EPERM: 403, as nginx
	kindDir                        // a directory (no descriptor kept)
	kindFile                       // a regular file
)

// entry is one cached lookup of a path under static_root, nginx's
// ngx_cached_open_file. Apart from its validation time, its LRU links and
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

	prev, next *entry // LRU list; nil when not in the cache
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

// fresh reports whether e was validated less than validFor before now. A
// clock that went backwards makes the entry stale rather than fresh
// forever.
func (e *entry) fresh(now int64) bool {
	d := now - e.checked
	return d >= 0 && d < validFor
}

// cache is an open-file cache: a map by path plus an LRU list for
// eviction. It is used by one loop thread only and has no lock.
type cache struct {
	m         map[string]*entry
	lru       entry // sentinel: lru.next is the most recent, lru.prev the oldest
	max       int
	maxBody   int64
	bodyBytes int64
}

func (c *cache) init(max int, maxBody int64) {
	c.m = make(map[string]*entry)
	c.lru.next, c.lru.prev = &c.lru, &c.lru
	c.max, c.maxBody = max, maxBody
}

// get returns the entry for path p, or nil. The string conversion in the
// index expression does not allocate.
func (c *cache) get(p []byte) *entry {
	return c.m[string(p)]
}

// touch makes e the most recently used entry.
func (c *cache) touch(e *entry) {
	if c.lru.next == e {
		return
	}
	e.prev.next, e.next.prev = e.next, e.prev
	c.pushFront(e)
}

func (c *cache) pushFront(e *entry) {
	e.prev, e.next = &c.lru, c.lru.next
	c.lru.next.prev = e
	c.lru.next = e
}

// add inserts e (holding its cache reference), replacing an entry with the
// same key, then evicts the oldest entries past the limits.
func (c *cache) add(e *entry) {
	if old := c.m[e.key]; old != nil {
		c.remove(old)
	}
	c.m[e.key] = e
	c.pushFront(e)
	c.bodyBytes += int64(len(e.body))
	for len(c.m) > c.max || c.bodyBytes > c.maxBody {
		if c.lru.prev == e {
			break // e alone is over the limit; keep it until the next add
		}
		c.remove(c.lru.prev)
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
	c.bodyBytes -= int64(len(e.body))
	e.Release()
}

// evictOldest removes up to n least recently used entries, to give back
// descriptors when the process runs out of them.
func (c *cache) evictOldest(n int) {
	for ; n > 0 && c.lru.prev != &c.lru; n-- {
		c.remove(c.lru.prev)
	}
}

// clear removes every entry.
func (c *cache) clear() {
	c.evictOldest(len(c.m))
}
