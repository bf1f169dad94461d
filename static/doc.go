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
//     index file is served; without one, 403 (nginx without autoindex).
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
