// Package htpasswd reads Apache htpasswd files and checks HTTP basic
// authentication credentials against them, for auth_basic_user_file.
//
// Each line is "user:hash"; blank lines and lines starting with '#' are
// skipped. The hash forms accepted are those `htpasswd` and `openssl
// passwd` write today:
//
//   - bcrypt, "$2y$", "$2a$", "$2b$" (htpasswd -B), checked with
//     golang.org/x/crypto/bcrypt;
//   - SHA-crypt, "$5$" (SHA-256) and "$6$" (SHA-512), with an optional
//     "rounds=N$" (openssl passwd -5/-6, mkpasswd);
//   - MD5-crypt, "$apr1$" (htpasswd -m, Apache's variant) and "$1$";
//   - "{SHA}" and the base64 SHA-1 of the password (htpasswd -s), weak,
//     accepted for old files.
//
// The traditional DES crypt and plain text are refused when the file is
// read: a password stored that way is not worth protecting anything with.
//
// A File belongs to one worker loop (it is not locked). A successful
// check is remembered per user as the SHA-256 of the password, so that a
// client sending the same credentials on every request costs one slow
// hash once, not per request (bcrypt at its default cost takes tens of
// milliseconds, which the loop would spend unable to serve anyone else).
// A wrong password is always checked in full.
package htpasswd

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// ErrFormat is matched (errors.Is) by the error Parse returns for a line
// that is not "user:hash" with a hash form this package checks.
var ErrFormat = errors.New("htpasswd: bad line")

// maxFileSize bounds a password file: a million users is far more than
// basic authentication is meant for, and the whole file is read at once.
const maxFileSize = 64 << 20

// File is a parsed password file.
type File struct {
	users map[string]*user
}

// user is one line of the file.
type user struct {
	kind hashKind
	hash string // the whole hash field
	// good is the SHA-256 of the last password that checked out, valid
	// when goodSet.
	good    [sha256.Size]byte
	goodSet bool
}

type hashKind uint8

const (
	kindBcrypt hashKind = iota
	kindSHACrypt
	kindMD5Crypt
	kindSHA1
)

// Load reads and parses the file at path.
func Load(path string) (*File, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Size() > maxFileSize {
		return nil, fmt.Errorf("htpasswd: %s: larger than %d MiB", path, maxFileSize>>20)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(data)
}

// Parse parses the text of a password file. Its error names the first
// bad line ("line N: ...").
func Parse(data []byte) (*File, error) {
	f := &File{users: map[string]*user{}}
	for i, line := range bytes.Split(data, []byte{'\n'}) {
		line = bytes.TrimRight(line, "\r")
		if len(bytes.TrimSpace(line)) == 0 || line[0] == '#' {
			continue
		}
		name, hash, ok := strings.Cut(string(line), ":")
		if !ok || name == "" {
			return nil, fmt.Errorf("%w: line %d: expected user:hash", ErrFormat, i+1)
		}
		if j := strings.IndexByte(hash, ':'); j >= 0 {
			hash = hash[:j] // htdigest-style extra fields: only the hash matters
		}
		kind, err := kindOf(hash)
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: user %q: %v", ErrFormat, i+1, name, err)
		}
		if _, dup := f.users[name]; dup {
			return nil, fmt.Errorf("%w: line %d: user %q listed twice", ErrFormat, i+1, name)
		}
		f.users[name] = &user{kind: kind, hash: hash}
	}
	return f, nil
}

// kindOf recognizes a hash field.
func kindOf(h string) (hashKind, error) {
	switch {
	case strings.HasPrefix(h, "$2y$"), strings.HasPrefix(h, "$2a$"), strings.HasPrefix(h, "$2b$"):
		if _, err := bcrypt.Cost([]byte(h)); err != nil {
			return 0, fmt.Errorf("bad bcrypt hash: %v", err)
		}
		return kindBcrypt, nil
	case strings.HasPrefix(h, "$5$"), strings.HasPrefix(h, "$6$"):
		if _, _, _, _, err := splitSHACrypt(h); err != nil {
			return 0, err
		}
		return kindSHACrypt, nil
	case strings.HasPrefix(h, "$apr1$"), strings.HasPrefix(h, "$1$"):
		if _, _, _, err := splitMD5Crypt(h); err != nil {
			return 0, err
		}
		return kindMD5Crypt, nil
	case strings.HasPrefix(h, "{SHA}"):
		if d, err := base64.StdEncoding.DecodeString(h[5:]); err != nil || len(d) != sha1.Size {
			return 0, errors.New("bad {SHA} hash: not the base64 of a SHA-1 digest")
		}
		return kindSHA1, nil
	case h == "":
		return 0, errors.New("empty hash")
	}
	return 0, errors.New("unsupported hash (use bcrypt: htpasswd -B, or SHA-crypt: openssl passwd -6; DES crypt and plain text are refused)")
}

// Len returns the number of users.
func (f *File) Len() int { return len(f.users) }

// Check reports whether password is name's. It allocates nothing when the
// same password checked out before.
func (f *File) Check(name, password []byte) bool {
	u := f.users[string(name)]
	if u == nil {
		return false
	}
	sum := sha256.Sum256(password)
	if u.goodSet && subtle.ConstantTimeCompare(sum[:], u.good[:]) == 1 {
		return true
	}
	if !u.verify(password) {
		return false
	}
	u.good, u.goodSet = sum, true
	return true
}

// verify checks password against the stored hash in full.
func (u *user) verify(password []byte) bool {
	switch u.kind {
	case kindBcrypt:
		return bcrypt.CompareHashAndPassword([]byte(u.hash), password) == nil
	case kindSHACrypt:
		return subtle.ConstantTimeCompare([]byte(shaCrypt(password, u.hash)), []byte(u.hash)) == 1
	case kindMD5Crypt:
		return subtle.ConstantTimeCompare([]byte(md5Crypt(password, u.hash)), []byte(u.hash)) == 1
	case kindSHA1:
		sum := sha1.Sum(password)
		want, err := base64.StdEncoding.DecodeString(u.hash[5:])
		return err == nil && subtle.ConstantTimeCompare(sum[:], want) == 1
	}
	return false
}

// parseRounds parses SHA-crypt's "rounds=N".
func parseRounds(s string) (int, bool) {
	n, err := strconv.Atoi(s)
	return n, err == nil && s != "" && s[0] != '+' && s[0] != '-'
}
