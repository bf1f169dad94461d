//go:build linux

package static

import (
	"os/exec"
	"runtime"
	"strings"
	"testing"
)

// TestInlining fails when a helper of the cached-hit path stops being
// inlinable, as netip's inlining_test does: each costs a call per request
// otherwise.
func TestInlining(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the package with -gcflags=-m")
	}
	out, err := exec.Command(runtime.GOROOT()+"/bin/go", "build", "-gcflags=-m", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	want := []string{
		"(*entry).fresh",
		"(*entry).negative",
		"(*cache).get",
		"(*cache).touch",
		"(*cache).pushFront",
		"notModified",
	}
	for _, fn := range want {
		if !strings.Contains(string(out), "can inline "+fn+"\n") &&
			!strings.Contains(string(out), "can inline "+fn+" with") {
			t.Errorf("%s is no longer inlinable", fn)
		}
	}
}
