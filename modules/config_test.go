//go:build linux

package modules_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nproxy/nproxy/config"
	"github.com/nproxy/nproxy/modules"
)

// copyModule copies a built module into dir as name, where a
// configuration in dir names it by a relative path.
func copyModule(t *testing.T, src, dir, name string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestConfigCheck checks what `nproxy -t` and the master report for
// module lines: the configuration's loading loads every module, and a
// module that cannot run is "FILE:LINE: module PATH: why", at the line
// that names it, whatever section it is in.
func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	copyModule(t, modules.BuildModule(t, modules.WASM, "examples/authcheck"), dir, "authcheck.wasm")
	copyModule(t, modules.BuildModule(t, modules.WASM, "examples/secheaders"), dir, "secheaders.wasm")
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "shell.wasm"), []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "dir.wasm"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		text string
		want []string // the problems, without "FILE:"
		kind error
	}{
		{
			name: "valid, global and repeated",
			text: "module = secheaders.wasm\nmodule = secheaders.wasm X-A=1\n[server]\nlisten = 127.0.0.1:1\nmodule = authcheck.wasm key=k\n[location /a/]\nmodule = secheaders.wasm X-B=2\n",
		},
		{
			name: "missing file",
			text: "[server]\nlisten = 127.0.0.1:1\nmodule = missing.wasm\n",
			want: []string{"3: module missing.wasm: no such file or directory"},
			kind: config.ErrFile,
		},
		{
			name: "not a module file",
			text: "module = notes.txt\n[server]\nlisten = 127.0.0.1:1\n",
			want: []string{"1: module notes.txt: not a module file: want .so (native) or .wasm (WebAssembly)"},
			kind: config.ErrValue,
		},
		{
			name: "a directory",
			text: "[server]\nlisten = 127.0.0.1:1\nmodule = dir.wasm\n",
			want: []string{"3: module dir.wasm: not a regular file"},
			kind: config.ErrFile,
		},
		{
			name: "not WebAssembly",
			text: "[server]\nlisten = 127.0.0.1:1\n[location /x/]\nmodule = shell.wasm\n",
			want: []string{"4: module shell.wasm: not a WebAssembly module nproxy can run: invalid magic number"},
			kind: config.ErrValue,
		},
		{
			name: "ARGS the module refuses, each line at its own",
			text: "module = secheaders.wasm novalue\n[server]\nlisten = 127.0.0.1:1\nmodule = authcheck.wasm\nmodule = authcheck.wasm key=ok\n",
			want: []string{
				`1: module secheaders.wasm: "novalue": want NAME=VALUE`,
				"4: module authcheck.wasm: no key=VALUE argument: every request would be refused",
			},
			kind: config.ErrValue,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(dir, "nproxy.ini")
			cfg, err := config.Parse(file, []byte(tt.text))
			if tt.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if len(cfg.Modules) != 2 || len(cfg.Servers[0].Modules) != 1 ||
					len(cfg.Servers[0].Locations[0].OwnModules(cfg.Servers[0])) != 1 {
					t.Errorf("modules: %d global, %d server", len(cfg.Modules), len(cfg.Servers[0].Modules))
				}
				return
			}
			var probs config.Errors
			if !errors.As(err, &probs) {
				t.Fatalf("error %v, want config.Errors", err)
			}
			var got []string
			for _, p := range probs {
				got = append(got, strings.TrimPrefix(p.Error(), file+":"))
				if !errors.Is(p, tt.kind) {
					t.Errorf("%v: not %v", p, tt.kind)
				}
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// TestConfigCheckNative checks the refusal of a native module built for
// another hook API version, before Go's plugin loader sees it.
func TestConfigCheckNative(t *testing.T) {
	dir := t.TempDir()
	copyModule(t, modules.BuildModule(t, modules.Native, "testdata/oldapi"), dir, "oldapi.so")
	file := filepath.Join(dir, "nproxy.ini")
	_, err := config.Parse(file, []byte("[server]\nlisten = 127.0.0.1:1\nmodule = oldapi.so\n"))
	want := file + ":3: module oldapi.so: built for nproxy hook API v0, this nproxy needs v1 to v2: rebuild the module against this nproxy's modules/hook"
	if err == nil || err.Error() != want {
		t.Errorf("error:\n%v\nwant:\n%s", err, want)
	}
}

// TestConfigParseFilesWASM: a Parse records the content of every .wasm
// file a module line names (Config.Files, Module.Code) as it checked it;
// ParseFiles of the same text, as a worker parses its master's
// configuration, checks and keeps those bytes whatever the file holds by
// then (another module, bytes that are no module, nothing), OpenCode
// runs them, and a file the snapshot lacks is an error at its line.
func TestConfigParseFilesWASM(t *testing.T) {
	dir := t.TempDir()
	sech := modules.BuildModule(t, modules.WASM, "examples/secheaders")
	auth := modules.BuildModule(t, modules.WASM, "examples/authcheck")
	copyModule(t, sech, dir, "m.wasm")
	want, err := os.ReadFile(sech)
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.Join(dir, "t.ini")
	data := []byte("[server]\nlisten = 127.0.0.1:1\nmodule = m.wasm X-A=1\n")
	cfg, err := config.Parse(name, data)
	if err != nil {
		t.Fatal(err)
	}
	abs := filepath.Join(dir, "m.wasm")
	if got := cfg.Files[abs]; string(got) != string(want) {
		t.Fatalf("Files[m.wasm]: %d bytes, want the file's %d", len(got), len(want))
	}
	if got := cfg.Servers[0].Modules[0].Code; string(got) != string(want) {
		t.Fatalf("Module.Code: %d bytes, want the file's %d", len(got), len(want))
	}

	for _, change := range []string{"another module", "not a module", "removed"} {
		switch change {
		case "another module":
			copyModule(t, auth, dir, "m.wasm")
		case "not a module":
			if err := os.WriteFile(abs, []byte("\x00asm\x01\x00\x00\x00garbage"), 0o644); err != nil {
				t.Fatal(err)
			}
		case "removed":
			if err := os.Remove(abs); err != nil {
				t.Fatal(err)
			}
		}
		if change != "another module" {
			if _, err := config.Parse(name, data); err == nil {
				t.Fatalf("%s: Parse accepted the file", change)
			}
		}
		again, err := config.ParseFiles(name, data, cfg.Files)
		if err != nil {
			t.Fatalf("%s: ParseFiles with the first load's files: %v", change, err)
		}
		line := again.Servers[0].Modules[0]
		if string(line.Code) != string(want) {
			t.Fatalf("%s: ParseFiles kept %d bytes, want the validated %d", change, len(line.Code), len(want))
		}
		m, err := modules.OpenCode(line.Name, line.Path, line.Code, line.Args, nil)
		if err != nil {
			t.Fatalf("%s: OpenCode: %v", change, err)
		}
		// secheaders sees responses only; authcheck would see requests.
		if !m.HasResponseHook() || m.HasRequestHook() {
			t.Errorf("%s: OpenCode ran another module than the validated one", change)
		}
		m.Close()
	}

	delete(cfg.Files, abs)
	_, err = config.ParseFiles(name, data, cfg.Files)
	if err == nil || !strings.Contains(err.Error(), "t.ini:3: module m.wasm: not among the files the configuration was validated with") ||
		!errors.Is(err, config.ErrFile) {
		t.Errorf("ParseFiles without the module: %v", err)
	}
}
