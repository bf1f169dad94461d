//go:build linux

package proc_test

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The fault run (issue 11, section 3): steady mixed load on a master
// while faults are injected, then an account of every request. It runs
// only when NPROXY_FAULT_RUN names its duration (scripts/faultrun.sh
// sets it; CI runs a short one):
//
//	NPROXY_FAULT_RUN=10s go test -run '^TestFaultRun$' -v ./proc
//
// Load, all through one master with two workers: keep-alive static
// requests in tight loops, one request per new connection (churn),
// proxied downloads and uploads, WebSocket echo sessions, and requests
// whose backend closes the connection mid-response. Faults: a reload
// every 2 s, a worker killed with SIGKILL at 30% and 70% of the run, one
// of the two backends restarted at 50%. A failure is expected only from a
// fault: within faultWindow after a kill or a backend restart, or a
// request to the cutting backend; any other failure fails the run. The
// master's and the workers' RSS and open descriptors are reported before
// and after; the master's descriptors must be back where they were.

// faultWindow is how long after a fault a failure is blamed on it: the
// connections a killed worker held fail at their next use, at once in
// these loops, and the requests a restarted backend was serving fail
// when it closes them.
const faultWindow = 1500 * time.Millisecond

// faultLog records what the load saw.
type faultLog struct {
	mu       sync.Mutex
	sent     map[string]int
	done     map[string]int
	failures []faultFailure
	faults   []faultEvent
}

type faultFailure struct {
	at   time.Time
	kind string
	err  string
}

type faultEvent struct {
	at   time.Time
	kind string // "kill" or "restart"
}

func newFaultLog() *faultLog {
	return &faultLog{sent: map[string]int{}, done: map[string]int{}}
}

// count runs one request of kind and records its outcome.
func (l *faultLog) count(kind string, f func() error) {
	l.mu.Lock()
	l.sent[kind]++
	l.mu.Unlock()
	err := f()
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		l.failures = append(l.failures, faultFailure{at: time.Now(), kind: kind, err: err.Error()})
		return
	}
	l.done[kind]++
}

func (l *faultLog) fault(kind string) {
	l.mu.Lock()
	l.faults = append(l.faults, faultEvent{at: time.Now(), kind: kind})
	l.mu.Unlock()
}

// blame names the fault a failure is expected from, or "" when none is.
func (l *faultLog) blame(f faultFailure) string {
	if f.kind == "cut" && !strings.HasPrefix(f.err, errCutHangs) {
		return "cut by its backend"
	}
	for _, e := range l.faults {
		if f.at.Before(e.at) || f.at.After(e.at.Add(faultWindow)) {
			continue
		}
		switch {
		case e.kind == "kill":
			return "worker killed"
		case e.kind == "restart" && f.kind != "static" && f.kind != "churn":
			return "backend restarted"
		}
	}
	return ""
}

// procUsage is a process's resident memory and open descriptors.
type procUsage struct {
	rssKB, fds int
}

// settledUsage is usageOf once the descriptor count held still for
// 200 ms (a readiness pipe or a reaped worker's pidfd closes late).
func settledUsage(pid int) procUsage {
	u := usageOf(pid)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		time.Sleep(200 * time.Millisecond)
		next := usageOf(pid)
		if next.fds == u.fds {
			return next
		}
		u = next
	}
	return u
}

func usageOf(pid int) procUsage {
	var u procUsage
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			u.rssKB, _ = strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
		}
	}
	ents, _ := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	u.fds = len(ents)
	return u
}

// faultBackend is an upstream for the fault run: /api/dl sends 256 KiB,
// /api/up answers with the length of the body it read, /api/ws echoes
// after a WebSocket handshake, /api/cut closes the connection after 64 KiB
// of a 1 MiB response.
type faultBackend struct {
	addr string
	mu   sync.Mutex
	srv  *http.Server
}

var faultDownload = bytes.Repeat([]byte("download"), 32<<10) // 256 KiB

func startFaultBackend(t *testing.T) *faultBackend {
	t.Helper()
	b := &faultBackend{addr: freeAddr(t)}
	if err := b.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.stop)
	return b
}

func (b *faultBackend) start() error {
	l, err := net.Listen("tcp", b.addr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/dl", func(w http.ResponseWriter, r *http.Request) { w.Write(faultDownload) })
	mux.HandleFunc("/api/up", func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		fmt.Fprint(w, n)
	})
	mux.HandleFunc("/api/cut", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(1<<20))
		w.Write(faultDownload[:64<<10])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // closes the connection mid-response
	})
	mux.HandleFunc("/api/ws", func(w http.ResponseWriter, r *http.Request) {
		conn, brw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		h := sha1.Sum([]byte(r.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
		fmt.Fprintf(conn, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
			base64.StdEncoding.EncodeToString(h[:]))
		io.Copy(conn, brw) // echo: the tunnel carries bytes, not frames
	})
	srv := &http.Server{Handler: mux, ErrorLog: nil}
	b.mu.Lock()
	b.srv = srv
	b.mu.Unlock()
	go srv.Serve(l)
	return nil
}

func (b *faultBackend) stop() {
	b.mu.Lock()
	srv := b.srv
	b.mu.Unlock()
	srv.Close()
}

// restart closes the backend with its connections and listens again.
func (b *faultBackend) restart(t *testing.T) {
	b.stop()
	time.Sleep(300 * time.Millisecond) // down for a moment
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := b.start()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("backend %s did not come back: %v", b.addr, err)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Requests of the fault run's load, each on the connection it is given.

// keepAliveGet sends GET path on c and checks the status and body
// length; closed reports a Connection: close response.
func keepAliveGet(c net.Conn, br *bufio.Reader, path string, size int) (closed bool, err error) {
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path); err != nil {
		return false, err
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return false, err
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return false, err
	}
	if resp.StatusCode != 200 || (size >= 0 && n != int64(size)) {
		return false, fmt.Errorf("GET %s: status %d, %d bytes", path, resp.StatusCode, n)
	}
	return resp.Close, nil
}

// keepAliveLoop runs request on keep-alive connections until stop.
func keepAliveLoop(addr, kind string, log *faultLog, stop <-chan struct{}, request func(net.Conn, *bufio.Reader) (bool, error)) {
	var c net.Conn
	var br *bufio.Reader
	for {
		select {
		case <-stop:
			if c != nil {
				c.Close()
			}
			return
		default:
		}
		if c == nil {
			var err error
			if c, err = net.DialTimeout("tcp", addr, 5*time.Second); err != nil {
				log.count(kind, func() error { return err })
				time.Sleep(10 * time.Millisecond)
				c = nil
				continue
			}
			br = bufio.NewReader(c)
		}
		var closed, failed bool
		log.count(kind, func() (err error) {
			closed, err = request(c, br)
			failed = err != nil
			return err
		})
		if closed || failed {
			c.Close()
			c = nil
		}
	}
}

// upload posts 64 KiB on c.
func upload(c net.Conn, br *bufio.Reader) (bool, error) {
	const n = 64 << 10
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintf(c, "POST /api/up HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", n, faultDownload[:n]); err != nil {
		return false, err
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return false, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return false, err
	}
	if resp.StatusCode != 200 || string(body) != strconv.Itoa(n) {
		return false, fmt.Errorf("upload: status %d, %q", resp.StatusCode, body)
	}
	return resp.Close, nil
}

// webSocket opens a WebSocket session and exchanges 20 echoed messages.
func webSocket(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "GET /api/ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return err
	}
	if resp.StatusCode != 101 {
		return fmt.Errorf("websocket: status %d", resp.StatusCode)
	}
	msg := make([]byte, 1024)
	got := make([]byte, 1024)
	for i := range 20 {
		for j := range msg {
			msg[j] = byte(i + j)
		}
		if _, err := c.Write(msg); err != nil {
			return err
		}
		if _, err := io.ReadFull(br, got); err != nil {
			return fmt.Errorf("websocket message %d: %w", i, err)
		}
		if !bytes.Equal(got, msg) {
			return fmt.Errorf("websocket message %d: echo differs", i)
		}
	}
	return nil
}

// errCutHangs starts the error of a cut response that never ends.
const errCutHangs = "the cut response hangs"

// cutGet asks for the response its backend abandons: it must end, with
// an error or a 502, never hang or complete.
func cutGet(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, "GET /api/cut HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		return err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return err
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("%s after %d bytes", errCutHangs, n) // blamed on nothing
	}
	if err == nil && resp.StatusCode == 200 {
		return nil // impossible: the backend sent 64 KiB of 1 MiB
	}
	return fmt.Errorf("status %d, %d bytes, %v", resp.StatusCode, n, err)
}

func TestFaultRun(t *testing.T) {
	spec := os.Getenv("NPROXY_FAULT_RUN")
	if spec == "" {
		t.Skip("NPROXY_FAULT_RUN is not set (scripts/faultrun.sh runs this)")
	}
	d, err := time.ParseDuration(spec)
	if err != nil || d < 5*time.Second {
		t.Fatalf("NPROXY_FAULT_RUN=%q: want a duration of at least 5s", spec)
	}
	b1, b2 := startFaultBackend(t), startFaultBackend(t)
	in := newInstance(t, 2)
	extra := fmt.Sprintf("pid_file = %s\nworker_shutdown_timeout = 5s\n", in.pidFile)
	writeConfig(t, in.conf, in.addr, in.root("a", "A\n"), 2, extra)
	f, err := os.OpenFile(in.conf, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "proxy_pass = %s, %s\nproxy_prefix = /api/\n", b1.addr, b2.addr)
	f.Close()
	in.run("-c", in.conf)
	in.waitServing()
	master := in.cmd.Process.Pid
	kids := in.waitChildren(2, 5*time.Second)
	in.waitLog("nproxy started", 5*time.Second)
	masterBefore := settledUsage(master)
	var workersBefore []procUsage
	for _, k := range kids {
		workersBefore = append(workersBefore, usageOf(k))
	}

	log := newFaultLog()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	loop := func(n int, f func()) {
		for range n {
			wg.Add(1)
			go func() { defer wg.Done(); f() }()
		}
	}
	until := func(f func()) func() {
		return func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				f()
			}
		}
	}
	loop(4, func() {
		keepAliveLoop(in.addr, "static", log, stop, func(c net.Conn, br *bufio.Reader) (bool, error) {
			return keepAliveGet(c, br, "/index.html", 2)
		})
	})
	loop(2, until(func() {
		log.count("churn", func() error {
			c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
			_, err := healthPid(c, in.addr)
			return err
		})
	}))
	loop(2, func() {
		keepAliveLoop(in.addr, "download", log, stop, func(c net.Conn, br *bufio.Reader) (bool, error) {
			return keepAliveGet(c, br, "/api/dl", len(faultDownload))
		})
	})
	loop(2, func() { keepAliveLoop(in.addr, "upload", log, stop, upload) })
	loop(2, until(func() { log.count("websocket", func() error { return webSocket(in.addr) }) }))
	loop(1, until(func() {
		log.count("cut", func() error { return cutGet(in.addr) })
		time.Sleep(100 * time.Millisecond)
	}))

	// The faults, on a schedule scaled to the run.
	start := time.Now()
	at := func(frac float64) time.Time { return start.Add(time.Duration(frac * float64(d))) }
	schedule := []struct {
		when time.Time
		do   func()
	}{
		{at(0.3), func() { killWorker(t, in, log) }},
		{at(0.5), func() { log.fault("restart"); b2.restart(t) }},
		{at(0.7), func() { killWorker(t, in, log) }},
	}
	nextReload := start.Add(2 * time.Second)
	reloads := 0
	for time.Since(start) < d {
		now := time.Now()
		if now.After(nextReload) {
			in.signal(syscall.SIGHUP)
			reloads++
			nextReload = now.Add(2 * time.Second)
		}
		if len(schedule) > 0 && now.After(schedule[0].when) {
			schedule[0].do()
			schedule = schedule[1:]
		}
		time.Sleep(20 * time.Millisecond)
	}
	close(stop)
	wg.Wait()

	// Quiet again: the old generations are gone, every connection closed.
	kids = in.waitChildren(2, 15*time.Second)
	masterAfter := settledUsage(master)
	var workersAfter []procUsage
	for _, k := range kids {
		workersAfter = append(workersAfter, usageOf(k))
	}

	var report strings.Builder
	fmt.Fprintf(&report, "fault run: %v, %d reloads, 2 workers killed, 1 backend restarted\n", d, reloads)
	blamed := map[string]int{}
	var unexpected []faultFailure
	for _, f := range log.failures {
		if why := log.blame(f); why != "" {
			blamed[why]++
		} else {
			unexpected = append(unexpected, f)
		}
	}
	kinds := []string{"static", "churn", "download", "upload", "websocket", "cut"}
	totalSent, totalDone := 0, 0
	for _, k := range kinds {
		fmt.Fprintf(&report, "  %-9s sent %7d  completed %7d  failed %5d\n", k, log.sent[k], log.done[k], log.sent[k]-log.done[k])
		totalSent += log.sent[k]
		totalDone += log.done[k]
	}
	fmt.Fprintf(&report, "  total     sent %7d  completed %7d  failed %5d: %d worker killed, %d backend restarted, %d cut by its backend, %d unexpected\n",
		totalSent, totalDone, totalSent-totalDone, blamed["worker killed"], blamed["backend restarted"], blamed["cut by its backend"], len(unexpected))
	fmt.Fprintf(&report, "  master    RSS %6d -> %6d kB, fds %3d -> %3d\n", masterBefore.rssKB, masterAfter.rssKB, masterBefore.fds, masterAfter.fds)
	for i := range workersBefore {
		if i < len(workersAfter) {
			fmt.Fprintf(&report, "  worker %d  RSS %6d -> %6d kB, fds %3d -> %3d (a fresh worker, then one that served the end of the run)\n",
				i, workersBefore[i].rssKB, workersAfter[i].rssKB, workersBefore[i].fds, workersAfter[i].fds)
		}
	}
	t.Log("\n" + report.String())
	for i, f := range unexpected {
		if i == 10 {
			t.Errorf("... %d more", len(unexpected)-10)
			break
		}
		t.Errorf("unexpected failure at +%v (%s): %s", f.at.Sub(start).Round(time.Millisecond), f.kind, f.err)
	}
	for _, k := range kinds {
		if log.done[k] == 0 && k != "cut" {
			t.Errorf("no %s request completed", k)
		}
	}
	if masterAfter.fds != masterBefore.fds {
		t.Errorf("the master holds %d descriptors after the run, %d before", masterAfter.fds, masterBefore.fds)
	}
}

// killWorker kills one of the master's workers with SIGKILL.
func killWorker(t *testing.T, in *instance, log *faultLog) {
	kids := children(in.cmd.Process.Pid)
	if len(kids) == 0 {
		t.Errorf("no worker to kill")
		return
	}
	victim := kids[rand.IntN(len(kids))]
	log.fault("kill")
	if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
		t.Errorf("kill %d: %v", victim, err)
	}
}
