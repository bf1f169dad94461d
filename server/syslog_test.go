//go:build linux

package server_test

import (
	"fmt"
	"io"
	"net"
	nethttp "net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nproxy/nproxy/internal/servertest"
)

// syslogServer is a datagram socket on loopback (UDP) or a UNIX path
// standing in for a syslog daemon; its lines arrive on a channel.
type syslogServer struct {
	pc    net.PacketConn
	lines chan string
}

func newSyslogServer(t *testing.T, network, addr string) *syslogServer {
	t.Helper()
	pc, err := net.ListenPacket(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	s := &syslogServer{pc: pc, lines: make(chan string, 1000)}
	go func() {
		b := make([]byte, 65536)
		for {
			n, _, err := pc.ReadFrom(b)
			if err != nil {
				return
			}
			select {
			case s.lines <- string(b[:n]):
			default: // a test that reads no more
			}
		}
	}()
	t.Cleanup(func() { pc.Close() })
	return s
}

// next returns the next datagram, failing the test after a generous
// bound.
func (s *syslogServer) next(t *testing.T) string {
	t.Helper()
	select {
	case l := <-s.lines:
		return l
	case <-time.After(10 * time.Second):
		t.Fatal("no syslog datagram within 10s")
		return ""
	}
}

// rfc3164 is nginx's header: <PRI>Mmm dd hh:mm:ss [HOST ]TAG: MSG.
var rfc3164 = regexp.MustCompile(`^<(\d+)>[A-Z][a-z]{2} [ 1-3]\d \d\d:\d\d:\d\d (?:(\S+) )?([A-Za-z0-9_]+): (.*)$`)

// TestSyslogAccessLog sends two [server] blocks' access logs to a UDP
// and a UNIX datagram syslog server, on both backends: static files,
// errors and proxied requests arrive as one datagram per request, with
// the header's priority, host and tag.
func TestSyslogAccessLog(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		udp := newSyslogServer(t, "udp", "127.0.0.1:0")
		sock := filepath.Join(t.TempDir(), "log.sock")
		ux := newSyslogServer(t, "unixgram", sock)
		echo, _ := newEchoIDBackend(t)
		www := filepath.Join(t.TempDir(), "www")
		os.Mkdir(www, 0o755)
		writeTree(t, www)
		globals := "log_format = short $request_method $uri $status $upstream_addr\n"
		ts := startServerGlobals(t, backend, globals, "listen = {{addr}}\nserver_name = site.example\nstatic_root = "+www+"\n"+
			"access_log = syslog:server="+udp.pc.LocalAddr().String()+",facility=local0,severity=notice,tag=edge short\n"+
			"[server]\nlisten = {{addr}}\nserver_name = api.example\nproxy_pass = "+echo+"\n"+
			"access_log = syslog:server=unix:"+sock+",nohostname\n")

		ts.roundTrip(t, "GET /small.txt HTTP/1.1\r\nHost: site.example\r\n\r\n")
		ts.roundTrip(t, "GET /missing HTTP/1.1\r\nHost: site.example\r\n\r\n")
		ts.roundTrip(t, "GET /api/x HTTP/1.1\r\nHost: api.example\r\nUser-Agent: ua\r\n\r\n")

		for _, want := range []string{"GET /small.txt 200 -", "GET /missing 404 -"} {
			m := rfc3164.FindStringSubmatch(udp.next(t))
			if m == nil {
				t.Fatalf("not an RFC 3164 line")
			}
			// local0 (16) * 8 + notice (5)
			if m[1] != "133" || m[2] == "" || m[3] != "edge" || m[4] != want {
				t.Errorf("udp line: pri %s host %q tag %q msg %q; want 133, a host, edge, %q", m[1], m[2], m[3], m[4], want)
			}
		}
		line := ux.next(t)
		m := rfc3164.FindStringSubmatch(line)
		// local7 (23) * 8 + info (6); combined format; no host.
		if m == nil || m[1] != "190" || m[2] != "" || m[3] != "nproxy" ||
			!strings.Contains(m[4], `"GET /api/x HTTP/1.1" 200 0 "-" "ua"`) {
			t.Errorf("unix line = %q, want local7.info, no host, tag nproxy, the combined line of the proxied request", line)
		}
		select {
		case extra := <-udp.lines:
			t.Errorf("an extra udp line: %q", extra)
		default:
		}
	})
}

// TestSyslogNeverStalls logs to a UNIX datagram server that never
// reads: once its buffer is full the lines are dropped, the requests
// are all answered, and the worker's /metrics counts the drops.
func TestSyslogNeverStalls(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		sock := filepath.Join(t.TempDir(), "log.sock")
		pc, err := net.ListenPacket("unixgram", sock) // never read
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		// Long lines fill the receive queue in a few hundred requests.
		globals := "log_format = long $request_uri $http_x_pad\n"
		ts := startServerGlobals(t, backend, globals, "metrics = on\naccess_log = syslog:server=unix:"+sock+" long\n")
		pad := strings.Repeat("p", 4000)
		c := &nethttp.Client{Timeout: 10 * time.Second}
		const n = 2000
		for i := 0; i < n; i++ {
			req, _ := nethttp.NewRequest("GET", fmt.Sprintf("http://%s/small.txt?i=%d", ts.addr, i), nil)
			req.Header.Set("X-Pad", pad)
			res, err := c.Do(req)
			if err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != 200 {
				t.Fatalf("request %d: %d", i, res.StatusCode)
			}
		}
		// The worker counts the drops about once a second.
		dropped := regexp.MustCompile(`(?m)^nproxy_log_lines_dropped_total [1-9]\d*$`)
		var body []byte
		servertest.WaitFor(t, "nproxy_log_lines_dropped_total above 0", func() bool {
			res, err := c.Get("http://" + ts.addr + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			body, _ = io.ReadAll(res.Body)
			res.Body.Close()
			return dropped.Match(body)
		})
	})
}
