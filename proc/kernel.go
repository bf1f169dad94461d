//go:build linux

package proc

import (
	"fmt"
	"strings"

	"github.com/nproxy/nproxy/reactor"
	"github.com/nproxy/nproxy/ring"
)

// KernelSupport describes, for `nproxy -V`, which backends this kernel
// supports: epoll always; io_uring as probed (kernel, setup mode, features,
// opcodes), or the reason it cannot be used; and what backend = auto picks.
func KernelSupport() string {
	var b strings.Builder
	b.WriteString("backends: epoll: yes\n")
	if err := ring.Available(); err != nil {
		fmt.Fprintf(&b, "io_uring: no (%v)\n", err)
	} else {
		b.WriteString("io_uring: yes\n")
	}
	desc, err := ring.Describe()
	if desc != "" {
		for _, line := range strings.Split(strings.TrimRight(desc, "\n"), "\n") {
			fmt.Fprintf(&b, "  %s\n", line)
		}
	}
	if err != nil && desc == "" {
		fmt.Fprintf(&b, "  probe: %v\n", err)
	}
	_, note, err := reactor.New("auto")
	if err != nil {
		note = err.Error()
	}
	fmt.Fprintf(&b, "auto chooses: %s\n", note)
	return b.String()
}
