package config

import (
	"errors"
	"io/fs"
	"os"
	"strings"

	"github.com/nproxy/nproxy/modules"
)

// The module key: `module = PATH [ARGS...]`, repeatable, global (every
// [server]), in a [server] or in a [location]. A line is checked when the
// configuration is loaded by loading the module as a worker will (package
// modules), so `nproxy -t`, the master's start and its reloads report a
// missing file, a bad export or a version mismatch at the line.

// Module is one module line.
type Module struct {
	// Name is PATH as written, for messages.
	Name string
	// Path is PATH made absolute. Its extension tells the form: .so is a
	// native module (a Go plugin), .wasm a WebAssembly module.
	Path string
	// Args are the ARGS, split on white space, given to the module's
	// constructor.
	Args []string
	// Line is the line of the module key.
	Line int
}

// moduleKeys are the module key of each section kind.
var (
	globalModuleKey globalKey = func(l *loader, c *Config, v string) error {
		return l.applyModule(&c.Modules, v)
	}
	serverModuleKey serverKey = func(l *loader, s *Server, v string) error {
		return l.applyModule(&s.Modules, v)
	}
)

func init() {
	globalKeys["module"] = globalModuleKey
	serverKeys["module"] = serverModuleKey
	locationKeys["module"] = GroupNone
	repeatable["module"] = true
}

// applyModule checks one module line and appends it to list. A [location]
// gets a copy of its [server]'s list (inherited lines first), so the
// append never writes into the [server]'s array. A problem with the
// module itself is recorded as "module PATH: ..." rather than returned,
// which would read "module: PATH: ...".
func (l *loader) applyModule(list *[]*Module, v string) error {
	fields := strings.Fields(v)
	name, args := fields[0], fields[1:]
	abs := l.resolve(name)
	err := checkModuleFile(abs)
	if err == nil {
		err = modules.Check(abs, args)
	}
	if err != nil {
		kind := ErrValue
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) || errors.Is(err, errNotRegular) {
			kind = ErrFile
		}
		l.add(l.line, kind, "module "+keyName(name)+": "+unwrapPathError(err).Error())
		return nil
	}
	m := &Module{Name: name, Path: abs, Args: args, Line: l.line}
	*list = append((*list)[:len(*list):len(*list)], m)
	return nil
}

// errNotRegular is checkModuleFile's error for a directory, a device or a
// FIFO.
var errNotRegular = errors.New("not a regular file")

// checkModuleFile checks that abs is a regular file before a module
// loader opens it (opening a FIFO would block).
func checkModuleFile(abs string) error {
	fi, err := os.Stat(abs)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return errNotRegular
	}
	return nil
}

// OwnModules returns the module lines of the location's own section, in
// order: its Server.Modules but those it inherits from srv, its
// [server]. They run once the location is chosen; the global and
// [server] ones run before, first in the [server]'s routing chain.
func (loc *Location) OwnModules(srv *Server) []*Module {
	var own []*Module
	for _, m := range loc.Server.Modules {
		inherited := false
		for _, sm := range srv.Modules {
			if sm == m {
				inherited = true
				break
			}
		}
		if !inherited {
			own = append(own, m)
		}
	}
	return own
}
