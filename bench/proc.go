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
	"time"

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
		for _, tid := range threads(pid) {
			unix.SchedSetaffinity(tid, set)
		}
	}
}

// pinProcess sets the affinity of every thread of this process to cpus
// and returns a function that gives each thread its former mask back; a
// thread born meanwhile gets the mask the main thread had. Threads inherit
// their creator's mask, so the threads the runtime starts while the
// process is pinned are pinned too. The listing is repeated until it finds
// no thread it has not pinned, for a thread started during a pass.
func pinProcess(cpus []int) (restore func(), err error) {
	pid := os.Getpid()
	var mainMask unix.CPUSet
	if err := unix.SchedGetaffinity(pid, &mainMask); err != nil {
		return nil, fmt.Errorf("bench: %w", os.NewSyscallError("sched_getaffinity", err))
	}
	set := cpuSetOf(cpus)
	saved := map[int]unix.CPUSet{}
	for pass := 0; pass < 10; pass++ {
		added := false
		for _, tid := range threads(pid) {
			if _, ok := saved[tid]; ok {
				continue
			}
			var m unix.CPUSet
			if unix.SchedGetaffinity(tid, &m) != nil {
				continue // exited meanwhile
			}
			if err := unix.SchedSetaffinity(tid, set); err != nil && err != unix.ESRCH {
				restorePinned(pid, saved, &mainMask)
				return nil, fmt.Errorf("bench: pin the load generator to CPUs %v: %w", cpus, os.NewSyscallError("sched_setaffinity", err))
			}
			saved[tid] = m
			added = true
		}
		if !added {
			break
		}
	}
	return func() { restorePinned(pid, saved, &mainMask) }, nil
}

func restorePinned(pid int, saved map[int]unix.CPUSet, mainMask *unix.CPUSet) {
	for _, tid := range threads(pid) {
		m, ok := saved[tid]
		if !ok {
			m = *mainMask
		}
		unix.SchedSetaffinity(tid, &m)
	}
}

// threads lists the thread ids of process pid.
func threads(pid int) []int {
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	var tids []int
	for _, t := range tasks {
		if tid, err := strconv.Atoi(t.Name()); err == nil {
			tids = append(tids, tid)
		}
	}
	return tids
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

// userHZ is the unit of the CPU times in /proc/PID/stat: clock ticks of
// USER_HZ, which Linux fixes at 100 per second for user space whatever
// the kernel's own tick rate.
const userHZ = 100

// treeCPU returns the CPU time, user and system, that root and its living
// descendants have used, to 1/userHZ of a second per process.
func treeCPU(root int) time.Duration {
	var ticks int64
	for _, pid := range processTree(root) {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		// After the command name: state (field 3) ... utime (14), stime (15).
		f := strings.Fields(string(stat[i+1:]))
		if len(f) < 13 {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		s, _ := strconv.ParseInt(f[12], 10, 64)
		ticks += u + s
	}
	return time.Duration(ticks) * time.Second / userHZ
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
