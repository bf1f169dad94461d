//go:build linux

// Package metrics holds nproxy's request counters and renders them for
// GET /metrics in the Prometheus text exposition format (version 0.0.4).
//
// # Counters across workers
//
// Every worker process counts into its own slot of a Table: a fixed array
// of MaxSlots cache-line-aligned Counters. The master creates the table
// once as a shared memory file (Create) and hands it to every worker it
// starts, respawns and reloads included, so the table outlives worker
// generations and counters never go backwards; each worker maps it (Map)
// and writes only its own slot (its worker number), with atomic
// operations, so the hot path touches one cache line that no other CPU
// writes. A scrape, answered by whichever worker the connection landed
// on, sums every slot: /metrics shows the whole server, not one worker.
//
// Counting is one or two atomic adds per event and allocates nothing.
// The atomics matter for the rare moment when two processes share a slot
// (during a reload the draining worker and its replacement both write
// their slot number) and for the scraping reader in another process.
//
// A Table made with New lives in the process's own memory: what a server
// uses when no master gave it a shared one (tests, embedding).
package metrics

import (
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// MaxSlots is the number of worker slots of a Table: config.MaxWorkers,
// the most worker processes a configuration may ask for.
const MaxSlots = 64

// slotSize is the size of one Counters: two cache lines, so that two
// workers' slots never share one.
const slotSize = 128

// Counters is one worker's slot. All methods are safe for concurrent use;
// they are meant to be called from the worker's loop thread. A Counters
// must not be copied.
type Counters struct {
	requests [5]atomic.Uint64 // responses by status class 1xx..5xx
	body     atomic.Uint64    // response body bytes queued to clients
	accepted atomic.Uint64    // client connections accepted
	active   atomic.Int64     // client connections open
	proxied  atomic.Uint64    // requests handed to the reverse proxy
	upErrors atomic.Uint64    // proxied requests answered 502 or 504
	limited  atomic.Uint64    // requests refused by the rate limit (429)
	pid      atomic.Int64     // the process that last attached to the slot
	_        [slotSize - 12*8]byte
}

// Compile-time check that Counters is exactly one slot.
var _ [slotSize - unsafe.Sizeof(Counters{})]byte
var _ [unsafe.Sizeof(Counters{}) - slotSize]byte

// Response counts one response of status with body bytes of body.
func (c *Counters) Response(status int, body int64) {
	i := status/100 - 1
	if uint(i) < uint(len(c.requests)) {
		c.requests[i].Add(1)
	}
	c.body.Add(uint64(body))
}

// Accepted counts a new client connection (and an active one).
func (c *Counters) Accepted() {
	c.accepted.Add(1)
	c.active.Add(1)
}

// Closed counts the end of a client connection.
func (c *Counters) Closed() { c.active.Add(-1) }

// Proxied counts a request given to the reverse proxy; status is its
// final status (502 and 504 count as upstream errors).
func (c *Counters) Proxied(status int) {
	c.proxied.Add(1)
	if status == 502 || status == 504 {
		c.upErrors.Add(1)
	}
}

// Limited counts a request refused by the rate limit.
func (c *Counters) Limited() { c.limited.Add(1) }

// Table is the array of every worker's Counters.
type Table struct {
	slots []Counters
	mem   []byte // the shared mapping, nil for a private table
}

// New returns a table in this process's own memory.
func New() *Table {
	return &Table{slots: make([]Counters, MaxSlots)}
}

// Create returns a new shared-memory file sized for a Table, for a master
// to pass to its workers (Map). The caller closes it.
func Create() (*os.File, error) {
	fd, err := unix.MemfdCreate("nproxy-metrics", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("memfd_create", err)
	}
	if err := unix.Ftruncate(fd, MaxSlots*slotSize); err != nil {
		unix.Close(fd)
		return nil, os.NewSyscallError("ftruncate", err)
	}
	return os.NewFile(uintptr(fd), "nproxy-metrics"), nil
}

// Map maps the shared table file fd (made by Create) into this process.
// fd may be closed afterwards.
func Map(fd int) (*Table, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, os.NewSyscallError("fstat", err)
	}
	if st.Size != MaxSlots*slotSize {
		return nil, fmt.Errorf("%w: %d bytes, want %d", ErrTableSize, st.Size, MaxSlots*slotSize)
	}
	mem, err := unix.Mmap(fd, 0, MaxSlots*slotSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, os.NewSyscallError("mmap", err)
	}
	slots := unsafe.Slice((*Counters)(unsafe.Pointer(&mem[0])), MaxSlots)
	return &Table{slots: slots, mem: mem}, nil
}

// Close unmaps a shared table; the table must not be used after.
func (t *Table) Close() error {
	if t.mem == nil {
		return nil
	}
	mem := t.mem
	t.mem, t.slots = nil, nil
	return unix.Munmap(mem)
}

// Attach returns slot i (0 <= i < MaxSlots) for this process. When the
// process that last held the slot is gone (it crashed or was killed), the
// connections it left counted as active are dropped first; its counters
// stay, since counters never go backwards.
func (t *Table) Attach(i int) *Counters {
	c := &t.slots[i]
	pid := int64(os.Getpid())
	if old := c.pid.Load(); old != 0 && old != pid && !alive(int(old)) {
		c.active.Store(0)
	}
	c.pid.Store(pid)
	return c
}

// alive reports whether process pid exists.
func alive(pid int) bool {
	err := unix.Kill(pid, 0)
	return err == nil || err == syscall.EPERM
}

// Snapshot is the sum of every slot at one moment.
type Snapshot struct {
	Requests       [5]uint64 // by status class 1xx..5xx
	BodyBytes      uint64
	Accepted       uint64
	Active         int64
	Proxied        uint64
	UpstreamErrors uint64
	Limited        uint64
}

// Sum adds up every slot.
func (t *Table) Sum() Snapshot {
	var s Snapshot
	for i := range t.slots {
		c := &t.slots[i]
		for j := range s.Requests {
			s.Requests[j] += c.requests[j].Load()
		}
		s.BodyBytes += c.body.Load()
		s.Accepted += c.accepted.Load()
		s.Active += c.active.Load()
		s.Proxied += c.proxied.Load()
		s.UpstreamErrors += c.upErrors.Load()
		s.Limited += c.limited.Load()
	}
	s.Active = max(s.Active, 0)
	return s
}

// ContentType is the media type of the text AppendText writes.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// AppendText appends the table's sum in the Prometheus text format.
func (t *Table) AppendText(b []byte) []byte {
	s := t.Sum()
	b = header(b, "nproxy_http_requests_total", "counter", "HTTP responses sent, by status class.")
	for i, n := range s.Requests {
		b = append(b, `nproxy_http_requests_total{code="`...)
		b = append(b, byte('1'+i), 'x', 'x')
		b = append(b, `"} `...)
		b = strconv.AppendUint(b, n, 10)
		b = append(b, '\n')
	}
	b = metric(b, "nproxy_http_response_body_bytes_total", "counter", "Response body bytes sent to clients (nginx's $body_bytes_sent).", s.BodyBytes)
	b = metric(b, "nproxy_connections_accepted_total", "counter", "Client connections accepted.", s.Accepted)
	b = metric(b, "nproxy_connections_active", "gauge", "Client connections open.", uint64(s.Active))
	b = metric(b, "nproxy_proxy_requests_total", "counter", "Requests passed to the reverse proxy.", s.Proxied)
	b = metric(b, "nproxy_proxy_upstream_errors_total", "counter", "Proxied requests answered 502 or 504.", s.UpstreamErrors)
	b = metric(b, "nproxy_rate_limited_total", "counter", "Requests refused with 429 by rate_limit.", s.Limited)
	return b
}

func header(b []byte, name, typ, help string) []byte {
	b = append(b, "# HELP "...)
	b = append(b, name...)
	b = append(b, ' ')
	b = append(b, help...)
	b = append(b, "\n# TYPE "...)
	b = append(b, name...)
	b = append(b, ' ')
	b = append(b, typ...)
	return append(b, '\n')
}

func metric(b []byte, name, typ, help string, v uint64) []byte {
	b = header(b, name, typ, help)
	b = append(b, name...)
	b = append(b, ' ')
	b = strconv.AppendUint(b, v, 10)
	return append(b, '\n')
}
