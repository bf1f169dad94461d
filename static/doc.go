//go:build linux

// Package static is nproxy's static file server: the routing step that
// answers a request from the files under a server's static_root, with the
// behaviour an nginx user expects from its static, index and try_files
// modules.
//
// # Serving
//
// A Handler belongs to one worker loop and is called on that loop's thread
// only; it takes no locks. Serve answers every request it is given: GET
// and HEAD (identical but for the body, which the server drops), 405 with
// "Allow: GET, HEAD" for other methods.
//
//   - A regular file is sent with Content-Type (by extension, see mime.go;
//     application/octet-stream otherwise, nginx's default_type),
//     Last-Modified, an ETag in nginx's format "<mtime hex>-<size hex>",
//     and Accept-Ranges: bytes.
//   - A directory requested without a trailing slash is redirected (301)
//     to the path with one, query kept. With the slash, the first existing
//     index file is served; without one, a listing of its entries with
//     autoindex = on (see below), else 403 (nginx without autoindex).
//   - FIFOs, devices and sockets are 404, unreadable files 403.
//   - try_files tries its tokens in order: "$uri" (or any token not
//     ending in '/', with $uri expanded) matches a regular file, a token
//     ending in '/' a directory, whose index is served. The last token is
//     "=CODE", answered as is, or a path served as an internal redirect
//     (without try_files applying to it again, which would only loop).
//
// Conditional requests follow RFC 9110 §13.2.2: If-None-Match (weak
// comparison, "*" and lists) gives 304; when it is absent, an
// If-Modified-Since equal to or later than the modification time gives
// 304. A single byte range (a-b, a-, -n) gives 206 with Content-Range, one
// that starts past the end 416. Several ranges get the whole file with
// 200 rather than multipart/byteranges (RFC 9110 lets a server ignore
// Range), and a malformed Range header is ignored. If-Range is honoured.
//
// # Directory listings
//
// With autoindex = on, a directory without an index file is answered with
// the list of its entries: an HTML page, or nginx's autoindex_format json
// ([{"name", "type": "file"|"directory", "mtime", "size"}]) for a request
// with ?format=json or an Accept header naming application/json. Entries
// are sorted by name, byte-wise (code point order for UTF-8); files show
// their size in IEC units and their modification time (UTC), directories
// a trailing '/'; the page of any directory but the root starts with a
// "../" link. Names are HTML-escaped in text and percent-encoded in
// links, invalid UTF-8 and control characters are shown as U+FFFD, and
// the page carries a Content-Security-Policy that runs nothing. A symlink
// is listed as what it points to only when that stays beneath the root
// and is a file or a directory; FIFOs, sockets and devices are not listed
// (they would not be served).
//
// A listing has validators like a file: a weak ETag hashing each entry's
// name, kind, size and modification time (so it changes when a listed
// file changes, not only when the directory does), and Last-Modified, the
// newest of those times; If-None-Match and If-Modified-Since give 304.
//
// A directory is read in passes that each hold at most 1 MiB of names
// (listing.go): one of up to 1000 entries is answered from Serve in one
// piece with Content-Length; a larger one is streamed on the hijacked
// connection, chunked, batch by batch, a bounded amount of work per loop
// turn, so neither its size in memory nor the time it holds the loop
// grows with the directory (listing_stream.go). At most 16 listings
// stream at once per Handler; more are answered 503 with Retry-After.
//
// # Hidden files
//
// With hidden_files = deny, a path with a segment that starts with '.'
// (.git/config, .env, a/.htpasswd) is answered 404, as a missing file
// would be, before any lookup: 403 would confirm that it exists. A first
// segment ".well-known" (RFC 8615) is still served, and listed. Dot
// entries are not listed either. With allow (a file's default, as nginx),
// they are served and listed like any other.
//
// # Path safety
//
// The server hands Serve a decoded, normalized path; Serve still refuses
// (400) a path that is not absolute or holds NUL or a dot segment. Files
// are opened with openat2(2) relative to a descriptor of static_root kept
// open since New, with RESOLVE_BENEATH|RESOLVE_NO_MAGICLINKS: nothing
// resolves above the root, and symlinks are followed only while they stay
// beneath it. A symlink pointing outside (absolute, or escaping through
// "..") is answered 404, like a missing file. There is no owner check
// (nginx's disable_symlinks if_not_owner): the root is trusted content.
// On kernels without openat2 (before 5.6) or where a seccomp filter refuses
// it, openat(2) is used and the opened descriptor's path, read back from
// /proc/self/fd, must lie under the root or the file is refused.
//
// # Open-file cache
//
// Like nginx's open_file_cache, each Handler caches the result of opening
// and stat'ing a path: a map keyed by the path (looked up without
// allocating) holding, per regular file, its size, modification time,
// preformatted header lines and either its contents (files up to 16 KiB,
// sent with the head in one write) or an open descriptor (larger files,
// which the server sends with sendfile). Directories and negative results
// (missing, forbidden, escaping) are cached too.
//
// An entry is trusted for one second (open_file_cache_valid 1s), measured
// with the Exchange's clock; after that the next request opens and stats
// the path again and keeps the entry only if the inode, size and
// modification time are unchanged. A changed file gets a new entry; a file
// edited on disk is therefore seen at most about a second late.
//
// The cache holds at most 10000 files and directories, 64 MiB of file
// contents and 16 MiB of the rest per Handler, and evicts the least
// recently used. Negative results, whose paths a client can invent
// without end, have a budget of their own that never pushes files out:
// 1 MiB of paths and entries per Handler, each dropped once older than
// its second of validity, oldest first (see cache.go).
//
// Entries are reference counted: a response sending from a descriptor
// holds a reference, handed to the server as Response.Release, so a
// descriptor whose entry was evicted or replaced stays open until that
// response is done. Close clears the cache the same way.
//
// A request answered from a fresh cache entry, 200, 206 or 304, allocates
// nothing (see alloc_test.go).
package static
