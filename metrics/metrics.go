//go:build linux

package metrics

import (
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// MaxSlots is the number of worker slots of a shared Table:
// config.MaxWorkers, the most worker processes a configuration may ask for.
const MaxSlots = 64

// privateSlots is the number of slots of a Table made with New: a server
// without a master uses slot 0, tests a few more.
const privateSlots = 8

// MaxRoutes and MaxBackends bound the catalog: route series ([server]
// blocks and their [location]s) and backend series (an upstream's
// addresses) registered over the master's life, reloads included, the
// overflow series 0 included. With the slot sizes below they make the
// shared file about 12 MiB, of which only the pages of the slots and
// series in use are ever touched (and so backed by memory).
const (
	MaxRoutes   = 256
	MaxBackends = 256
)

// Connection states sampled into Counters.conns (SetConnStates), in the
// order of ConnStateNames.
const (
	ConnHandshake = iota // TLS handshake in progress
	ConnReading          // reading a request head or discarding a body
	ConnWriting          // sending a response
	ConnIdle             // keep-alive, waiting for the next request
	ConnProxying         // taken over by a stream: proxy or tunnel
	ConnClosing          // lingering close
	ConnHTTP2            // an HTTP/2 connection
	NumConnStates
)

// ConnStateNames are the state label values of nproxy_connections.
var ConnStateNames = [NumConnStates]string{"handshake", "reading", "writing", "idle", "proxying", "closing", "http2"}

// Handler kinds of the request duration histograms.
const (
	HandlerLocal = iota // answered by nproxy itself (static files, return, errors, ...)
	HandlerProxy        // answered through a stream (the reverse proxy)
	numHandlers
)

var handlerNames = [numHandlers]string{"local", "proxy"}

// Upstream error kinds (Backend.Error).
const (
	ErrConnect = iota // the connection could not be made
	ErrTimeout        // proxy_connect_timeout or proxy_timeout
	ErrReset          // the connection broke before the response ended
	ErrInvalid        // the response head was malformed
	Err5xx            // the backend answered 5xx
	numErrKinds
)

var errKindNames = [numErrKinds]string{"connect", "timeout", "reset", "invalid", "5xx"}

// Restart causes (Table.WorkerRestarted).
const (
	RestartExit    = iota // the worker exited with a failure status
	RestartSignal         // the worker was killed by a signal (a crash, SIGKILL, the OOM killer)
	RestartStopped        // the worker stopped cleanly on a signal sent to it directly, not by the master
	numRestartCauses
)

var restartCauseNames = [numRestartCauses]string{"exit", "signal", "stopped"}

// Sizes of the parts of the shared file; compile-time checks below keep
// the types to them. Every part starts on a cache line.
const (
	headerSize  = 4096
	entrySize   = 256 // one catalog name
	fixedSize   = 128 // Counters before its series
	routeSize   = 384
	backendSize = 384
	slotSize    = fixedSize + MaxRoutes*routeSize + MaxBackends*backendSize
	catalogSize = (MaxRoutes + MaxBackends) * entrySize
	sharedSize  = headerSize + catalogSize + MaxSlots*slotSize
)

// fileHeader is the start of the shared file: the catalog's lengths and what
// the master counts. Only the master writes it (and, for a private table,
// its process).
type fileHeader struct {
	magic         atomic.Uint64
	nRoutes       atomic.Uint32
	nBackends     atomic.Uint32
	reloadsOK     atomic.Uint64
	reloadsFailed atomic.Uint64
	restarts      [numRestartCauses]atomic.Uint64
	generation    atomic.Uint64
	reloadTime    atomic.Int64 // last successful load, Unix seconds
	_             [headerSize - (6+numRestartCauses)*8]byte
}

// magic marks a file laid out by this version's Create.
const magic = 0x6e70726f78796d31 // "nproxym1"

// entry is one catalog name: up to three label values, their lengths
// first.
type entry struct {
	lens [3]uint8
	_    uint8
	text [entrySize - 4]byte
}

// maxLabel is the longest label value the catalog keeps.
const maxLabel = (entrySize - 4) / 3

// Counters is one worker's slot: its connection counters and, by catalog
// index, its route and backend series. All methods are safe for
// concurrent use; they are meant to be called from the worker's loop
// thread. A Counters must not be copied.
type Counters struct {
	pid      atomic.Int64  // the process that last attached to the slot
	accepted atomic.Uint64 // client connections accepted
	active   atomic.Int64  // client connections open
	conns    [NumConnStates]atomic.Int64
	// logDropped counts the log lines a syslog server did not take
	// (AddLogDropped).
	logDropped atomic.Uint64
	_          [fixedSize - (4+NumConnStates)*8]byte
	routes     [MaxRoutes]Route
	backends   [MaxBackends]Backend
}

// Compile-time checks of the layout.
var (
	_ [headerSize - unsafe.Sizeof(fileHeader{})]byte
	_ [unsafe.Sizeof(fileHeader{}) - headerSize]byte
	_ [entrySize - unsafe.Sizeof(entry{})]byte
	_ [unsafe.Sizeof(entry{}) - entrySize]byte
	_ [slotSize - unsafe.Sizeof(Counters{})]byte
	_ [unsafe.Sizeof(Counters{}) - slotSize]byte
	_ [routeSize - unsafe.Sizeof(Route{})]byte
	_ [unsafe.Sizeof(Route{}) - routeSize]byte
	_ [backendSize - unsafe.Sizeof(Backend{})]byte
	_ [unsafe.Sizeof(Backend{}) - backendSize]byte
)

// Accepted counts a new client connection (and an open one).
func (c *Counters) Accepted() {
	c.accepted.Add(1)
	c.active.Add(1)
}

// Closed counts the end of a client connection.
func (c *Counters) Closed() { c.active.Add(-1) }

// AddConnState adds d to the gauge of connections in state (ConnIdle...).
// A worker publishes the change of its sampled counts, not the counts, so
// that two processes sharing the slot during a reload add up.
func (c *Counters) AddConnState(state int, d int64) { c.conns[state].Add(d) }

// AddLogDropped counts n log lines that a syslog server did not take
// (access_log or error_log = syslog:...: a full socket buffer, nobody
// listening).
func (c *Counters) AddLogDropped(n uint64) { c.logDropped.Add(n) }

// Route returns the route series at catalog index i (Lookup).
func (c *Counters) Route(i int) *Route { return &c.routes[i] }

// Backend returns the backend series at catalog index i (Lookup).
func (c *Counters) Backend(i int) *Backend { return &c.backends[i] }

// Table is the shared file mapped into this process: header, catalog and
// every worker's Counters. Its catalog methods and AppendText run on one
// thread of the process (the master's loop, or a worker's).
type Table struct {
	hdr      *fileHeader
	routes   []entry // catalog, MaxRoutes
	backends []entry // catalog, MaxBackends
	slots    []Counters
	mem      []byte // the shared mapping, nil for a private table
	private  bool

	// What this process renders: the info metric's backend, and the
	// series its configuration uses (Use), by catalog index.
	backend   string
	useRoute  [MaxRoutes]bool
	useBack   [MaxBackends]bool
	hasRoutes bool // some route series is in use
	sum       scratch
}

// New returns a table in this process's own memory, whose catalog the
// process fills itself.
func New() *Table {
	t := &Table{
		hdr:      new(fileHeader),
		routes:   make([]entry, MaxRoutes),
		backends: make([]entry, MaxBackends),
		slots:    make([]Counters, privateSlots),
		private:  true,
	}
	t.init()
	return t
}

// init reserves the overflow series 0 of a new catalog.
func (t *Table) init() {
	if t.hdr.magic.Load() == magic {
		return
	}
	t.hdr.nRoutes.Store(1)
	t.hdr.nBackends.Store(1)
	t.hdr.magic.Store(magic)
}

// Create returns a new shared-memory file laid out as a Table, for a
// master to map (Map) and pass to its workers. The caller closes it.
func Create() (*os.File, error) {
	fd, err := unix.MemfdCreate("nproxy-metrics", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("memfd_create", err)
	}
	if err := unix.Ftruncate(fd, sharedSize); err != nil {
		unix.Close(fd)
		return nil, os.NewSyscallError("ftruncate", err)
	}
	return os.NewFile(uintptr(fd), "nproxy-metrics"), nil
}

// Map maps the shared table file fd (made by Create) into this process.
// fd may be closed afterwards. The first mapping (the master's) sets the
// catalog up.
func Map(fd int) (*Table, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, os.NewSyscallError("fstat", err)
	}
	if st.Size != sharedSize {
		return nil, fmt.Errorf("%w: %d bytes, want %d", ErrTableSize, st.Size, sharedSize)
	}
	mem, err := unix.Mmap(fd, 0, sharedSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, os.NewSyscallError("mmap", err)
	}
	p := unsafe.Pointer(&mem[0])
	t := &Table{
		hdr:      (*fileHeader)(p),
		routes:   unsafe.Slice((*entry)(unsafe.Add(p, headerSize)), MaxRoutes),
		backends: unsafe.Slice((*entry)(unsafe.Add(p, headerSize+MaxRoutes*entrySize)), MaxBackends),
		slots:    unsafe.Slice((*Counters)(unsafe.Add(p, headerSize+catalogSize)), MaxSlots),
		mem:      mem,
	}
	t.init()
	return t, nil
}

// Close unmaps a shared table; the table must not be used after.
func (t *Table) Close() error {
	if t.mem == nil {
		return nil
	}
	mem := t.mem
	t.mem, t.slots, t.routes, t.backends, t.hdr = nil, nil, nil, nil, nil
	return unix.Munmap(mem)
}

// Attach returns slot i for this process (0 <= i < MaxSlots; a private
// table has fewer, and i wraps). When the process that last held the
// slot is gone (it crashed or was killed), the gauges it left (open
// connections, pooled upstream connections, backend health) are dropped
// first; its counters stay, since counters never go backwards.
func (t *Table) Attach(i int) *Counters {
	c := &t.slots[i%len(t.slots)]
	pid := int64(os.Getpid())
	if old := c.pid.Load(); old != 0 && old != pid && !alive(int(old)) {
		c.resetGauges()
	}
	c.pid.Store(pid)
	return c
}

// resetGauges zeroes what a dead holder left counted as open.
func (c *Counters) resetGauges() {
	c.active.Store(0)
	for i := range c.conns {
		c.conns[i].Store(0)
	}
	for i := range c.backends {
		b := &c.backends[i]
		b.active.Store(0)
		b.idle.Store(0)
		b.downUntil.Store(0)
	}
}

// alive reports whether process pid exists.
func alive(pid int) bool {
	err := unix.Kill(pid, 0)
	return err == nil || err == syscall.EPERM
}

// SetBackend names the event backend ("io_uring" or "epoll") that the
// info metric of this process's scrapes reports.
func (t *Table) SetBackend(name string) { t.backend = name }

// Version is the nproxy version the info metric reports; the command
// sets it.
var Version = "unknown"

// ReloadDone counts a configuration reload, successful or not; a
// successful one (and the first load) moves the generation on and
// records its time (Unix seconds). The master calls it.
func (t *Table) ReloadDone(ok bool, unixSec int64) {
	if !ok {
		t.hdr.reloadsFailed.Add(1)
		return
	}
	if t.hdr.generation.Add(1) > 1 {
		t.hdr.reloadsOK.Add(1)
	}
	t.hdr.reloadTime.Store(unixSec)
}

// WorkerRestarted counts a worker the master replaced after it exited
// unexpectedly, by cause (RestartExit, RestartSignal).
func (t *Table) WorkerRestarted(cause int) { t.hdr.restarts[cause].Add(1) }
