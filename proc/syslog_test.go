//go:build linux

package proc_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nproxy/nproxy/internal/servertest"
)

// datagrams collects what a syslog server socket on loopback receives.
type datagrams struct {
	pc    net.PacketConn
	lines chan string
}

func listenSyslog(t *testing.T, network, addr string) *datagrams {
	t.Helper()
	pc, err := net.ListenPacket(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	d := &datagrams{pc: pc, lines: make(chan string, 4096)}
	go func() {
		b := make([]byte, 65536)
		for {
			n, _, err := pc.ReadFrom(b)
			if err != nil {
				return
			}
			select {
			case d.lines <- string(b[:n]):
			default:
			}
		}
	}()
	t.Cleanup(func() { pc.Close() })
	return d
}

// await returns the first datagram (from now on) holding every one of
// want, failing the test after a generous bound; poke, if not nil, is
// called between waits (a request that makes the line).
func (d *datagrams) await(t *testing.T, poke func(), want ...string) string {
	t.Helper()
	deadline := time.After(20 * time.Second)
	var seen []string
	for {
		if poke != nil {
			poke()
		}
		select {
		case l := <-d.lines:
			ok := true
			for _, w := range want {
				ok = ok && strings.Contains(l, w)
			}
			if ok {
				return l
			}
			if len(seen) < 50 {
				seen = append(seen, l)
			}
		case <-time.After(200 * time.Millisecond): // poke again
		case <-deadline:
			t.Fatalf("no datagram with %q within 20s; seen:\n%s", want, strings.Join(seen, "\n"))
		}
	}
}

// TestSyslogMaster runs a master, on both backends, whose error log goes
// to a UNIX datagram syslog server and whose access log goes to a UDP
// one: the master's and the worker's error lines arrive with their
// level's priority, the access lines with local7.info; SIGUSR1 keeps
// them flowing, and a reload that changes both addresses sends the
// master's and the new workers' lines to the new servers.
func TestSyslogMaster(t *testing.T) {
	for _, backend := range servertest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			in := newInstance(t, 1)
			sock := filepath.Join(in.dir, "log.sock")
			errs := listenSyslog(t, "unixgram", sock)
			acc1 := listenSyslog(t, "udp", "127.0.0.1:0")
			acc2 := listenSyslog(t, "udp", "127.0.0.1:0")
			refused := servertest.RefusedAddr(t)
			sock2 := filepath.Join(in.dir, "log2.sock")
			errs2 := listenSyslog(t, "unixgram", sock2)
			write := func(errSock string, acc *datagrams) {
				conf := fmt.Sprintf("worker_processes = 1\nbackend = %s\npid_file = %s\nerror_log = syslog:server=unix:%s,tag=npx\n"+
					"[server]\nlisten = %s\nproxy_pass = %s\naccess_log = syslog:server=%s,nohostname\n",
					backend, in.pidFile, errSock, in.addr, refused, acc.pc.LocalAddr())
				if err := os.WriteFile(in.conf, []byte(conf), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			write(sock, acc1)
			in.run("-c", in.conf)
			in.waitServing()
			master := strconv.Itoa(in.cmd.Process.Pid)
			host, _ := os.Hostname()
			// local7 (23) * 8 + info (6) = 190; + error (3) = 187.
			errs.await(t, nil, "<190>", " "+host+" npx: [info] "+master+": nproxy started")

			c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
			get := func(path string) func() {
				return func() {
					if res, err := c.Get("http://" + in.addr + path); err == nil {
						io.Copy(io.Discard, res.Body)
						res.Body.Close()
					}
				}
			}
			get("/first")()
			line := acc1.await(t, nil, `"GET /first HTTP/1.1" 502 `)
			if !strings.HasPrefix(line, "<190>") || strings.Contains(line, host) || !strings.Contains(line, " nproxy: 127.0.0.1 - - [") {
				t.Errorf("access line = %q, want local7.info, no host, tag nproxy, the combined line", line)
			}
			// The worker's error line about the refused backend.
			werr := errs.await(t, nil, "<187>", " npx: [error] ", refused)
			if strings.Contains(werr, "[error] "+master+":") {
				t.Errorf("the refused backend's line is the master's, want a worker's: %q", werr)
			}

			in.signal(syscall.SIGUSR1)
			errs.await(t, nil, "SIGUSR1: reopening log files")
			acc1.await(t, get("/after-usr1"), `"GET /after-usr1 HTTP/1.1" 502 `)

			// The reload moves both logs: the master's line after it and
			// the new worker's lines go to the new servers.
			write(sock2, acc2)
			in.signal(syscall.SIGHUP)
			errs2.await(t, nil, "[info] "+master+": reloaded:")
			acc2.await(t, get("/after-reload"), `"GET /after-reload HTTP/1.1" 502 `)
			errs2.await(t, nil, "<187>", " npx: [error] ", refused)
		})
	}
}
