//go:build linux

package reactor

import (
	"os/exec"
	"runtime"
	"strings"
	"testing"
)

// TestInlining fails when a helper of the per-request path stops being
// inlinable, as netip's inlining_test does. It builds the release package
// (no nproxydebug tag, whatever tags the test runs with), whose buffer
// ownership checks must inline away to nothing.
func TestInlining(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the package with -gcflags=-m")
	}
	out, err := exec.Command(runtime.GOROOT()+"/bin/go", "build", "-gcflags=-m", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	want := []string{
		"(*Loop).GetBuf",
		"(*Loop).PutBuf",
		"(*bufPool).put",
		"(*bufPool).owns",
		"(*bufDebug).taken",
		"(*bufDebug).returned",
		"(*Conn).Open",
		"(*Conn).Fd",
		"(*Conn).Sending",
		"(*Conn).outputDone",
	}
	for _, fn := range want {
		if !strings.Contains(string(out), "can inline "+fn+"\n") &&
			!strings.Contains(string(out), "can inline "+fn+" with") {
			t.Errorf("%s is no longer inlinable", fn)
		}
	}
}
