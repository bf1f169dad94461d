//go:build linux

package proc_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// moduleMark makes one request for /index.html on a new connection and
// returns which module answered: "old" when the probe marked the
// response (X-Module: a), "new" when secheaders did (it reads the same
// ARGS as a header to set: Respadd: X-Module:a).
func moduleMark(c *http.Client, addr string) (string, error) {
	resp, err := c.Get("http://" + addr + "/index.html")
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	switch {
	case resp.StatusCode == 200 && resp.Header.Get("X-Module") == "a" && resp.Header.Get("Respadd") == "":
		return "old", nil
	case resp.StatusCode == 200 && resp.Header.Get("Respadd") == "X-Module:a" && resp.Header.Get("X-Module") == "":
		return "new", nil
	}
	return "status " + resp.Status + ", X-Module " + resp.Header.Get("X-Module") + ", Respadd " + resp.Header.Get("Respadd"), nil
}

// TestWASMRespawnAfterRefusedReloadKeepsOld: the .wasm file a module
// line names is replaced on disk (by another module, or by bytes that are
// no WebAssembly module), a reload is refused for an error elsewhere in
// the configuration, and then every worker is killed: the respawned
// workers run the module the master validated, as their siblings did,
// not the file's new content (they neither load the other module nor
// fail to start). A later good reload loads the file's new content. On
// both backends.
func TestWASMRespawnAfterRefusedReloadKeepsOld(t *testing.T) {
	dir := t.TempDir()
	probe, sech := filepath.Join(dir, "probe.wasm"), filepath.Join(dir, "secheaders.wasm")
	buildWASM(t, "github.com/nproxy/nproxy/modules/testdata/probe", probe)
	buildWASM(t, "github.com/nproxy/nproxy/modules/examples/secheaders", sech)
	read := func(p string) []byte {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	probeBin, sechBin := read(probe), read(sech)
	replacements := map[string][]byte{
		"other module": sechBin,
		"not wasm":     []byte("\x00asm but not really a module"),
	}
	c := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for _, backend := range backends(t) {
		for _, what := range []string{"other module", "not wasm"} {
			t.Run(backend+"/"+what, func(t *testing.T) {
				in := newInstance(t, 2)
				root := in.root("a", "A\n")
				mod := filepath.Join(in.dir, "m.wasm")
				replaceFile(t, mod, probeBin)
				line := "module = " + mod + " respadd=X-Module:a\n"
				in.rewrite(2, root, backend, line)
				in.run("-c", in.conf)
				waitLog(t, in, "nproxy started:", 1)
				in.waitServing()
				kids := in.waitChildren(2, 30*time.Second)
				if m, err := moduleMark(c, in.addr); err != nil || m != "old" {
					t.Fatalf("before the reload: %q, %v", m, err)
				}

				replaceFile(t, mod, replacements[what])
				in.rewrite(2, root, backend, line+"no_such_key = 1\n")
				// The master refuses the reload and logs the unknown key.
				in.signal(syscall.SIGHUP)
				waitLog(t, in, "no_such_key", 1)
				for _, k := range kids {
					if err := syscall.Kill(k, syscall.SIGKILL); err != nil {
						t.Fatal(err)
					}
				}
				// Both respawned workers must come up and run the old
				// module: a worker that fails to start is respawned every
				// 5 s, so 30 s is room for several failures.
				deadline := time.Now().Add(30 * time.Second)
				for {
					now := children(in.cmd.Process.Pid)
					if len(now) == 2 && !contains(now, kids[0]) && !contains(now, kids[1]) {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("no two workers respawned: children %v (killed %v)\n%s", now, kids, in.log())
					}
					time.Sleep(20 * time.Millisecond)
				}
				for i := 0; i < 100; i++ {
					m, err := moduleMark(c, in.addr)
					if err != nil {
						t.Fatalf("request %d after the respawn: %v\n%s", i, err, in.log())
					}
					if m != "old" {
						t.Fatalf("request %d after the respawn: answered by %q, want the old module\n%s", i, m, in.log())
					}
				}

				// A good reload loads the file's content now.
				replaceFile(t, mod, sechBin)
				in.rewrite(2, root, backend, line)
				n := strings.Count(in.log(), "reloaded:")
				in.signal(syscall.SIGHUP)
				waitLog(t, in, "reloaded:", n+1)
				deadline = time.Now().Add(30 * time.Second)
				for run := 0; run < 50; {
					m, err := moduleMark(c, in.addr)
					if err != nil {
						t.Fatalf("request after the good reload: %v", err)
					}
					if m == "new" {
						run++
					} else {
						run = 0
					}
					if time.Now().After(deadline) {
						t.Fatalf("30 s after the good reload, not 50 responses in a row by the new module (last %q)", m)
					}
				}
			})
		}
	}
}
