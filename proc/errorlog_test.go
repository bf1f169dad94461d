//go:build linux

package proc_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestUpstreamErrorLog: a request whose backend refuses the connection
// is logged once, with the backend's address, the reason and the
// client's address (nginx's ", client: ADDR"), on both backends. (The
// error log's rate limit is logging's TestRateLimit.)
func TestUpstreamErrorLog(t *testing.T) {
	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			refused := ln.Addr().String()
			ln.Close()
			in := newInstance(t, 1)
			conf := fmt.Sprintf("worker_processes = 1\nbackend = %s\npid_file = %s\n[server]\nlisten = %s\nproxy_pass = %s\n",
				backend, in.pidFile, in.addr, refused)
			if err := os.WriteFile(in.conf, []byte(conf), 0o644); err != nil {
				t.Fatal(err)
			}
			in.run("-c", in.conf)
			c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
			// The master answers once its worker is up: poll, bounded.
			var res *http.Response
			deadline := time.Now().Add(10 * time.Second)
			for {
				res, err = c.Get("http://" + in.addr + "/x")
				if err == nil || time.Now().After(deadline) {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != 502 {
				t.Fatalf("status %d, want 502", res.StatusCode)
			}
			want := regexp.MustCompile(`\[error\] \d+: proxy: connect to ` + regexp.QuoteMeta(refused) + `: .*connection refused, client: 127\.0\.0\.1\n`)
			deadline = time.Now().Add(5 * time.Second)
			for !want.MatchString(in.log()) {
				if time.Now().After(deadline) {
					t.Fatalf("no upstream error line with the client's address:\n%s", in.log())
				}
				time.Sleep(20 * time.Millisecond)
			}
			if n := strings.Count(in.log(), "connect to "+refused); n != 1 {
				t.Errorf("%d lines about the refused connect, want 1:\n%s", n, in.log())
			}
		})
	}
}
