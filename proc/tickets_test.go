//go:build linux

package proc

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// newTestTicketKeys makes a master's region and a worker's read-only view
// of it, through the descriptor as a worker gets it.
func newTestTicketKeys(t *testing.T) (*ticketKeyWriter, *TicketKeys) {
	t.Helper()
	w, err := newTicketKeyWriter()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.close)
	k, err := OpenTicketKeys(int(w.file.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	return w, k
}

// patternKeys is the key set the seqlock test publishes under seq: key i
// is 32 copies of one byte derived from seq and i, so a copy that mixes
// two key sets (a torn read) has a key whose bytes differ, or a key that
// does not match the seq it was read under.
func patternKeys(seq uint64) [ticketKeyCount][32]byte {
	var keys [ticketKeyCount][32]byte
	for i := range keys {
		b := byte(seq>>1) + byte(i)*85
		for j := range keys[i] {
			keys[i][j] = b
		}
	}
	return keys
}

func TestTicketKeysSeqlockNoTornRead(t *testing.T) {
	w, k := newTestTicketKeys(t)
	w.publish(patternKeys(w.r.seq().Load() + 2))

	const readers, loads = 4, 20000
	stop := make(chan struct{})
	var published atomic.Int64
	writerDone := make(chan struct{})
	go func() { // the master, rotating as fast as it can
		defer close(writerDone)
		for {
			select {
			case <-stop:
				return
			default:
			}
			w.publish(patternKeys(w.r.seq().Load() + 2))
			published.Add(1)
		}
	}()
	type result struct {
		ok, missed int
		seqs       map[uint64]bool
		torn       string
	}
	results := make([]result, readers)
	var wg sync.WaitGroup
	for r := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := &results[r]
			res.seqs = map[uint64]bool{}
			for range loads {
				seq, keys := k.Load()
				if keys == nil {
					res.missed++
					continue
				}
				want := patternKeys(seq)
				if seq&1 != 0 || len(keys) != ticketKeyCount || [ticketKeyCount][32]byte(keys) != want {
					res.torn = formatKeys(seq, keys)
					return
				}
				res.ok++
				res.seqs[seq] = true
			}
		}()
	}
	wg.Wait()
	close(stop)
	select {
	case <-writerDone:
	case <-time.After(10 * time.Second):
		t.Fatal("writer did not stop")
	}
	seen := map[uint64]bool{}
	for i, res := range results {
		if res.torn != "" {
			t.Fatalf("reader %d read a torn key set: %s", i, res.torn)
		}
		if res.ok == 0 {
			t.Fatalf("reader %d: no consistent key set in %d loads (%d gave up)", i, loads, res.missed)
		}
		for s := range res.seqs {
			seen[s] = true
		}
	}
	if len(seen) < 2 {
		t.Fatalf("readers saw %d key set(s) while the writer published %d: the test raced nothing", len(seen), published.Load())
	}
	t.Logf("%d key sets published, %d distinct ones read", published.Load(), len(seen))
}

func formatKeys(seq uint64, keys [][32]byte) string {
	return fmt.Sprintf("seq %d, keys %x", seq, keys)
}

// TestTicketKeysWriterDiedMidWrite: a region left odd (its writer died
// between the two stores) makes Load give up after its bounded retries.
func TestTicketKeysWriterDiedMidWrite(t *testing.T) {
	w, k := newTestTicketKeys(t)
	w.r.seq().Add(1)
	done := make(chan struct{})
	var seq uint64
	var keys [][32]byte
	go func() {
		seq, keys = k.Load()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Load did not give up on a region stuck mid-write")
	}
	if seq != 0 || keys != nil {
		t.Fatalf("Load = %d, %d keys; want 0, none", seq, len(keys))
	}
}

func TestTicketKeysRotationKeepsPrevious(t *testing.T) {
	w, k := newTestTicketKeys(t)
	seq0, k0 := k.Load()
	if seq0 == 0 || seq0&1 != 0 || len(k0) != ticketKeyCount {
		t.Fatalf("first key set: seq %d, %d keys", seq0, len(k0))
	}
	distinctNonZero(t, k0)

	w.rotate()
	seq1, k1 := k.Load()
	if seq1 != seq0+2 {
		t.Fatalf("seq after a rotation = %d, want %d", seq1, seq0+2)
	}
	distinctNonZero(t, k1)
	checks := []struct {
		name      string
		got, want [32]byte
	}{
		{"current is the old next", k1[ticketCurrent], k0[ticketNext]},
		{"previous is the old current", k1[ticketPrevious], k0[ticketCurrent]},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %x, want %x", c.name, c.got[:4], c.want[:4])
		}
	}
	for i, old := range k0 {
		if k1[ticketNext] == old {
			t.Errorf("the new next key is old key %d", i)
		}
	}

	// One more period: tickets of the first current key no longer
	// decrypt, those of the second still do.
	w.rotate()
	_, k2 := k.Load()
	for i, key := range k2 {
		if key == k0[ticketCurrent] {
			t.Errorf("key %d two rotations later is still the first current key", i)
		}
	}
	if k2[ticketPrevious] != k1[ticketCurrent] {
		t.Errorf("previous key after the second rotation is not the current one before it")
	}
}

func distinctNonZero(t *testing.T, keys [][32]byte) {
	t.Helper()
	for i, a := range keys {
		if a == ([32]byte{}) {
			t.Errorf("key %d is zero", i)
		}
		for j := range i {
			if a == keys[j] {
				t.Errorf("keys %d and %d are equal", j, i)
			}
		}
	}
}

// TestTicketKeysLayout reads the region through the descriptor, as bytes,
// and checks it against the layout documented in tickets.go.
func TestTicketKeysLayout(t *testing.T) {
	w, _ := newTestTicketKeys(t)
	keys := [ticketKeyCount][32]byte{{1, 2, 3}, {4, 5, 6}, {7, 8, 9}}
	keys[ticketNext][31] = 0xee
	w.publish(keys)
	buf := make([]byte, ticketLayout)
	if _, err := w.file.ReadAt(buf, 0); err != nil {
		t.Fatal(err)
	}
	if seq := binary.LittleEndian.Uint64(buf[0:8]); seq != 4 {
		t.Errorf("little-endian seq at offset 0 = %d, want 4 (two key sets published)", seq)
	}
	for i, off := range []int{8, 40, 72} {
		if got := [32]byte(buf[off : off+32]); got != keys[i] {
			t.Errorf("key %d at offset %d = %x, want %x", i, off, got, keys[i])
		}
	}
	if st, err := w.file.Stat(); err != nil || st.Size() != int64(os.Getpagesize()) {
		t.Errorf("region size: %v, %v; want one page", st.Size(), err)
	}
	// Workers get a read-only mapping: a stray write faults instead of
	// corrupting every worker's keys. The mapping's protection is visible
	// in /proc/self/maps as r--s.
	_, k := newTestTicketKeys(t)
	if prot := mappingPerms(t, k.r.mem); prot != "r--s" {
		t.Errorf("worker mapping is %q, want r--s", prot)
	}
}

// mappingPerms returns the permissions /proc/self/maps shows for the
// mapping starting at mem.
func mappingPerms(t *testing.T, mem []byte) string {
	t.Helper()
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	start := uint64(uintptr(unsafe.Pointer(&mem[0])))
	for _, line := range strings.Split(string(maps), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		from, _, _ := strings.Cut(f[0], "-")
		if a, err := strconv.ParseUint(from, 16, 64); err == nil && a == start {
			return f[1]
		}
	}
	t.Fatalf("no mapping at %#x in /proc/self/maps", start)
	return ""
}

func TestOpenTicketKeysRefusesOtherFiles(t *testing.T) {
	tests := []struct {
		name string
		size int64
	}{
		{"empty", 0},
		{"only the layout", ticketLayout},
		{"two pages", 2 * int64(os.Getpagesize())},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fd, err := unix.MemfdCreate("not-tickets", unix.MFD_CLOEXEC)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(fd)
			if err := unix.Ftruncate(fd, tt.size); err != nil {
				t.Fatal(err)
			}
			k, err := OpenTicketKeys(fd)
			if !errors.Is(err, ErrTicketKeys) {
				t.Fatalf("OpenTicketKeys(%d bytes) = %v, %v; want ErrTicketKeys", tt.size, k, err)
			}
		})
	}
}

// TestTicketKeyPoller drives the worker's ticker with a fake clock: keys
// reach the server at once, then only when the seq changed and a check is
// due.
func TestTicketKeyPoller(t *testing.T) {
	w, k := newTestTicketKeys(t)
	var applied [][][32]byte
	p := &ticketKeyPoller{keys: k, apply: func(keys [][32]byte) { applied = append(applied, keys) }}
	const sec = int64(time.Second)
	t0 := int64(1_000) * sec
	steps := []struct {
		name        string
		now         int64
		rotate      bool
		wantApplied int
	}{
		{"start: the master's keys at once", t0, false, 1},
		{"unchanged a second later", t0 + sec, false, 1},
		{"rotated, check not due", t0 + sec + sec/2, true, 1},
		{"check due", t0 + 2*sec, false, 2},
		{"unchanged again", t0 + 3*sec, false, 2},
		{"rotated, due", t0 + 10*sec, true, 3},
	}
	for _, s := range steps {
		if s.rotate {
			w.rotate()
		}
		p.pollOnLoop(s.now)
		if len(applied) != s.wantApplied {
			t.Fatalf("%s: %d key sets applied, want %d", s.name, len(applied), s.wantApplied)
		}
	}
	_, want := k.Load()
	last := applied[len(applied)-1]
	if [ticketKeyCount][32]byte(last) != [ticketKeyCount][32]byte(want) {
		t.Fatal("the last key set applied is not the region's")
	}
}

// TestTicketKeysReaderSeesWriter: a worker's view, opened from the
// descriptor, reads the seq and keys the master published, at start and
// after a rotation.
func TestTicketKeysReaderSeesWriter(t *testing.T) {
	w, k := newTestTicketKeys(t)
	for _, step := range []string{"start", "rotated once", "rotated twice"} {
		if step != "start" {
			w.rotate()
		}
		seq, keys := k.Load()
		if want := w.r.seq().Load(); seq != want || k.Seq() != want {
			t.Errorf("%s: reader seq %d (Seq %d), master %d", step, seq, k.Seq(), want)
		}
		if len(keys) != ticketKeyCount || [ticketKeyCount][32]byte(keys) != w.keys {
			t.Errorf("%s: reader keys differ from the master's", step)
		}
	}
}

func TestStartTicketKeys(t *testing.T) {
	_, region := newTestTicketKeys(t)
	_, regionKeys := region.Load()
	tests := []struct {
		name       string
		keys       *TicketKeys
		wantTicker bool
		check      func(t *testing.T, got [][32]byte)
	}{
		{"the master's region", region, true, func(t *testing.T, got [][32]byte) {
			if len(got) != ticketKeyCount || [ticketKeyCount][32]byte(got) != [ticketKeyCount][32]byte(regionKeys) {
				t.Errorf("keys set are not the region's")
			}
		}},
		{"no region: keys of its own", nil, false, func(t *testing.T, got [][32]byte) {
			if len(got) != 1 || got[0] == ([32]byte{}) {
				t.Errorf("own keys = %d keys, want one non-zero key", len(got))
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var sets [][][32]byte
			poll := startTicketKeys(tt.keys, func(keys [][32]byte) { sets = append(sets, keys) })
			if (poll != nil) != tt.wantTicker {
				t.Fatalf("ticker returned: %v, want %v", poll != nil, tt.wantTicker)
			}
			if len(sets) != 1 {
				t.Fatalf("SetTicketKeys called %d times at start, want once", len(sets))
			}
			tt.check(t, sets[0])
		})
	}
}

// TestWorkerCmdTicketsFD checks that the region lands in ExtraFiles at
// the descriptor the spec names, after the metrics table when there is
// one.
func TestWorkerCmdTicketsFD(t *testing.T) {
	w, _ := newTestTicketKeys(t)
	metricsFile, err := os.CreateTemp(t.TempDir(), "metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer metricsFile.Close()
	tests := []struct {
		name          string
		socks         int
		metrics       *os.File
		tickets       *os.File
		wantMetricsFD int
		wantTicketsFD int
	}{
		{"metrics and tickets", 2, metricsFile, w.file, 7, 8},
		{"tickets only", 1, nil, w.file, 0, 6},
		{"neither", 1, nil, nil, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := workerSpec{Listen: make([]specSocket, tt.socks)}
			socks := make([]*os.File, tt.socks)
			for i := range socks {
				socks[i] = metricsFile // any file: only positions are checked
			}
			cmd, err := workerCmd("/bin/true", spec, metricsFile, metricsFile, socks, tt.metrics, tt.tickets)
			if err != nil {
				t.Fatal(err)
			}
			var got workerSpec
			for _, kv := range cmd.Env {
				if v, ok := strings.CutPrefix(kv, specEnv+"="); ok {
					if err := json.Unmarshal([]byte(v), &got); err != nil {
						t.Fatal(err)
					}
				}
			}
			if got.MetricsFD != tt.wantMetricsFD || got.TicketsFD != tt.wantTicketsFD {
				t.Fatalf("spec metrics_fd=%d tickets_fd=%d, want %d and %d", got.MetricsFD, got.TicketsFD, tt.wantMetricsFD, tt.wantTicketsFD)
			}
			if tt.tickets != nil && cmd.ExtraFiles[got.TicketsFD-3] != tt.tickets {
				t.Fatalf("ExtraFiles[%d] is not the ticket region", got.TicketsFD-3)
			}
		})
	}
}
