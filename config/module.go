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
	// Code is the content of a .wasm file as validated, nil for a native
	// module: the workers compile these bytes (modules.OpenCode), not what
	// Path holds later, so a worker respawned after a reload refused for
	// another reason runs the module its siblings run. A native module is
	// loaded from Path by every worker (plugin.Open takes a path).
	Code []byte
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
	var code []byte
	var err error
	if kind, _ := modules.KindOf(abs); kind == modules.WASM {
		if code, err = l.moduleCode(abs); err == nil {
			err = modules.CheckCode(abs, code, args)
		}
	} else if err = checkModuleFile(abs); err == nil {
		err = modules.Check(abs, args)
	}
	if err != nil {
		kind := ErrValue
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) || errors.Is(err, errNotRegular) || errors.Is(err, errNotValidated) {
			kind = ErrFile
		}
		l.add(l.line, kind, "module "+keyName(name)+": "+unwrapPathError(err).Error())
		return nil
	}
	m := &Module{Name: name, Path: abs, Args: args, Line: l.line, Code: code}
	*list = append((*list)[:len(*list):len(*list)], m)
	return nil
}

// errNotRegular is checkModuleFile's error for a directory, a device or a
// FIFO.
var errNotRegular = errors.New("not a regular file")

// errNotValidated is the error for a file a worker's configuration names
// and its snapshot (ParseFiles) lacks.
var errNotValidated = errors.New("not among the files the configuration was validated with")

// moduleCode returns the content of abs, the .wasm file a module line
// names: from the snapshot when there is one (ParseFiles), else from the
// disk, read once however many lines name it. It records the content for Config.Files, with which a
// master hands it to its workers.
func (l *loader) moduleCode(abs string) ([]byte, error) {
	var code []byte
	if l.snapshot != nil {
		var ok bool
		if code, ok = l.snapshot[abs]; !ok {
			return nil, errNotValidated
		}
		if code == nil {
			code = []byte{} // nil would make modules read the disk
		}
	} else if seen, ok := l.files[abs]; ok {
		code = seen // named again: the bytes the first line read
	} else {
		if err := checkModuleFile(abs); err != nil {
			return nil, err
		}
		var err error
		if code, err = os.ReadFile(abs); err != nil {
			return nil, err
		}
	}
	if l.files == nil {
		l.files = map[string][]byte{}
	}
	l.files[abs] = code
	return code, nil
}

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
