package config

import (
	"fmt"
	"strings"
)

// The compression keys: gzip (on the fly), gzip_types, gzip_min_length,
// gzip_comp_level, gzip_static (precompressed files).

// DefaultGzipTypes are the types gzip compresses without gzip_types: the
// text formats a site serves (nginx compresses only text/html by default;
// a list of one surprises more than it saves).
var DefaultGzipTypes = []string{"text/html", "text/css", "text/plain", "text/javascript", "text/xml",
	"application/javascript", "application/json", "application/xml", "image/svg+xml"}

// DefaultGzipMinLength is gzip_min_length's default, nginx's: below it
// the gzip framing (18 bytes) eats the gain.
const DefaultGzipMinLength = 20

func init() {
	keys := map[string]serverKey{
		"gzip": func(_ *loader, s *Server, v string) (err error) {
			s.Gzip, err = parseSwitch(v)
			return err
		},
		"gzip_static": func(_ *loader, s *Server, v string) (err error) {
			s.GzipStatic, err = parseSwitch(v)
			return err
		},
		"gzip_types": func(_ *loader, s *Server, v string) error {
			var types []string
			for _, t := range strings.Fields(strings.ToLower(v)) {
				if t == "*" {
					return fmt.Errorf("%q: name the types (compressing everything includes images and archives)", t)
				}
				main, sub, ok := strings.Cut(t, "/")
				if !ok || main == "" || sub == "" || strings.ContainsAny(t, ";,") {
					return fmt.Errorf("%q: not a MIME type (type/subtype)", t)
				}
				types = append(types, t)
			}
			s.GzipTypes = types
			return nil
		},
		"gzip_min_length": func(_ *loader, s *Server, v string) (err error) {
			n, err := parseSize(v)
			s.GzipMinLength = n
			return err
		},
		"gzip_comp_level": func(_ *loader, s *Server, v string) (err error) {
			s.GzipLevel, err = parseCount(v, 1, 9)
			return err
		},
	}
	for k, f := range keys {
		serverKeys[k] = f
		locationKeys[k] = GroupNone
	}
}
