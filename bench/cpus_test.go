//go:build linux

package bench

import (
	"testing"

	"golang.org/x/sys/unix"
)

// testCPUs returns the CPUs this test may use: two when it has them.
func testCPUs(t *testing.T) []int {
	t.Helper()
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		t.Fatal(err)
	}
	var cpus []int
	for i := 0; i < 1024 && len(cpus) < 2; i++ {
		if set.IsSet(i) {
			cpus = append(cpus, i)
		}
	}
	if len(cpus) == 1 {
		cpus = append(cpus, cpus[0])
	}
	return cpus
}
