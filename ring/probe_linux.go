//go:build linux && (amd64 || arm64)

package ring

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Probe is the kernel's answer to IORING_REGISTER_PROBE (5.6): which opcodes
// it accepts. Before 5.6 the probe fails with EINVAL and Ring.Probe returns
// that error.
type Probe struct {
	lastOp    Op
	supported [probeOpsCapacity]bool
}

// Supported reports whether the kernel accepts op.
func (p *Probe) Supported(op Op) bool {
	return p != nil && p.supported[op]
}

// LastOp returns the highest opcode the kernel knows.
func (p *Probe) LastOp() Op { return p.lastOp }

// Ops returns every supported opcode in ascending order.
func (p *Probe) Ops() []Op {
	var ops []Op
	for i, ok := range p.supported {
		if ok {
			ops = append(ops, Op(i))
		}
	}
	return ops
}

// Probe asks the kernel which opcodes it supports; the answer is cached.
func (r *Ring) Probe() (*Probe, error) {
	if r.probe != nil {
		return r.probe, nil
	}
	var buf probeBuf
	if _, err := r.register(registerProbe, unsafe.Pointer(&buf), probeOpsCapacity); err != nil {
		return nil, err
	}
	p := &Probe{lastOp: Op(buf.lastOp)}
	for i := 0; i < int(buf.opsLen) && i < probeOpsCapacity; i++ {
		o := buf.ops[i]
		if o.flags&ioURingOpSupported != 0 {
			p.supported[o.op] = true
		}
	}
	r.probe = p
	return p, nil
}

// Supported reports whether the kernel accepts op; false when probing fails.
func (r *Ring) Supported(op Op) bool {
	p, err := r.Probe()
	return err == nil && p.Supported(op)
}

// RequiredOps are the opcodes the proxy's io_uring backend relies on;
// Available fails when one is missing. Together they need Linux 6.0
// (RECV multishot and SEND_ZC; multishot accept and the PBUF_RING
// registration need 5.19).
var RequiredOps = []Op{
	OpNop, OpAccept, OpRecv, OpSend, OpSendZC, OpSendmsg, OpWritev, OpRead,
	OpSplice, OpClose, OpTimeout, OpLinkTimeout, OpTimeoutRemove,
	OpAsyncCancel, OpPollAdd, OpConnect, OpShutdown,
}

const disabledSysctl = "/proc/sys/kernel/io_uring_disabled"

// Available reports whether this process can use io_uring for the proxy,
// and if not, why, in words fit for a log line: "kernel.io_uring_disabled=2",
// "io_uring_setup: operation not permitted (seccomp?)", "io_uring_setup:
// function not implemented (kernel built without CONFIG_IO_URING?)", or the
// list of missing opcodes. The error wraps ErrUnavailable or ErrMissingOps.
func Available() error {
	r, err := New(Options{Entries: 4, TaskRun: PlainTaskrun})
	if err != nil {
		return err
	}
	defer r.Close()
	if r.features&FeatExtArg == 0 {
		return fmt.Errorf("%w: kernel lacks IORING_FEAT_EXT_ARG (needs 5.11)", ErrUnavailable)
	}
	p, err := r.Probe()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	var missing []string
	for _, op := range RequiredOps {
		if !p.Supported(op) {
			missing = append(missing, op.String())
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s", ErrMissingOps, strings.Join(missing, ", "))
	}
	return nil
}

// explainSetupError turns a failed io_uring_setup into an error that says
// why io_uring is unusable.
func explainSetupError(err error) error {
	disabled := readDisabledSysctl()
	switch {
	case disabled == "2":
		return fmt.Errorf("%w: kernel.io_uring_disabled=2: %w", ErrUnavailable, err)
	case errors.Is(err, unix.EPERM) && disabled == "1":
		return fmt.Errorf("%w: kernel.io_uring_disabled=1 and this process is not in kernel.io_uring_group: %w", ErrUnavailable, err)
	case errors.Is(err, unix.EPERM):
		return fmt.Errorf("%w: %w (seccomp?)", ErrUnavailable, err)
	case errors.Is(err, unix.ENOSYS):
		return fmt.Errorf("%w: %w (kernel built without CONFIG_IO_URING?)", ErrUnavailable, err)
	case errors.Is(err, unix.ENOMEM):
		return fmt.Errorf("%w: %w (RLIMIT_MEMLOCK too low? kernels before 5.12 charge rings to it)", ErrUnavailable, err)
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

func readDisabledSysctl() string {
	b, err := os.ReadFile(disabledSysctl)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// Describe returns a human summary of the kernel's io_uring support for
// `nproxy -V`: kernel release, the task-run mode a worker ring gets, ring
// sizes, feature bits, and supported opcodes. It creates and closes a small
// ring on a locked OS thread of its own.
func Describe() (string, error) {
	type result struct {
		s   string
		err error
	}
	done := make(chan result, 1)
	go func() {
		// DeferTaskrun ties the ring to this thread; the goroutine exits
		// locked, so the runtime discards the thread instead of reusing it.
		runtime.LockOSThread()
		s, err := describeOnThread()
		done <- result{s, err}
	}()
	res := <-done
	return res.s, res.err
}

func describeOnThread() (string, error) {
	var b strings.Builder
	var uts unix.Utsname
	if unix.Uname(&uts) == nil {
		fmt.Fprintf(&b, "kernel: %s\n", unix.ByteSliceToString(uts.Release[:]))
	}
	if v := readDisabledSysctl(); v != "" {
		fmt.Fprintf(&b, "kernel.io_uring_disabled: %s\n", v)
	}
	r, err := New(Options{Entries: 8, CQEntries: 32})
	if err != nil {
		return b.String(), err
	}
	defer r.Close()
	fmt.Fprintf(&b, "setup: %s, SQ %d, CQ %d\n", r.taskRun, r.sqEntries, r.cqEntries)
	b.WriteString("features:")
	for i, name := range featNames {
		if r.features&(1<<i) != 0 {
			b.WriteString(" " + name)
		}
	}
	if unknown := r.features &^ (1<<len(featNames) - 1); unknown != 0 {
		fmt.Fprintf(&b, " +0x%x", unknown)
	}
	b.WriteString("\n")
	p, err := r.Probe()
	if err != nil {
		fmt.Fprintf(&b, "opcodes: probe failed: %v\n", err)
		return b.String(), nil
	}
	ops := p.Ops()
	fmt.Fprintf(&b, "opcodes (%d, last %d):", len(ops), p.LastOp())
	for _, op := range ops {
		b.WriteString(" " + op.String())
	}
	b.WriteString("\n")
	if err := Available(); err != nil {
		fmt.Fprintf(&b, "usable: no: %v\n", err)
	} else {
		b.WriteString("usable: yes\n")
	}
	return b.String(), nil
}
