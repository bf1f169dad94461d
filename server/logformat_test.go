//go:build linux

package server_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	nethttp "net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/nproxy/nproxy/internal/servertest"
)

// newEchoIDBackend starts an HTTP server that answers with the
// X-Request-Id it received, and records it.
func newEchoIDBackend(t *testing.T) (addr string, got func() []string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var ids []string
	srv := &nethttp.Server{Handler: nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		id := r.Header.Get("X-Request-Id")
		mu.Lock()
		ids = append(ids, id)
		mu.Unlock()
		w.Header().Set("Content-Length", fmt.Sprint(len(id)))
		io.WriteString(w, id)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), ids...)
	}
}

// readLines waits until path holds n lines and returns them.
func readLines(t *testing.T, path string, n int) []string {
	t.Helper()
	var lines []string
	waitFor(t, fmt.Sprintf("%d lines in %s", n, path), func() bool {
		b, _ := os.ReadFile(path)
		lines = strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		return len(b) > 0 && len(lines) >= n
	})
	return lines
}

// TestLogFormats runs a custom log_format and the built-in json format on
// both backends: static, proxied (to a backend that is refused first, so
// two attempts show) and failed requests, with $request_id sent upstream
// by proxy_set_header and logged the same.
func TestLogFormats(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		echo, ids := newEchoIDBackend(t)
		refused := servertest.RefusedAddr(t)
		dir := t.TempDir()
		www := filepath.Join(dir, "www")
		os.Mkdir(www, 0o755)
		writeTree(t, www)
		custom, js := filepath.Join(dir, "custom.log"), filepath.Join(dir, "json.log")
		globals := `log_format = main '$request_method $uri $args $status $body_bytes_sent $bytes_sent $request_id "$http_x_trace" $upstream_addr $upstream_status $upstream_connect_time $upstream_response_time $request_time $host $server_name $scheme $server_protocol $remote_addr $remote_user $request_uri'` + "\n"
		ts := startServerGlobals(t, backend, globals, "listen = {{addr}}\nserver_name = site.example\nstatic_root = "+www+"\n"+
			"access_log = "+custom+" main\n"+
			"[server]\nlisten = {{addr}}\nserver_name = api.example\nproxy_pass = "+refused+", "+echo+"\n"+
			"proxy_set_header = X-Request-Id $request_id\naccess_log = "+js+" json\n")
		ts.roundTrip(t, "GET /small.txt?a=1 HTTP/1.1\r\nHost: Site.Example:8080\r\nX-Trace: t\"1\r\n\r\n")
		res := ts.roundTrip(t, "GET /api/x HTTP/1.1\r\nHost: api.example\r\n\r\n")
		res2 := ts.roundTrip(t, "GET /api/y HTTP/1.0\r\nHost: api.example\r\nUser-Agent: ua \"q\"\\\r\n\r\n")
		ts.roundTrip(t, "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: zz\r\n\r\n")

		if res.status != 200 || res2.status != 200 {
			t.Fatalf("proxied: %d %d, want 200", res.status, res2.status)
		}
		lines := readLines(t, custom, 2)
		idRE := `[0-9a-f]{32}`
		for i, want := range []string{
			`^GET /small.txt a=1 200 1024 \d+ ` + idRE + ` "t\\x221" - - - - \d+\.\d{3} site.example site.example http HTTP/1.1 127.0.0.1 - /small.txt\?a=1$`,
			`^GET - - 400 \d+ \d+ ` + idRE + ` "-" - - - - \d+\.\d{3} x site.example http HTTP/1.1 127.0.0.1 - /$`,
		} {
			if i >= len(lines) || !regexp.MustCompile(want).MatchString(lines[i]) {
				t.Errorf("custom line %d:\n got %q\nwant %s", i, lines[i], want)
			}
		}
		// The 1024-byte body and its head: $bytes_sent is more.
		if f := strings.Fields(lines[0]); len(f) > 5 && f[5] <= "1024" && len(f[5]) <= 4 {
			t.Errorf("$bytes_sent %s not above the body's 1024", f[5])
		}

		jl := readLines(t, js, 2)
		sent := ids()
		if len(sent) != 2 {
			t.Fatalf("backend saw %d requests, want 2", len(sent))
		}
		for i, l := range jl {
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatalf("json line %d: %v\n%s", i, err, l)
			}
			id, _ := m["request_id"].(string)
			if !regexp.MustCompile("^"+idRE+"$").MatchString(id) || id != sent[i] {
				t.Errorf("json line %d: request_id %q, backend got X-Request-Id %q", i, id, sent[i])
			}
			// The first request tries the refused backend, then the
			// other; the second finds the refused one held down and
			// reuses the pooled connection (connect time 0).
			wantAddr, wantStatus, wantConnect := refused+", "+echo, "502, 200", `^-, \d+\.\d{3}$`
			if i == 1 {
				wantAddr, wantStatus, wantConnect = echo, "200", `^0\.000$`
			}
			if m["status"] != 200.0 || m["upstream_addr"] != wantAddr || m["upstream_status"] != wantStatus {
				t.Errorf("json line %d: status %v upstream %v %v", i, m["status"], m["upstream_addr"], m["upstream_status"])
			}
			if ct, _ := m["upstream_connect_time"].(string); !regexp.MustCompile(wantConnect).MatchString(ct) {
				t.Errorf("json line %d: upstream_connect_time %q", i, ct)
			}
			if m["body_bytes_sent"] != 32.0 || m["bytes_sent"].(float64) <= 32 {
				t.Errorf("json line %d: body %v bytes %v", i, m["body_bytes_sent"], m["bytes_sent"])
			}
		}
		if string(res.body) != sent[0] || string(res2.body) != sent[1] || sent[0] == sent[1] {
			t.Errorf("ids: answers %q %q, backend %v", res.body, res2.body, sent)
		}
		var m map[string]any
		json.Unmarshal([]byte(jl[1]), &m)
		if m["http_user_agent"] != `ua "q"\` || m["request"] != "GET /api/y HTTP/1.0" {
			t.Errorf("json escaping: user agent %q request %q", m["http_user_agent"], m["request"])
		}
	})
}

// TestAccessLogIf: access_log = PATH FORMAT if=$VAR logs only the
// requests whose variable is neither empty nor "0", on both backends.
func TestAccessLogIf(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		www := t.TempDir()
		writeTree(t, www)
		path := filepath.Join(t.TempDir(), "access.log")
		ts := startServer(t, backend, "static_root = "+www+"\naccess_log = "+path+" combined if=$http_x_log\n")
		for _, v := range []string{"1", "0", "", "last"} {
			h := ""
			if v != "" {
				h = "X-Log: " + v + "\r\n"
			}
			ts.roundTrip(t, "GET /small.txt?v="+v+" HTTP/1.1\r\nHost: x\r\n"+h+"\r\n")
		}
		// Lines are written in order: once the last is there, so is
		// every line before it that was logged.
		var lines []string
		waitFor(t, "the last request's line", func() bool {
			b, _ := os.ReadFile(path)
			lines = strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
			return strings.Contains(string(b), "v=last")
		})
		if len(lines) != 2 || !strings.Contains(lines[0], "GET /small.txt?v=1 ") {
			t.Errorf("lines:\n%s\nwant the requests with X-Log 1 and last only", strings.Join(lines, "\n"))
		}
	})
}
