package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// The user key: `user = NAME [GROUP]`, global, nginx's user directive.
// A master started as root runs its workers as NAME (with GROUP, by
// default NAME's primary group, and NAME's supplementary groups): the
// kernel switches the credentials between fork and exec, so a worker
// never runs a single instruction as root. The master stays root, which
// a reload needs to bind new ports and read the files again.
//
// A worker opens what it serves and loads (static files, certificates and
// keys, htpasswd files, modules) as NAME, so Parse checks that NAME can
// read them, from the permission bits of each file and of every
// directory above it: a file only root can read is an error at its key's
// line, not a 500 on the first request. Log files are the master's to
// create: it hands them over to NAME (proc).

// RunAs is the user and group the workers run as.
type RunAs struct {
	Name  string // NAME as written
	Group string // GROUP as written, "" for NAME's primary group
	UID   int
	GID   int
	// Groups are NAME's supplementary groups, GID among them.
	Groups []int
}

func init() {
	globalKeys["user"] = func(l *loader, c *Config, v string) (err error) {
		if c.User, err = parseUser(v); err != nil {
			return err
		}
		if euid := os.Geteuid(); euid != 0 && euid != c.User.UID {
			l.warnf(l.line, "user: nproxy runs as uid %d, not root: it cannot switch its workers to %s, which run as uid %d too", euid, c.User.Name, euid)
		}
		return nil
	}
}

// parseUser looks NAME [GROUP] up in the system's user database.
func parseUser(v string) (*RunAs, error) {
	f := strings.Fields(v)
	if len(f) > 2 {
		return nil, fmt.Errorf("%q: expected NAME [GROUP]", v)
	}
	u, err := user.Lookup(f[0])
	if err != nil {
		return nil, fmt.Errorf("%q: no such user", f[0])
	}
	r := &RunAs{Name: f[0]}
	r.UID, _ = strconv.Atoi(u.Uid)
	r.GID, _ = strconv.Atoi(u.Gid)
	if len(f) == 2 {
		g, err := user.LookupGroup(f[1])
		if err != nil {
			return nil, fmt.Errorf("%q: no such group", f[1])
		}
		r.Group = f[1]
		r.GID, _ = strconv.Atoi(g.Gid)
	}
	r.Groups = []int{r.GID}
	if ids, err := u.GroupIds(); err == nil {
		for _, id := range ids {
			if n, err := strconv.Atoi(id); err == nil && n != r.GID {
				r.Groups = append(r.Groups, n)
			}
		}
	}
	return r, nil
}

// String writes the key's value.
func (r *RunAs) String() string {
	return strings.TrimSpace(r.Name + " " + r.Group)
}

// What a worker does with a path, for checkRunAs.
const (
	readFile = iota // opens a file to read it
	readDir         // lists a directory and opens what is in it
)

// runAsKeys are the keys whose files a worker reads, with how; a
// module's path is its value's first word.
var runAsKeys = map[string]int{
	"static_root": readDir, "alias": readDir, "tls_cert": readFile, "tls_key": readFile,
	"tls_client_ca": readFile, "proxy_tls_ca": readFile, "auth_basic_user_file": readFile,
	"module": readFile,
}

// checkRunAs reports every file of runAsKeys that r cannot read, at the
// line of its key.
func (l *loader) checkRunAs(r *RunAs) {
	if r == nil || r.UID == 0 {
		return
	}
	l.checkSyslogRunAs(r) // syslog.go
	for _, sec := range l.layout {
		for _, s := range sec.settings {
			how, ok := runAsKeys[s.key]
			if !ok {
				continue
			}
			p := s.value
			if s.key == "module" {
				p, _, _ = strings.Cut(p, " ")
			}
			if err := r.canRead(p, how); err != nil {
				l.addf(s.line, ErrFile, "%s: %q: %v", s.key, p, err)
			}
		}
	}
}

// errNoAccess is canRead's error.
var errNoAccess = errors.New("permission denied")

// searchDirs reports why r cannot search (x) one of the directories
// above the clean path p, from the root down.
func (r *RunAs) searchDirs(p string) error {
	var dirs []string
	for d := filepath.Dir(p); ; d = filepath.Dir(d) {
		dirs = append(dirs, d)
		if d == filepath.Dir(d) {
			break
		}
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := r.may(dirs[i], 1); err != nil {
			return err
		}
	}
	return nil
}

// canRead reports why r cannot read p (how: a file or a directory's
// entries), going by the permission bits of p and of every directory
// above it: search (x) on each directory, read (r) on p and, for a
// directory, search too. ACLs and capabilities are not looked at.
func (r *RunAs) canRead(p string, how int) error {
	p = filepath.Clean(p)
	if err := r.searchDirs(p); err != nil {
		return err
	}
	want := uint32(4)
	if how == readDir {
		want = 4 | 1
	}
	return r.may(p, want)
}

// may checks the permission bits want (4 read, 2 write, 1 search) of
// path for r.
func (r *RunAs) may(path string, want uint32) error {
	fi, err := os.Stat(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	mode := uint32(fi.Mode().Perm())
	var bits uint32
	switch {
	case int(st.Uid) == r.UID:
		bits = mode >> 6
	case r.inGroup(int(st.Gid)):
		bits = mode >> 3
	default:
		bits = mode
	}
	if bits&want != want {
		what := "read"
		switch want {
		case 1:
			what = "search"
		case 2:
			what = "write to"
		}
		return fmt.Errorf("%w: user %s cannot %s %s (%v, owner %d, group %d)", errNoAccess, r.Name, what, path, fi.Mode(), st.Uid, st.Gid)
	}
	return nil
}

func (r *RunAs) inGroup(gid int) bool {
	for _, g := range r.Groups {
		if g == gid {
			return true
		}
	}
	return false
}
