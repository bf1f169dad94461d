//go:build linux

package bench

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nproxy/nproxy/internal/testcert"
	"golang.org/x/sys/unix"
)

// tlsTestServer is an in-process HTTPS responder on crypto/tls: it answers
// every request head with the same bytes, closes after answering a
// "Connection: close" request, and counts requests and handshakes by kind,
// so that what the generator reports can be checked against what the
// server saw.
type tlsTestServer struct {
	ln    net.Listener
	reply []byte

	requests, full, resumed atomic.Uint64

	mu    sync.Mutex
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

func newTLSTestServer(t *testing.T, key testcert.KeyType, reply []byte) *tlsTestServer {
	t.Helper()
	certPEM, keyPEM, _, _ := testcert.New(t, testcert.Options{KeyType: key})
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS13})
	if err != nil {
		t.Fatal(err)
	}
	s := &tlsTestServer{ln: ln, reply: reply, conns: map[net.Conn]bool{}}
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

func (s *tlsTestServer) Addr() string { return s.ln.Addr().String() }

func (s *tlsTestServer) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns[c] = true
		s.mu.Unlock()
		s.wg.Add(1)
		go s.serve(c.(*tls.Conn))
	}
}

func (s *tlsTestServer) serve(c *tls.Conn) {
	defer s.wg.Done()
	defer func() {
		c.Close()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()
	if c.Handshake() != nil {
		return
	}
	if c.ConnectionState().DidResume {
		s.resumed.Add(1)
	} else {
		s.full.Add(1)
	}
	r := bufio.NewReader(c)
	for {
		closing := false
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			if strings.EqualFold(line, "Connection: close\r\n") {
				closing = true
			}
			if line == "\r\n" {
				break
			}
		}
		s.requests.Add(1)
		if _, err := c.Write(s.reply); err != nil || closing {
			return
		}
	}
}

// TestTLSLoadCounts runs each TLS scenario's load shape briefly against the
// in-process server and checks that the counts add up: every request
// answered once, one handshake per connection, full versus resumed as the
// server saw them.
func TestTLSLoadCounts(t *testing.T) {
	tests := []struct {
		name      string
		key       testcert.KeyType
		body      int
		conns     int
		pipeline  int
		requests  int64
		closeEach bool
		resume    bool
		pinned    bool          // two loops on the test's first CPU, the process pinned meanwhile
		curves    []tls.CurveID // offered (--tls-curves); nil: the default, X25519MLKEM768 negotiated
	}{
		{name: "keep-alive (tls-small)", body: 1024, conns: 8, requests: 400},
		{name: "keep-alive pipelined", body: 1024, conns: 3, pipeline: 8, requests: 333},
		{name: "full handshakes ECDSA (tls-handshake-ecdsa)", body: 1024, conns: 4, requests: 60, closeEach: true},
		{name: "full handshakes RSA (tls-handshake-rsa)", key: testcert.RSA, body: 1024, conns: 4, requests: 40, closeEach: true},
		{name: "resumed handshakes (tls-resume)", body: 1024, conns: 4, requests: 80, closeEach: true, resume: true},
		{name: "1 MiB (tls-large)", body: 1 << 20, conns: 2, requests: 6},
		{name: "pinned loops", body: 1024, conns: 4, requests: 80, closeEach: true, resume: true, pinned: true},
		{name: "full handshakes offering X25519 only", body: 1024, conns: 4, requests: 40, closeEach: true, curves: []tls.CurveID{tls.X25519}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newTLSTestServer(t, tt.key, fixedReply(200, body(tt.body)))
			req := getRequest("")
			if tt.closeEach {
				req = getRequest("Connection: close\r\n")
			}
			var cpus []int
			if tt.pinned {
				cpus = []int{testCPUs(t)[0], testCPUs(t)[0]}
			}
			res, err := Run(context.Background(), Load{
				Addr: srv.Addr(), Request: req, Connections: tt.conns, Pipeline: tt.pipeline,
				Requests: tt.requests, CloseEach: tt.closeEach, ExpectLength: int64(tt.body), CPUs: cpus,
				TLS: &TLSLoad{ServerName: "localhost", Resume: tt.resume, Curves: tt.curves},
			})
			if err != nil {
				t.Fatal(err)
			}
			if res.Errors.Total() != 0 {
				t.Errorf("errors: %s", res.Errors.String())
			}
			if res.Responses != uint64(tt.requests) || res.Sent != uint64(tt.requests) {
				t.Errorf("responses %d, sent %d, want %d", res.Responses, res.Sent, tt.requests)
			}
			if got := srv.requests.Load(); got != uint64(tt.requests) {
				t.Errorf("server saw %d requests, want %d", got, tt.requests)
			}
			if want := uint64(tt.requests) * uint64(tt.body); res.BodyBytes != want {
				t.Errorf("body bytes %d, want %d", res.BodyBytes, want)
			}
			hs := res.FullHandshakes + res.ResumedHandshakes
			if hs != res.Connects {
				t.Errorf("%d handshakes (%d full, %d resumed) on %d connections, want one each",
					hs, res.FullHandshakes, res.ResumedHandshakes, res.Connects)
			}
			wantConns := uint64(tt.conns)
			if tt.closeEach {
				wantConns = uint64(tt.requests)
			}
			if res.Connects != wantConns {
				t.Errorf("%d connections, want %d", res.Connects, wantConns)
			}
			if res.FullHandshakes != srv.full.Load() || res.ResumedHandshakes != srv.resumed.Load() {
				t.Errorf("client counted %d full and %d resumed handshakes, the server %d and %d",
					res.FullHandshakes, res.ResumedHandshakes, srv.full.Load(), srv.resumed.Load())
			}
			switch {
			case tt.resume && res.ResumedHandshakes == 0:
				t.Errorf("no handshake resumed (%d full)", res.FullHandshakes)
			case tt.resume && res.FullHandshakes > uint64(tt.conns):
				// Only connections opened before any session was cached
				// may do a full handshake: at most one per connection slot.
				t.Errorf("%d full handshakes, want at most %d", res.FullHandshakes, tt.conns)
			case !tt.resume && res.ResumedHandshakes != 0:
				t.Errorf("%d handshakes resumed without a session cache", res.ResumedHandshakes)
			}
			if !strings.HasPrefix(res.TLSParams, "TLS 1.3 ") {
				t.Errorf("TLS parameters %q, want TLS 1.3", res.TLSParams)
			}
			wantGroup := " X25519MLKEM768"
			if tt.curves != nil {
				wantGroup = " " + tt.curves[0].String()
			}
			if !strings.HasSuffix(res.TLSParams, wantGroup) {
				t.Errorf("TLS parameters %q, want the group%s", res.TLSParams, wantGroup)
			}
		})
	}
}

// TestTLSHandshakeFailures checks that a server that never completes a
// handshake is counted as such, never as answers, and that a run against
// one that refuses every handshake ends instead of retrying forever.
func TestTLSHandshakeFailures(t *testing.T) {
	closing := rawServer(t, func(c net.Conn) { c.Close() })
	// The give-up comes after maxConnectStreak failures in a row; the
	// other connection's handshake, already under way, may fail too.
	const conns = 2
	res, err := Run(context.Background(), Load{
		Addr: closing, Request: getRequest(""), Connections: conns, Requests: 10, ExpectLength: 0,
		TLS: &TLSLoad{ServerName: "localhost"},
	})
	if err == nil || !strings.Contains(err.Error(), "TLS handshake") {
		t.Errorf("error %v, want the give-up after failed handshakes", err)
	}
	if res == nil {
		t.Fatal("no result")
	}
	if res.Errors.Handshake < maxConnectStreak || res.Errors.Handshake > maxConnectStreak+conns-1 ||
		res.Errors.Total() != res.Errors.Handshake || res.Responses != 0 {
		t.Errorf("errors %v, responses %v: want %d to %d handshake errors and nothing else", res.Errors, res.Responses, maxConnectStreak, maxConnectStreak+conns-1)
	}

	silent := rawServer(t, func(c net.Conn) {
		var b [1]byte
		c.Read(b[:]) // holds the connection until the client gives up
		for {
			if _, err := c.Read(b[:]); err != nil {
				c.Close()
				return
			}
		}
	})
	res, err = Run(context.Background(), Load{
		Addr: silent, Request: getRequest(""), Connections: 2, Duration: 450 * time.Millisecond,
		Timeout: 100 * time.Millisecond, ExpectLength: 0, TLS: &TLSLoad{ServerName: "localhost"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors.Handshake < 2 || res.Errors.Total() != res.Errors.Handshake || res.Responses != 0 {
		t.Errorf("errors %s, responses %d: want handshake timeouts only", res.Errors.String(), res.Responses)
	}
}

// rawServer accepts TCP connections and hands each to handle in its own
// goroutine until the test ends.
func rawServer(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() { defer wg.Done(); handle(c) }()
		}
	}()
	return ln.Addr().String()
}

// TestPinProcess checks that pinning reaches every thread of the process
// and that restoring gives each its mask back.
func TestPinProcess(t *testing.T) {
	cpu := testCPUs(t)[0]
	before := map[int]unix.CPUSet{}
	for _, tid := range threads(unix.Getpid()) {
		var m unix.CPUSet
		if unix.SchedGetaffinity(tid, &m) == nil {
			before[tid] = m
		}
	}
	restore, err := pinProcess([]int{cpu})
	if err != nil {
		t.Fatal(err)
	}
	for _, tid := range threads(unix.Getpid()) {
		var m unix.CPUSet
		if unix.SchedGetaffinity(tid, &m) != nil {
			continue
		}
		if m.Count() != 1 || !m.IsSet(cpu) {
			t.Errorf("thread %d may run on %d CPUs after pinning to CPU %d", tid, m.Count(), cpu)
		}
	}
	restore()
	for tid, want := range before {
		var m unix.CPUSet
		if unix.SchedGetaffinity(tid, &m) != nil {
			continue // exited
		}
		if m != want {
			t.Errorf("thread %d: mask not restored (%d CPUs, had %d)", tid, m.Count(), want.Count())
		}
	}
}

func TestURLModeTLS(t *testing.T) {
	srv := newTLSTestServer(t, testcert.ECDSA, fixedReply(200, body(512)))
	_, port, _ := net.SplitHostPort(srv.Addr())
	code, stdout, stderr := runMain(append(cpuFlags(t), "--url", "https://localhost:"+port+"/", "--requests", "200", "--connections", "4")...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"200 requests in", "TLS 1.3 ", "4 full and 0 resumed handshakes"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	if srv.requests.Load() != 200 || srv.full.Load() != 4 {
		t.Errorf("server saw %d requests and %d handshakes, want 200 and 4", srv.requests.Load(), srv.full.Load())
	}
}

// TestTLSScenariosAgainstFakeServer runs every TLS scenario through Main
// against the stand-in server: certificates made, the config's tls_cert and
// tls_key honoured, the check over https, and the counts in the report.
func TestTLSScenariosAgainstFakeServer(t *testing.T) {
	const n = 40
	args := append(fakeServer(t), "--scenario", "tls", "--rounds", "1", "--requests", strconv.Itoa(n),
		"--connections", "4", "--json")
	code, stdout, stderr := runMain(args...)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
	var rep report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("json: %v\n%s", err, stdout)
	}
	var names []string
	for _, sc := range allScenarios {
		if sc.tls {
			names = append(names, sc.name)
		}
	}
	if len(rep.Runs) != len(names) {
		t.Fatalf("%d runs, want one per TLS scenario (%v)", len(rep.Runs), names)
	}
	for i, r := range rep.Runs {
		sc := findScenario(r.Scenario)
		if r.Scenario != names[i] || r.Errors.Total() != 0 {
			t.Errorf("run %d: %s, errors %s", i, r.Scenario, r.Errors.String())
		}
		if sc.idle {
			if r.IdleConns != 4 {
				t.Errorf("%s: %d idle connections, want 4", r.Scenario, r.IdleConns)
			}
			continue
		}
		if r.Requests != n || !strings.HasPrefix(r.TLS, "TLS 1.3 ") {
			t.Errorf("%s: %d requests over %q, want %d over TLS 1.3", r.Scenario, r.Requests, r.TLS, n)
		}
		hs := r.FullHandshakes + r.ResumedHandshakes
		switch {
		case sc.closeEach && hs != n:
			t.Errorf("%s: %d handshakes, want one per request (%d)", r.Scenario, hs, n)
		case !sc.closeEach && hs != 4:
			t.Errorf("%s: %d handshakes, want one per connection (4)", r.Scenario, hs)
		case sc.resume && r.ResumedHandshakes == 0:
			t.Errorf("%s: no handshake resumed", r.Scenario)
		case !sc.resume && r.ResumedHandshakes != 0:
			t.Errorf("%s: %d handshakes resumed", r.Scenario, r.ResumedHandshakes)
		}
	}
}
