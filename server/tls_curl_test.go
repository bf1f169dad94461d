//go:build linux

package server_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// curlTLS runs curl over HTTP/1.1 against ts with ts's CA, both test
// names resolved to ts's address, and returns what -w wrote, the body of
// each URL (one -o per URL) and curl's verbose log.
func curlTLS(t *testing.T, ts *tlsServer, args []string, urls ...string) (w string, bodies [][]byte, verbose string) {
	t.Helper()
	_, port, _ := strings.Cut(ts.addr, ":")
	all := []string{"-sS", "-v", "--http1.1", "--max-time", "20", "--cacert", ts.caFile,
		"--resolve", "a.test:" + port + ":127.0.0.1", "--resolve", "b.test:" + port + ":127.0.0.1",
		"-w", "%{http_version} %{http_code};"}
	all = append(all, args...)
	dir := t.TempDir()
	var outs []string
	for i, u := range urls {
		out := filepath.Join(dir, "body"+string(rune('0'+i)))
		outs = append(outs, out)
		all = append(all, "-o", out, "https://"+strings.Replace(u, "PORT", port, 1))
	}
	cmd := exec.Command("curl", all...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("curl %v: %v\n%s", urls, err, stderr.String())
	}
	for _, out := range outs {
		b, _ := os.ReadFile(out)
		bodies = append(bodies, b)
	}
	return stdout.String(), bodies, stderr.String()
}

// TestTLSCurlHTTP1 runs curl --http1.1 over TLS, verifying the
// certificate against the test CA: a static file and a large one on one
// reused keep-alive connection, a Range, a proxied request, SNI choosing
// between two [server] blocks, and 421 when Host names the other block.
// Skipped where curl is missing.
func TestTLSCurlHTTP1(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("no curl")
	}
	forEachBackend(t, func(t *testing.T, backend string) {
		up := startH2Upstream(t)
		ts := startTLS(t, backend, []tlsSite{
			{names: "a.test", extra: "[location /api/]\nproxy_pass = " + up.addr + "\n"},
			{names: "b.test"},
		})
		big := bigBody()

		w, bodies, verbose := curlTLS(t, ts, nil, "a.test:PORT/", "a.test:PORT/big.bin")
		if w != "1.1 200;1.1 200;" || string(bodies[0]) != "site 0\n" || !bytes.Equal(bodies[1], big) {
			t.Errorf("static on a.test: %q, %q and %d bytes (want 1.1 200 twice, site 0, %d bytes)", w, bodies[0], len(bodies[1]), len(big))
		}
		if !strings.Contains(verbose, "Re-using existing connection") {
			t.Errorf("the second URL did not reuse the keep-alive connection:\n%s", verbose)
		}
		if !strings.Contains(verbose, "ALPN: server accepted http/1.1") {
			t.Errorf("ALPN did not settle on http/1.1:\n%s", verbose)
		}

		cases := []struct {
			name string
			args []string
			url  string
			want string // -w's output
			body []byte
		}{
			{name: "range", args: []string{"-r", "100-199"}, url: "a.test:PORT/big.bin", want: "1.1 206;", body: big[100:200]},
			{name: "proxied", url: "a.test:PORT/api/small", want: "1.1 200;", body: []byte("hello")},
			{name: "SNI b.test", url: "b.test:PORT/", want: "1.1 200;", body: []byte("site 1\n")},
			{name: "SNI b.test, Host a.test", args: []string{"-H", "Host: a.test"}, url: "b.test:PORT/", want: "1.1 421;"},
			{name: "SNI a.test, Host b.test", args: []string{"-H", "Host: b.test"}, url: "a.test:PORT/", want: "1.1 421;"},
		}
		for _, tc := range cases {
			w, bodies, verbose := curlTLS(t, ts, tc.args, tc.url)
			if w != tc.want || (tc.body != nil && !bytes.Equal(bodies[0], tc.body)) {
				t.Errorf("%s: %q, body %q; want %q, %q\n%s", tc.name, w, bodies[0], tc.want, tc.body, verbose)
			}
		}
	})
}
