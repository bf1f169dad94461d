//go:build linux

package bench

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Load describes one load-generation run: who to hit, with what, how hard
// and for how long. Run fills in defaults for zero fields where noted.
type Load struct {
	// Addr is the server's "host:port"; the host must be an IP address
	// or resolve to one.
	Addr string
	// Request is one complete HTTP/1.1 request, sent as is (keep-alive
	// unless it says "Connection: close").
	Request []byte
	// Connections is the number of concurrent connections (default 1).
	Connections int
	// Duration bounds the run when Requests is 0.
	Duration time.Duration
	// Requests, when positive, makes the run send exactly that many
	// requests and wait for every answer (count mode).
	Requests int64
	// Pipeline is the number of requests in flight per connection
	// (default 1, no pipelining).
	Pipeline int
	// Rate, when positive, is the total request rate of an open-loop run:
	// requests are scheduled at fixed intervals spread over the
	// connections and latency counts from the scheduled time, so a stalled
	// server is charged for the requests it delayed (as wrk2 does).
	// Zero means closed loop: each answer triggers the next request.
	Rate float64
	// CloseEach opens a new connection for every request (churn). Request
	// should then carry "Connection: close".
	CloseEach bool
	// ExpectLength is the body length every response must have; negative
	// accepts any length. Every response must also have a 2xx status.
	ExpectLength int64
	// Timeout fails a connection that makes no progress for that long
	// while it waits for an answer or a connect (default 5s).
	Timeout time.Duration
	// CPUs pins the generator: one event loop per listed CPU, each on its
	// own locked OS thread. Empty means one loop, not pinned.
	CPUs []int
	// Progress, when set, is incremented with every completed response
	// while the run goes on, for progress lines.
	Progress *atomic.Uint64
	// TLS, when set, makes every connection a TLS client connection: a
	// handshake first (see TLSLoad for full versus resumed), then the
	// requests as records. Nil: plain HTTP.
	TLS *TLSLoad
}

// Errors counts failed requests by cause. A request is counted once: as a
// completed but invalid response (Status, Length, Malformed) or as lost with
// its connection (Connect, Handshake, Read, Write, Timeout).
type Errors struct {
	Connect   uint64 `json:"connect"`   // connect failed; no request was sent
	Handshake uint64 `json:"handshake"` // a TLS handshake failed or timed out: once, or per request an open loop queued meanwhile
	Read      uint64 `json:"read"`      // connection reset or closed before the answer
	Write     uint64 `json:"write"`     // sending the request failed
	Timeout   uint64 `json:"timeout"`   // no progress for Load.Timeout
	Status    uint64 `json:"status"`    // a non-2xx status
	Length    uint64 `json:"length"`    // a body shorter or longer than expected
	Malformed uint64 `json:"malformed"` // the response could not be framed
}

// Total returns the sum of all error counts.
func (e *Errors) Total() uint64 {
	return e.Connect + e.Handshake + e.Read + e.Write + e.Timeout + e.Status + e.Length + e.Malformed
}

func (e *Errors) add(o *Errors) {
	e.Connect += o.Connect
	e.Handshake += o.Handshake
	e.Read += o.Read
	e.Write += o.Write
	e.Timeout += o.Timeout
	e.Status += o.Status
	e.Length += o.Length
	e.Malformed += o.Malformed
}

// String lists the non-zero counts, e.g. "status=3 length=1".
func (e *Errors) String() string {
	s := ""
	for _, f := range []struct {
		name string
		n    uint64
	}{{"connect", e.Connect}, {"handshake", e.Handshake}, {"read", e.Read}, {"write", e.Write}, {"timeout", e.Timeout},
		{"status", e.Status}, {"length", e.Length}, {"malformed", e.Malformed}} {
		if f.n > 0 {
			if s != "" {
				s += " "
			}
			s += fmt.Sprintf("%s=%d", f.name, f.n)
		}
	}
	if s == "" {
		return "none"
	}
	return s
}

// Result is what a run measured.
type Result struct {
	Responses uint64        // complete responses, valid or not
	Sent      uint64        // requests sent (in open loop: scheduled sends made)
	Bytes     uint64        // bytes read, heads included
	BodyBytes uint64        // body bytes read
	Connects  uint64        // connections established
	Errors    Errors        // failed requests by cause
	Elapsed   time.Duration // from the start to the last loop's end
	Loops     int           // event loops (threads) that generated the load
	Latency   Histogram     // one value per complete response

	// CPU is the CPU time, user and system, the loops' threads used; over
	// TLS, the whole process's, since the handshakes run in goroutines
	// beside the loops.
	CPU time.Duration

	// FullHandshakes and ResumedHandshakes count the TLS handshakes that
	// completed, by whether they resumed a session.
	FullHandshakes    uint64
	ResumedHandshakes uint64
	// TLSParams names what the first handshake negotiated: version,
	// cipher suite and key exchange group ("TLS 1.3 TLS_AES_128_GCM_SHA256
	// X25519"). Empty on plain runs.
	TLSParams string
}

// RequestsPerSecond returns complete responses per second of Elapsed.
func (r *Result) RequestsPerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Responses) / r.Elapsed.Seconds()
}

// ClientBusy returns the fraction of the loops' wall time their threads
// spent on the CPU. Near 1 the generator, not the server, may be the limit.
func (r *Result) ClientBusy() float64 {
	if r.Elapsed <= 0 || r.Loops == 0 {
		return 0
	}
	return r.CPU.Seconds() / (r.Elapsed.Seconds() * float64(r.Loops))
}

// BytesPerSecond returns bytes read per second of Elapsed.
func (r *Result) BytesPerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Bytes) / r.Elapsed.Seconds()
}

// Run generates the load described by l and returns what it measured. It
// returns an error when the load cannot run at all (bad address, no
// connection possible); failed requests are counted in Result.Errors
// instead. Cancelling ctx ends the run early.
func Run(ctx context.Context, l Load) (*Result, error) {
	if l.Connections < 1 {
		l.Connections = 1
	}
	if l.Pipeline < 1 {
		l.Pipeline = 1
	}
	if l.CloseEach {
		l.Pipeline = 1
	}
	if l.Timeout <= 0 {
		l.Timeout = 5 * time.Second
	}
	if l.Requests <= 0 && l.Duration <= 0 {
		return nil, fmt.Errorf("%w: a run needs a duration or a request count", ErrUsage)
	}
	if len(l.Request) == 0 {
		return nil, fmt.Errorf("%w: empty request", ErrUsage)
	}
	ta, err := net.ResolveTCPAddr("tcp", l.Addr)
	if err != nil {
		return nil, fmt.Errorf("bench: address %q: %w", l.Addr, err)
	}
	if _, _, err := sockaddrOf(ta); err != nil {
		return nil, err
	}
	cpus := l.CPUs
	if len(cpus) == 0 {
		cpus = []int{-1}
	}
	if len(cpus) > l.Connections {
		cpus = cpus[:l.Connections]
	}

	var tc *tlsClient
	if l.TLS != nil {
		tc = newTLSClient(l.TLS)
		if len(l.CPUs) > 0 {
			// The handshakes run in goroutines, on whatever thread the
			// runtime picks: keep every thread of the process on the
			// client CPUs while the run lasts, so that their cost never
			// lands on the server's.
			restore, err := pinProcess(l.CPUs)
			if err != nil {
				return nil, err
			}
			defer restore()
		}
	}
	cpu0 := processCPU()

	base := time.Now()
	loops := make([]*loop, len(cpus))
	for i, cpu := range cpus {
		// Connections go round-robin to loops so that each loop's global
		// indices stay evenly spread over the open-loop schedule.
		var idx []int
		for g := i; g < l.Connections; g += len(cpus) {
			idx = append(idx, g)
		}
		// Each loop gets its own Sockaddr: Connect encodes into it.
		sa, family, _ := sockaddrOf(ta)
		loops[i] = newLoop(&l, cpu, idx, sa, family, base)
		loops[i].tc = tc
	}
	var wg sync.WaitGroup
	for _, lp := range loops {
		wg.Add(1)
		go func(lp *loop) {
			defer wg.Done()
			lp.run()
		}(lp)
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		for _, lp := range loops {
			lp.abort.Store(true)
		}
		<-done
	}

	res := &Result{}
	var firstErr error
	for _, lp := range loops {
		if lp.err != nil && firstErr == nil {
			firstErr = lp.err
		}
		res.Responses += lp.res.Responses
		res.Sent += lp.res.Sent
		res.Bytes += lp.res.Bytes
		res.BodyBytes += lp.res.BodyBytes
		res.Connects += lp.res.Connects
		res.CPU += lp.res.CPU
		res.FullHandshakes += lp.res.FullHandshakes
		res.ResumedHandshakes += lp.res.ResumedHandshakes
		if res.TLSParams == "" {
			res.TLSParams = lp.res.TLSParams
		}
		res.Loops++
		res.Errors.add(&lp.res.Errors)
		res.Latency.Merge(&lp.res.Latency)
		if lp.end > res.Elapsed {
			res.Elapsed = lp.end
		}
	}
	if tc != nil {
		res.CPU = processCPU() - cpu0
	}
	if firstErr != nil {
		return res, firstErr
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	return res, nil
}
