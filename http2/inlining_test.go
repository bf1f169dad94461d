//go:build linux

package http2

import (
	"os/exec"
	"runtime"
	"strings"
	"testing"
)

// TestInlining fails when a helper of the per-frame path stops being
// inlinable, as netip's inlining_test does.
func TestInlining(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the package with -gcflags=-m")
	}
	out, err := exec.Command(runtime.GOROOT()+"/bin/go", "build", "-gcflags=-m", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	want := []string{
		"readFrameHeader",
		"appendFrameHeader",
		"appendUint32",
		"(*Conn).lookup",
		"(*Conn).idle",
		"(*Conn).Pending",
		"unpad",
		"validName",
		"validValue",
	}
	for _, fn := range want {
		if !strings.Contains(string(out), "can inline "+fn+"\n") &&
			!strings.Contains(string(out), "can inline "+fn+" with") {
			t.Errorf("%s is no longer inlinable", fn)
		}
	}
}
