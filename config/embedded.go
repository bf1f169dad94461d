package config

import (
	"bytes"
	"fmt"
	"os"
	"strings"
)

// DefaultOptions are the command line's changes to the embedded default:
// `nproxy PATH`, --listen and --port. They apply to the default only; a
// configuration file names its own static_root and listen.
type DefaultOptions struct {
	// Root is the directory to serve instead of the current one; a
	// relative path resolves against the current directory. "" keeps
	// the current directory.
	Root string
	// Listen is the listen value (host:port, comma-separated for
	// several) instead of 127.0.0.1:8080; "" keeps that.
	Listen string
}

// The lines of default.ini that DefaultOptions replace (checked by
// TestDefaultTextLines, so an edit of default.ini cannot silently detach
// them).
const (
	defaultRootLine   = "static_root = ."
	defaultListenLine = "listen = 127.0.0.1:8080"
)

// DefaultText returns the embedded default's text with o applied, the
// bytes ParseDefault reads. The master hands these bytes to its workers,
// so they serve what the master validated, PATH included.
//
// A value is written between backquotes, which ini.v1 reads literally (no
// comment, no escape), so a path may hold '#', ';' or quotes; one holding
// a backquote or a line break cannot be written and is refused.
func DefaultText(o DefaultOptions) ([]byte, error) {
	text := Default
	for _, r := range []struct{ line, key, value string }{
		{defaultRootLine, "static_root", o.Root},
		{defaultListenLine, "listen", o.Listen},
	} {
		if r.value == "" {
			continue
		}
		if strings.ContainsAny(r.value, "`\r\n\x00") {
			return nil, fmt.Errorf("config: %s %q: a backquote or a line break cannot be written in the configuration", r.key, r.value)
		}
		old := []byte("\n" + r.line + "\n")
		if bytes.Count(text, old) != 1 {
			return nil, fmt.Errorf("config: the embedded default has no %q line", r.line)
		}
		text = bytes.Replace(text, old, []byte("\n"+r.key+" = `"+r.value+"`\n"), 1)
	}
	return text, nil
}

// ParseDefault validates data, the embedded default's text as DefaultText
// returns it. Like LoadDefault, it resolves relative paths against the
// current directory, and messages name the file DefaultName.
func ParseDefault(data []byte) (*Config, error) {
	wd, err := os.Getwd()
	if err != nil {
		return nil, fmt.Errorf("config: default configuration: %w", err)
	}
	return parse(DefaultName, wd, data)
}

// ParseDefaultFiles is ParseDefault reading the files the TLS keys and
// the .wasm module lines name from files, as ParseFiles does.
func ParseDefaultFiles(data []byte, files map[string][]byte) (*Config, error) {
	wd, err := os.Getwd()
	if err != nil {
		return nil, fmt.Errorf("config: default configuration: %w", err)
	}
	return parseSnapshot(DefaultName, wd, data, snapshotOf(files))
}
