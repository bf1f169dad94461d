//go:build linux

package static

// defaultType is sent for an unknown or missing extension, as nginx's
// default_type in its stock configuration.
const defaultType = "application/octet-stream"

// mimeTypes maps a lower-case file extension to its Content-Type. Text
// types carry no charset parameter, as in nginx's mime.types: nginx adds one
// only when the charset directive asks, and so do we never. It is consulted
// when a file enters the cache, never per request.
var mimeTypes = map[string]string{
	// Documents and code.
	"html":  "text/html",
	"htm":   "text/html",
	"shtml": "text/html",
	"xhtml": "application/xhtml+xml",
	"css":   "text/css",
	"js":    "text/javascript", // RFC 9239
	"mjs":   "text/javascript",
	"json":  "application/json",
	"map":   "application/json", // source maps
	"xml":   "text/xml",
	"rss":   "application/rss+xml",
	"atom":  "application/atom+xml",
	"txt":   "text/plain",
	"csv":   "text/csv",
	"md":    "text/markdown",
	"yaml":  "application/yaml",
	"yml":   "application/yaml",
	"wasm":  "application/wasm",
	"pdf":   "application/pdf",

	// Images.
	"svg":  "image/svg+xml",
	"svgz": "image/svg+xml",
	"png":  "image/png",
	"jpg":  "image/jpeg",
	"jpeg": "image/jpeg",
	"gif":  "image/gif",
	"webp": "image/webp",
	"avif": "image/avif",
	"ico":  "image/x-icon",
	"bmp":  "image/x-ms-bmp",
	"tif":  "image/tiff",
	"tiff": "image/tiff",

	// Fonts.
	"woff":  "font/woff",
	"woff2": "font/woff2",
	"ttf":   "font/ttf",
	"otf":   "font/otf",

	// Archives.
	"zip": "application/zip",
	"gz":  "application/gzip",
	"tgz": "application/gzip",
	"tar": "application/x-tar",
	"bz2": "application/x-bzip2",
	"xz":  "application/x-xz",
	"zst": "application/zstd",
	"7z":  "application/x-7z-compressed",

	// Audio and video.
	"mp4":  "video/mp4",
	"m4v":  "video/x-m4v",
	"webm": "video/webm",
	"mov":  "video/quicktime",
	"mp3":  "audio/mpeg",
	"m4a":  "audio/x-m4a",
	"ogg":  "audio/ogg",
	"oga":  "audio/ogg",
	"ogv":  "video/ogg",
	"wav":  "audio/wav",
	"flac": "audio/flac",
	"aac":  "audio/aac",
}

// contentType returns the Content-Type of the file at path p, chosen by the
// extension of its last segment, case-insensitively.
func contentType(p []byte) string {
	for i := len(p) - 1; i >= 0; i-- {
		switch p[i] {
		case '/':
			return defaultType
		case '.':
			ext := p[i+1:]
			if len(ext) == 0 || len(ext) > 8 {
				return defaultType
			}
			var low [8]byte
			for j, c := range ext {
				if 'A' <= c && c <= 'Z' {
					c += 'a' - 'A'
				}
				low[j] = c
			}
			if t, ok := mimeTypes[string(low[:len(ext)])]; ok {
				return t
			}
			return defaultType
		}
	}
	return defaultType
}
