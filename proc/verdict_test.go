//go:build linux

package proc_test

import (
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSignalReloadVerdict checks `nproxy -s reload`: it waits for the
// master's verdict, exits 0 once the new configuration serves, and
// exits 1 with the master's lines when the master refused the reload, for
// an invalid file as for an address it cannot bind (at its line).
func TestSignalReloadVerdict(t *testing.T) {
	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			in := startBackend(t, backend, 1, "")
			c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

			// An invalid file is refused by -s itself, which reads it for
			// pid_file: the master is not asked.
			os.WriteFile(in.conf, []byte("pid_file = "+in.pidFile+"\n[server]\nlisten = "+in.addr+"\nbogus = 1\n"), 0o644)
			code, _, stderr := runCmd(t, in.dir, "-s", "reload", "-c", in.conf)
			if code != 1 || !strings.Contains(stderr, in.conf+":4: bogus: unknown key") || strings.Contains(in.log(), "SIGHUP") {
				t.Fatalf("-s reload of a bad file: exit %d, stderr %q", code, stderr)
			}

			// Refused by the master: a host name that does not resolve
			// (-s does not look names up; the master does before it
			// starts new workers).
			os.WriteFile(in.conf, []byte("pid_file = "+in.pidFile+"\n[server]\nlisten = "+in.addr+"\nproxy_pass = x.nproxy-test.invalid:80\n"), 0o644)
			code, _, stderr = runCmd(t, in.dir, "-s", "reload", "-c", in.conf)
			want := regexp.MustCompile(`(?s)refused the reload.*\n` + regexp.QuoteMeta(in.conf) + `:4: proxy_pass: cannot resolve "x.nproxy-test.invalid": .*\nreload failed: invalid configuration: keeping the running configuration\n$`)
			if code != 1 || !want.MatchString(stderr) {
				t.Fatalf("-s reload with a bad host: exit %d, stderr %q", code, stderr)
			}

			// Refused: a second address somebody else holds.
			busy, err := net.Listen("tcp", freeAddr(t))
			if err != nil {
				t.Fatal(err)
			}
			defer busy.Close()
			in.rewrite(1, in.root("b", "B\n"), backend, "")
			f, _ := os.OpenFile(in.conf, os.O_APPEND|os.O_WRONLY, 0)
			f.WriteString("\n[server]\nlisten = " + busy.Addr().String() + "\nserver_name = other\nstatic_root = " + in.dir + "\n")
			f.Close()
			lines := strings.Count(readFile(t, in.conf), "\n")
			code, _, stderr = runCmd(t, in.dir, "-s", "reload", "-c", in.conf)
			bindLine := regexp.QuoteMeta(in.conf) + `:` + strconv.Itoa(lines-2) + `: listen ` + regexp.QuoteMeta(busy.Addr().String()) + `: bind: address already in use`
			if code != 1 || !regexp.MustCompile(bindLine).MatchString(stderr) {
				t.Fatalf("-s reload onto a busy address: exit %d, stderr %q, want %s", code, stderr, bindLine)
			}
			if body := get(t, c, "http://"+in.addr+"/"); body != "A\n" {
				t.Fatalf("after two refused reloads: GET / = %q", body)
			}

			// Accepted.
			in.rewrite(1, in.root("b", "B\n"), backend, "")
			if code, stdout, stderr := runCmd(t, in.dir, "-s", "reload", "-c", in.conf); code != 0 || stdout != "" || stderr != "" {
				t.Fatalf("-s reload of a good file: exit %d, stdout %q, stderr %q", code, stdout, stderr)
			}
			for deadline := time.Now().Add(5 * time.Second); get(t, c, "http://"+in.addr+"/") != "B\n"; time.Sleep(10 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("the new root never answered after -s reload said ok")
				}
			}
		})
	}
}

// TestStartBindErrorLine checks that an address the master cannot bind
// at start is reported at the line of its listen key.
func TestStartBindErrorLine(t *testing.T) {
	in := newInstance(t, 1)
	busy, err := net.Listen("tcp", in.addr) // without SO_REUSEPORT
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	code, _, stderr := runCmd(t, in.dir, "-c", in.conf)
	want := regexp.QuoteMeta(in.conf) + `:\d+: listen ` + regexp.QuoteMeta(in.addr) + `: bind: address already in use \(another process listens there\)`
	if code != 1 || !regexp.MustCompile(want).MatchString(stderr) {
		t.Fatalf("exit %d, stderr %q, want %s", code, stderr, want)
	}
	if line := regexp.MustCompile(`:(\d+): listen`).FindStringSubmatch(stderr); line == nil || !strings.HasPrefix(strings.Split(readFile(t, in.conf), "\n")[mustAtoi(line[1])-1], "listen = ") {
		t.Fatalf("the line named is not the listen key's: %q\n%s", stderr, readFile(t, in.conf))
	}
}

// TestStartAddressOfAnotherMaster checks that a second master, with a
// config file and pid file of its own, cannot start on the address a
// running master serves: SO_REUSEPORT would let it join the first one's
// socket group and take part of its connections (nginx fails with
// EADDRINUSE there too). The running master keeps serving.
func TestStartAddressOfAnotherMaster(t *testing.T) {
	in := start(t, 2)
	other := newInstance(t, 1)
	writeConfig(t, other.conf, in.addr, other.root("b", "B\n"), 1, "pid_file = "+other.pidFile)
	code, _, stderr := runCmd(t, other.dir, "-c", other.conf)
	want := regexp.QuoteMeta(other.conf) + `:\d+: listen ` + regexp.QuoteMeta(in.addr) + `: bind: address already in use \(another process listens there\)`
	if code != 1 || !regexp.MustCompile(want).MatchString(stderr) {
		t.Fatalf("second master on a served address: exit %d, stderr %q, want %s", code, stderr, want)
	}
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for i := 0; i < 20; i++ {
		if body := get(t, c, "http://"+in.addr+"/"); body != "A\n" {
			t.Fatalf("request %d after the refused start: %q, want the first master's A", i, body)
		}
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mustAtoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
