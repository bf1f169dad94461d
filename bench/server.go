//go:build linux

package bench

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// startTimeout bounds how long a server may take to listen.
const startTimeout = 15 * time.Second

// stopTimeout bounds a graceful stop before the process tree is killed.
const stopTimeout = 10 * time.Second

// target is one server under test.
type target struct {
	name    string // as reported: "nproxy", "nproxy-epoll", "nginx", "haproxy"
	kind    string // "nproxy", "nginx" or "haproxy"
	backend string // nproxy's --backend; "" leaves the config's choice
	bin     string // the executable
}

func (t target) isNproxy() bool { return t.kind == "nproxy" }

// supports reports whether t can run scenario sc: HAProxy only proxies.
func (t target) supports(sc *scenario) bool {
	return t.kind != "haproxy" || sc.name == "proxy"
}

// env is what all runs of one Main share: a temp dir with the files to
// serve, the proxy backend, and the settings.
type env struct {
	dir        string
	opts       *options
	backend    *fixedServer          // for the proxy scenario; nil until needed
	certs      map[string]*benchCert // by key kind, made when a TLS scenario first needs one
	serverCPUs []int
	clientCPUs []int
	seq        int // numbers the config files

	stderr         io.Writer
	live           bool   // stderr is a terminal: redraw the progress line
	progressPrefix string // "[3/12] static-small nproxy-epoll round 2 ... "
}

// server is one started server process.
type server struct {
	t       target
	cmd     *exec.Cmd
	addr    string
	out     string // its stdout and stderr
	logs    []string
	profDir string
	exited  chan struct{}
	waitErr error
}

// freePort returns a loopback port for a server started later to bind,
// drawn below the kernel's ephemeral range (which starts at 32768) so that
// no ":0" listener or outgoing connection of another process takes it in
// between (the load generator's own connections included).
func freePort() (int, error) {
	for i := 0; i < 200; i++ {
		port := 10000 + rand.IntN(10000)
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		l.Close()
		return port, nil
	}
	return 0, fmt.Errorf("bench: no free port in 10000-19999")
}

// writeFiles creates DIR/www with the scenarios' files: index.html (1 KiB
// of text) and big.bin (1 MiB of binary), readable by nginx's workers.
func (e *env) writeFiles() error {
	www := filepath.Join(e.dir, "www")
	if err := os.MkdirAll(www, 0o755); err != nil {
		return err
	}
	os.Chmod(e.dir, 0o755)
	small := make([]byte, 1024)
	big := make([]byte, 1<<20)
	for i := range small {
		small[i] = "abcdefghijklmnopqrstuvwxyz0123456789"[i%36]
		if i%64 == 63 {
			small[i] = '\n'
		}
	}
	var x uint32 = 2463534242 // xorshift: incompressible, reproducible
	for i := range big {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		big[i] = byte(x)
	}
	if err := os.WriteFile(filepath.Join(www, "index.html"), small, 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(www, "big.bin"), big, 0o644)
}

// proxyBackend starts, once, the fixed-response server the proxy scenario
// proxies to, pinned to the last client CPU (the server's CPUs stay the
// server's alone).
func (e *env) proxyBackend() (*fixedServer, error) {
	if e.backend != nil {
		return e.backend, nil
	}
	s, err := startFixedServer("127.0.0.1:0", fixedReply(200, []byte(backendBody)), false, e.clientCPUs[len(e.clientCPUs)-1])
	if err != nil {
		return nil, fmt.Errorf("bench: proxy backend: %w", err)
	}
	e.backend = s
	return s, nil
}

// backendBody is the proxy backend's answer, the same as compare.sh's nginx
// backend so that figures line up.
const backendBody = "hello from the backend\n"

// certFor returns the certificate the servers present in scenario sc,
// made the first time a scenario needs one of its kind; nil for a plain
// scenario.
func (e *env) certFor(sc *scenario) (*benchCert, error) {
	if !sc.tls {
		return nil, nil
	}
	kind := e.opts.certKey(sc)
	if c := e.certs[kind]; c != nil {
		return c, nil
	}
	c, err := makeCert(e.dir, "cert-"+kind, kind)
	if err != nil {
		return nil, err
	}
	if e.certs == nil {
		e.certs = map[string]*benchCert{}
	}
	e.certs[kind] = c
	return c, nil
}

// start launches t for scenario sc, pinned to the server CPUs, waits until it
// listens, and checks one request. profDir, when set, is handed to nproxy.
func (e *env) start(t target, sc *scenario, profDir string) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	e.seq++
	name := fmt.Sprintf("%s-%d", t.name, e.seq)
	s := &server{t: t, addr: "127.0.0.1:" + strconv.Itoa(port), out: filepath.Join(e.dir, name+".out"), profDir: profDir, exited: make(chan struct{})}
	var args []string
	switch t.kind {
	case "nproxy":
		args, err = e.nproxyConfig(name, port, sc, t, s)
	case "nginx":
		args, err = e.nginxConfig(name, port, sc, s)
	case "haproxy":
		args, err = e.haproxyConfig(name, port, sc, s)
	}
	if err != nil {
		return nil, err
	}
	s.cmd = exec.Command(t.bin, args...)
	s.cmd.Dir = e.dir
	out, err := os.Create(s.out)
	if err != nil {
		return nil, err
	}
	defer out.Close()
	s.cmd.Stdout, s.cmd.Stderr = out, out
	s.cmd.Env = os.Environ()
	if profDir != "" && t.isNproxy() {
		if err := os.MkdirAll(profDir, 0o755); err != nil {
			return nil, err
		}
		s.cmd.Env = append(s.cmd.Env, "NPROXY_PROFILE_DIR="+profDir)
	}
	// Its own process group, so that a Ctrl-C meant for bench reaches the
	// server only through bench's own clean stop.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := startPinned(s.cmd, e.serverCPUs); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrServerStart, t.name, err)
	}
	go func() { s.waitErr = s.cmd.Wait(); close(s.exited) }()
	exitedErr := func() error {
		select {
		case <-s.exited:
			return fmt.Errorf("%w: %s exited (%v) before listening on %s%s", ErrServerStart, t.name, s.waitErr, s.addr, s.tail())
		default:
			return nil
		}
	}
	if err := waitPort(s.addr, startTimeout, exitedErr); err != nil {
		s.stop()
		if errors.Is(err, ErrServerStart) && !strings.Contains(err.Error(), "exited") {
			err = fmt.Errorf("%w%s", err, s.tail())
		}
		return nil, err
	}
	pinTree(s.cmd.Process.Pid, e.serverCPUs)
	cert, err := e.certFor(sc)
	if err != nil {
		s.stop()
		return nil, err
	}
	if err := check(s.addr, sc, cert); err != nil {
		s.stop()
		return nil, fmt.Errorf("bench: %s, scenario %s: %w%s", t.name, sc.name, err, s.tail())
	}
	return s, nil
}

// check makes one request the way the scenario will and validates it, so
// that a misconfigured server fails before any measurement. Over TLS
// (cert not nil) it also verifies that the server presents cert for
// tlsServerName.
func check(addr string, sc *scenario, cert *benchCert) error {
	tr := &http.Transport{DisableKeepAlives: true}
	scheme := "http"
	if cert != nil {
		scheme = "https"
		tr.TLSClientConfig = &tls.Config{RootCAs: cert.pool, ServerName: tlsServerName, MinVersion: tls.VersionTLS13}
	}
	c := &http.Client{
		Timeout:   5 * time.Second,
		Transport: tr,
		// A redirect is a wrong answer: the load would not follow it.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := c.Get(scheme + "://" + addr + sc.path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: GET %s answered %s", ErrValidation, sc.path, resp.Status)
	}
	if sc.length >= 0 && n != sc.length {
		return fmt.Errorf("%w: GET %s answered %d body bytes, want %d", ErrValidation, sc.path, n, sc.length)
	}
	return nil
}

// tail returns the last lines of the server's output and logs, for messages.
func (s *server) tail() string {
	var b strings.Builder
	for _, f := range append([]string{s.out}, s.logs...) {
		data, err := os.ReadFile(f)
		if err != nil || len(bytes.TrimSpace(data)) == 0 {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		if len(lines) > 10 {
			lines = lines[len(lines)-10:]
		}
		fmt.Fprintf(&b, "\n--- %s:\n%s", f, strings.Join(lines, "\n"))
	}
	return b.String()
}

// pid returns the server's root process id.
func (s *server) pid() int { return s.cmd.Process.Pid }

// stop ends the server and reports whether it went cleanly. Without
// profiling it sends SIGINT, the immediate stop for nproxy, nginx and
// HAProxy alike: the run is over, nothing needs draining. With profiling it
// sends nproxy SIGTERM, the graceful stop on which workers write their
// profiles. Whatever lingers past stopTimeout is killed, tree and all.
func (s *server) stop() error {
	tree := processTree(s.pid())
	sig := syscall.SIGINT
	if s.profDir != "" {
		sig = syscall.SIGTERM
	}
	s.cmd.Process.Signal(sig)
	var err error
	select {
	case <-s.exited:
	case <-time.After(stopTimeout):
		name := map[syscall.Signal]string{syscall.SIGINT: "SIGINT", syscall.SIGTERM: "SIGTERM"}[sig]
		err = fmt.Errorf("bench: %s did not exit within %v of %s; killed", s.t.name, stopTimeout, name)
		s.cmd.Process.Kill()
		<-s.exited
	}
	// Workers orphaned by a dying master must not outlive the run.
	for _, pid := range tree[1:] {
		if p, perr := os.FindProcess(pid); perr == nil {
			p.Signal(syscall.SIGKILL)
		}
	}
	return err
}

func (e *env) nproxyConfig(name string, port int, sc *scenario, t target, s *server) ([]string, error) {
	logPath := filepath.Join(e.dir, name+".log")
	s.logs = append(s.logs, logPath)
	var b strings.Builder
	fmt.Fprintf(&b, "worker_processes = %d\nerror_log = %s\nworker_connections = 20000\n\n[server]\nlisten = 127.0.0.1:%d\n",
		e.opts.workers, logPath, port)
	if sc.name == "proxy" {
		be, err := e.proxyBackend()
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(&b, "proxy_pass = %s\n", be.Addr())
	} else {
		fmt.Fprintf(&b, "static_root = %s\n", filepath.Join(e.dir, "www"))
	}
	cert, err := e.certFor(sc)
	if err != nil {
		return nil, err
	}
	if cert != nil {
		fmt.Fprintf(&b, "tls_cert = %s\ntls_key = %s\ntls_protocols = TLSv1.3\n", cert.certPath, cert.keyPath)
		if e.opts.serverCurve != "" {
			fmt.Fprintf(&b, "tls_curves = %s\n", e.opts.serverCurve)
		}
	}
	conf := filepath.Join(e.dir, name+".ini")
	if err := os.WriteFile(conf, []byte(b.String()), 0o644); err != nil {
		return nil, err
	}
	args := []string{"-c", conf}
	if t.backend != "" {
		args = append(args, "--backend", t.backend)
	}
	return append(args, "--workers", strconv.Itoa(e.opts.workers)), nil
}

// nginxConfig mirrors compare.sh: nginx tuned as its documentation advises
// for this job (no access log, sendfile, tcp_nopush, open_file_cache, a
// keepalive_requests limit no run reaches), in the foreground.
func (e *env) nginxConfig(name string, port int, sc *scenario, s *server) ([]string, error) {
	errLog := filepath.Join(e.dir, name+"-error.log")
	s.logs = append(s.logs, errLog)
	tmp := filepath.Join(e.dir, name+"-tmp")
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return nil, err
	}
	upstream, location := "", ""
	if sc.name == "proxy" {
		be, err := e.proxyBackend()
		if err != nil {
			return nil, err
		}
		upstream = fmt.Sprintf("  upstream be { server %s; keepalive 128; }\n", be.Addr())
		location = `location /proxy/ { proxy_pass http://be; proxy_http_version 1.1; proxy_set_header Connection ""; }`
	}
	// TLS as compare.sh sets it up: TLS 1.3 only, session tickets (the
	// default) and a shared session cache.
	ssl, sslConf := "", ""
	cert, err := e.certFor(sc)
	if err != nil {
		return nil, err
	}
	if cert != nil {
		ssl = " ssl"
		sslConf = fmt.Sprintf(" ssl_certificate %s; ssl_certificate_key %s; ssl_protocols TLSv1.3; ssl_session_cache shared:S:10m;",
			cert.certPath, cert.keyPath)
	}
	conf := fmt.Sprintf(`daemon off;
worker_processes %d;
worker_rlimit_nofile 65535;
pid %s/%s.pid;
error_log %s;
events { worker_connections 20000; }
http {
  access_log off; sendfile on; tcp_nopush on; tcp_nodelay on;
  keepalive_requests 10000000; default_type application/octet-stream;
  open_file_cache max=1000 inactive=20s;
  client_body_temp_path %[5]s/body; proxy_temp_path %[5]s/proxy;
  fastcgi_temp_path %[5]s/fastcgi; uwsgi_temp_path %[5]s/uwsgi; scgi_temp_path %[5]s/scgi;
%s  server { listen 127.0.0.1:%d reuseport%s; root %s/www;%s
           %s }
}
`, e.opts.workers, e.dir, name, errLog, tmp, upstream, port, ssl, e.dir, sslConf, location)
	path := filepath.Join(e.dir, name+".conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	return []string{"-c", path, "-p", e.dir, "-e", errLog}, nil
}

// haproxyConfig mirrors compare.sh's HAProxy: HTTP keep-alive on both sides,
// connection reuse to the backend, in the foreground (-db). maxconn stays at
// compare.sh's 9000: HAProxy wants two descriptors per connection and
// refuses to start when the limit (20000 here) is lower than that.
func (e *env) haproxyConfig(name string, port int, sc *scenario, s *server) ([]string, error) {
	be, err := e.proxyBackend()
	if err != nil {
		return nil, err
	}
	conf := fmt.Sprintf(`global
  nbthread %d
  maxconn 9000

defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  option http-keep-alive

frontend fe
  bind 127.0.0.1:%d
  default_backend be

backend be
  http-reuse always
  server s1 %s
`, e.opts.workers, port, be.Addr())
	path := filepath.Join(e.dir, name+".cfg")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	return []string{"-f", path, "-db"}, nil
}
