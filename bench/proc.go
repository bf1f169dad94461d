//go:build linux

package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// parseCPUList reads a taskset-style list ("1", "0,2", "0-3") and checks
// every CPU against the ones this process may run on.
func parseCPUList(s string) ([]int, error) {
	var allowed unix.CPUSet
	if err := unix.SchedGetaffinity(0, &allowed); err != nil {
		return nil, os.NewSyscallError("sched_getaffinity", err)
	}
	var cpus []int
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 {
			return nil, fmt.Errorf("%w: bad CPU %q in %q", ErrUsage, part, s)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil, fmt.Errorf("%w: bad CPU range %q in %q", ErrUsage, part, s)
			}
		}
		for c := a; c <= b; c++ {
			if c >= 1024 || !allowed.IsSet(c) {
				return nil, fmt.Errorf("%w: CPU %d is not available to this process (it may use %s)", ErrUsage, c, cpuSetString(&allowed))
			}
			cpus = append(cpus, c)
		}
	}
	if len(cpus) == 0 {
		return nil, fmt.Errorf("%w: empty CPU list", ErrUsage)
	}
	return cpus, nil
}

func cpuSetString(set *unix.CPUSet) string {
	var parts []string
	for c := 0; c < 1024; c++ {
		if set.IsSet(c) {
			parts = append(parts, strconv.Itoa(c))
		}
	}
	return strings.Join(parts, ",")
}

func cpuSetOf(cpus []int) *unix.CPUSet {
	var set unix.CPUSet
	for _, c := range cpus {
		set.Set(c)
	}
	return &set
}

// startPinned starts cmd with its affinity set to cpus from birth, as
// taskset does: the forking thread is pinned for the duration of the fork,
// and the child, its threads and every process it forks inherit the mask.
func startPinned(cmd *exec.Cmd, cpus []int) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var saved unix.CPUSet
	if err := unix.SchedGetaffinity(0, &saved); err != nil {
		return os.NewSyscallError("sched_getaffinity", err)
	}
	if err := unix.SchedSetaffinity(0, cpuSetOf(cpus)); err != nil {
		return fmt.Errorf("pin to CPUs %v: %w", cpus, os.NewSyscallError("sched_setaffinity", err))
	}
	err := cmd.Start()
	if rerr := unix.SchedSetaffinity(0, &saved); rerr != nil && err == nil {
		// The thread would stay pinned; better that it die with the goroutine.
		runtime.LockOSThread()
	}
	return err
}

// pinTree sets the affinity of every thread of root and its descendants, in
// case a thread escaped the inherited mask (for example one that set its own).
func pinTree(root int, cpus []int) {
	set := cpuSetOf(cpus)
	for _, pid := range processTree(root) {
		tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
		for _, t := range tasks {
			if tid, err := strconv.Atoi(t.Name()); err == nil {
				unix.SchedSetaffinity(tid, set)
			}
		}
	}
}

// processTree returns root and all its living descendants, root first.
func processTree(root int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return []int{root}
	}
	children := map[int][]int{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// The command name may hold spaces and parentheses: fields start
		// after the last ')'. Then: state, ppid.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) < 2 {
			continue
		}
		if ppid, err := strconv.Atoi(f[1]); err == nil {
			children[ppid] = append(children[ppid], pid)
		}
	}
	tree := []int{root}
	for i := 0; i < len(tree); i++ {
		tree = append(tree, children[tree[i]]...)
	}
	return tree
}

// treeRSS returns the summed VmRSS of root and its descendants, in KiB.
func treeRSS(root int) int64 {
	var total int64
	for _, pid := range processTree(root) {
		total += vmRSS(pid)
	}
	return total
}

func vmRSS(pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb
		}
	}
	return 0
}
