//go:build linux

package proc_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// ticketRegionName is the name the master gives its session ticket key
// memfd; /proc shows it as "/memfd:nproxy-tickets (deleted)".
const ticketRegionName = "/memfd:nproxy-tickets"

// ticketLayoutSize is the documented layout of the region (tickets.go): a
// uint64 sequence number, then three 32-byte keys.
const ticketLayoutSize = 8 + 3*32

// masterTicketRegion finds the master's descriptor of the key region and
// returns a path that opens it and the region's inode.
func masterTicketRegion(t *testing.T, pid int) (string, uint64) {
	t.Helper()
	dir := "/proc/" + strconv.Itoa(pid) + "/fd/"
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if link, err := os.Readlink(dir + e.Name()); err == nil && strings.HasPrefix(link, ticketRegionName) {
			var st syscall.Stat_t
			if err := syscall.Stat(dir+e.Name(), &st); err != nil {
				t.Fatal(err)
			}
			return dir + e.Name(), st.Ino
		}
	}
	t.Fatalf("master %d holds no %s descriptor", pid, ticketRegionName)
	return "", 0
}

// readTicketRegion reads the layout's bytes from the master's region and
// checks the seqlock is at rest (even, a key set published).
func readTicketRegion(t *testing.T, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, ticketLayoutSize)
	if _, err := f.ReadAt(b, 0); err != nil {
		t.Fatal(err)
	}
	if seq := binary.LittleEndian.Uint64(b); seq == 0 || seq&1 != 0 {
		t.Fatalf("region seq = %d, want even and non-zero", seq)
	}
	for i := range 3 {
		if bytes.Equal(b[8+32*i:8+32*(i+1)], make([]byte, 32)) {
			t.Fatalf("key %d of the region is zero", i)
		}
	}
	return b
}

// ticketMapping is a worker's mapping of the region, from /proc/PID/maps.
type ticketMapping struct {
	start uint64
	perms string
	inode uint64
}

// waitTicketMapping polls /proc/PID/maps until the worker has mapped the
// region (it does so just before it starts serving).
func waitTicketMapping(t *testing.T, pid int) ticketMapping {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		maps, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/maps")
		if err != nil {
			t.Fatalf("worker %d: %v", pid, err)
		}
		for _, line := range strings.Split(string(maps), "\n") {
			f := strings.Fields(line)
			if len(f) < 6 || f[5] != ticketRegionName {
				continue
			}
			from, _, _ := strings.Cut(f[0], "-")
			start, err1 := strconv.ParseUint(from, 16, 64)
			inode, err2 := strconv.ParseUint(f[4], 10, 64)
			if err1 != nil || err2 != nil {
				t.Fatalf("worker %d: bad maps line %q", pid, line)
			}
			return ticketMapping{start: start, perms: f[1], inode: inode}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("worker %d did not map %s", pid, ticketRegionName)
	return ticketMapping{}
}

// checkWorkerTickets checks that worker pid maps the master's region
// (same inode), read-only and shared, and that what its mapping holds is
// want. The contents are read from the worker's own address space
// (/proc/PID/mem) where ptrace rules let this test do it.
func checkWorkerTickets(t *testing.T, pid int, inode uint64, want []byte) {
	t.Helper()
	m := waitTicketMapping(t, pid)
	if m.inode != inode {
		t.Errorf("worker %d maps region inode %d, the master holds %d", pid, m.inode, inode)
	}
	if m.perms != "r--s" {
		t.Errorf("worker %d maps the region %s, want r--s (read-only, shared)", pid, m.perms)
	}
	mem, err := os.Open("/proc/" + strconv.Itoa(pid) + "/mem")
	if err == nil {
		defer mem.Close()
		got := make([]byte, len(want))
		if _, err = mem.ReadAt(got, int64(m.start)); err == nil {
			if !bytes.Equal(got, want) {
				t.Errorf("worker %d reads seq and keys\n%x\nthe master wrote\n%x", pid, got, want)
			}
			return
		}
	}
	if errors.Is(err, os.ErrPermission) || errors.Is(err, syscall.EIO) {
		t.Logf("worker %d: cannot read its memory here (%v): checked the mapping's inode only", pid, err)
		return
	}
	t.Fatalf("worker %d: /proc/PID/mem: %v", pid, err)
}

// waitNewChildren polls until the master has exactly n children, none of
// them in old: a reload's new generation, with the old one gone.
func (in *instance) waitNewChildren(n int, old []int, timeout time.Duration) []int {
	in.t.Helper()
	deadline := time.Now().Add(timeout)
	var kids []int
	for time.Now().Before(deadline) {
		kids = children(in.cmd.Process.Pid)
		fresh := len(kids) == n
		for _, k := range kids {
			fresh = fresh && !contains(old, k)
		}
		if fresh {
			return kids
		}
		time.Sleep(10 * time.Millisecond)
	}
	in.t.Fatalf("master has children %v, want %d new ones (old: %v)", kids, n, old)
	return nil
}

// TestTicketKeysReachWorkersAndSurviveReload runs a master with two
// workers: both map the master's region and read its seq and keys; after
// a SIGHUP the new workers map the same region with the same keys
// (sessions survive a reload); another master has keys of its own.
func TestTicketKeysReachWorkersAndSurviveReload(t *testing.T) {
	in := start(t, 2)
	kids := in.waitChildren(2, 5*time.Second)
	path, inode := masterTicketRegion(t, in.cmd.Process.Pid)
	before := readTicketRegion(t, path)
	for _, pid := range kids {
		checkWorkerTickets(t, pid, inode, before)
	}

	in.signal(syscall.SIGHUP)
	in.waitLog("reloaded", 10*time.Second)
	newKids := in.waitNewChildren(2, kids, 10*time.Second)
	path2, inode2 := masterTicketRegion(t, in.cmd.Process.Pid)
	if inode2 != inode {
		t.Fatalf("the reload replaced the region: inode %d, was %d", inode2, inode)
	}
	if after := readTicketRegion(t, path2); !bytes.Equal(after, before) {
		t.Fatalf("the reload changed the keys:\n%x\nwas\n%x", after, before)
	}
	for _, pid := range newKids {
		checkWorkerTickets(t, pid, inode, before)
	}

	other := start(t, 1)
	otherPath, _ := masterTicketRegion(t, other.cmd.Process.Pid)
	theirs := readTicketRegion(t, otherPath)
	for i := range 3 {
		key := before[8+32*i : 8+32*(i+1)]
		for j := range 3 {
			if bytes.Equal(key, theirs[8+32*j:8+32*(j+1)]) {
				t.Errorf("key %d of one master is key %d of another", i, j)
			}
		}
	}
}
