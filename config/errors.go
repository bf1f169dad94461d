package config

import (
	"errors"
	"sort"
	"strconv"
	"strings"
)

// Kinds of problems. Every Problem wraps one of them, so a caller can ask
// errors.Is(err, config.ErrNotImplemented) of the error Parse returns.
var (
	// ErrInvalid is matched by every error Parse, Load and LoadDefault
	// return for a configuration that was read but is not valid.
	ErrInvalid = errors.New("config: invalid configuration")

	// ErrSyntax is returned for a line that is neither a section header,
	// a comment nor "key = value", and for text ini.v1 would misread.
	ErrSyntax = errors.New("config: syntax error")

	// ErrUnknownKey is returned for a key this build does not know, or a
	// key used in the wrong place (a server key among the globals).
	ErrUnknownKey = errors.New("config: unknown key")

	// ErrUnknownSection is returned for a section other than [server].
	ErrUnknownSection = errors.New("config: unknown section")

	// ErrDuplicateKey is returned when a key that may appear once per
	// section appears again.
	ErrDuplicateKey = errors.New("config: duplicate key")

	// ErrMissing is returned when a required key or section is absent, or
	// a key needs another one that is absent (rate_burst without
	// rate_limit).
	ErrMissing = errors.New("config: missing key")

	// ErrValue is returned for a value that is malformed or out of range.
	ErrValue = errors.New("config: bad value")

	// ErrFile is returned when a path in the configuration names a file or
	// directory that does not exist or cannot be used.
	ErrFile = errors.New("config: bad path")

	// ErrCertificate is returned when a file named by tls_cert, tls_key,
	// tls_client_ca or proxy_tls_ca can be read but does not hold what
	// the key needs (PEM certificates, an unencrypted private key), or
	// when a tls_key is not the key of its tls_cert.
	ErrCertificate = errors.New("config: bad certificate or key")

	// ErrConflict is returned when two servers claim the same listen
	// address and server name, or share a listen address and do not
	// agree on TLS.
	ErrConflict = errors.New("config: conflicting servers")

	// ErrNotImplemented is returned for a key listed in NotImplemented.
	ErrNotImplemented = errors.New("config: not available in this build")
)

// Problem is one thing wrong with a configuration, at a line of a file.
type Problem struct {
	File string // the name given to Parse or Load
	Line int    // 1-based; always within the file (1 for an empty file)
	Msg  string // starts with the key it is about, e.g. `listen: "x": ...`
	Err  error  // the kind: one of the Err* values of this package
}

// Error returns "FILE:LINE: MSG".
func (p *Problem) Error() string {
	return p.File + ":" + strconv.Itoa(p.Line) + ": " + p.Msg
}

// Unwrap returns the kind of p.
func (p *Problem) Unwrap() error { return p.Err }

// Is reports whether target is ErrInvalid: every Problem is one.
func (p *Problem) Is(target error) bool { return target == ErrInvalid }

// Errors is every problem found in one configuration, in line order. Parse
// and Load return a non-empty Errors as their error.
type Errors []*Problem

// Error returns one "FILE:LINE: message" line per problem, joined with
// newlines (no trailing newline).
func (e Errors) Error() string {
	var b strings.Builder
	for i, p := range e {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(p.Error())
	}
	return b.String()
}

// Unwrap returns the problems, so errors.Is and errors.As look into each.
func (e Errors) Unwrap() []error {
	errs := make([]error, len(e))
	for i, p := range e {
		errs[i] = p
	}
	return errs
}

// sortByLine orders e by line, keeping the order of problems on one line.
func (e Errors) sortByLine() {
	sort.SliceStable(e, func(i, j int) bool { return e[i].Line < e[j].Line })
}

// kindError is a value error of a given kind whose text does not repeat the
// kind's own text.
type kindError struct {
	kind error
	msg  string
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }

// fileError returns an error of kind ErrFile with text msg.
func fileError(msg string) error { return &kindError{ErrFile, msg} }
