//go:build linux

package modules_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/net/http2"

	"github.com/nproxy/nproxy/internal/servertest"
	"github.com/nproxy/nproxy/modules"
)

// The phases after the routing chain, end to end: response hooks on
// proxied responses and log hooks on every kind of exchange, over
// HTTP/1.1 and HTTP/2 (h2c), in each form, on each backend.

// protocols are the client sides the tests speak.
var protocols = []string{"http/1.1", "h2c"}

// clientFor returns a client speaking proto to srv (http2 = on there).
func clientFor(srv *servertest.Server, proto string) *http.Client {
	if proto == "http/1.1" {
		return srv.Client()
	}
	tr := &http2.Transport{
		AllowHTTP: true,
		DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}
	return &http.Client{Transport: tr, Timeout: servertest.Timeout}
}

// do sends a request with the header fields of hdr ("Name", "value", ...)
// and reads the response whole.
func do(t *testing.T, cl *http.Client, method, url string, hdr ...string) reply {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := cl.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: body: %v", method, url, err)
	}
	return reply{resp.StatusCode, resp.Header, string(b)}
}

// headerUpstream is a backend that answers 200 "upstream body" with
// fields a module keeps, changes and removes; under /err/, 404.
func headerUpstream(t *testing.T) string {
	t.Helper()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/err/") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("X-Keep", "upstream")
		w.Header().Set("X-Upstream-Secret", "s3cret")
		w.Header().Set("X-Untouched", "u")
		io.WriteString(w, "upstream body")
	}))
	t.Cleanup(up.Close)
	return strings.TrimPrefix(up.URL, "http://")
}

// TestProxiedResponseHooks checks that response hooks see and change a
// proxied response's head (set, remove and add fields, change the
// status), in location-then-server order, that a hook's failure answers
// 500 before anything of the upstream's response went out, and that the
// proxy's own errors and a backend's error replaced by an error page
// (proxy_intercept_errors) go through the hooks too.
func TestProxiedResponseHooks(t *testing.T) {
	for _, form := range forms {
		t.Run(form.String(), func(t *testing.T) {
			probe := modules.BuildModule(t, form, "testdata/probe")
			up, root := headerUpstream(t), siteRoot(t)
			keys := fmt.Sprintf(`http2 = on
module = %[1]s respadd=X-Order:server
static_root = %[4]s
[location /err/]
proxy_pass = %[2]s
proxy_intercept_errors = on
error_page = 404 /index.html
[location /api/]
module = %[1]s respset=X-Keep:module respdel=X-Upstream-Secret status=203 respadd=X-Order:location
proxy_pass = %[2]s
[location /down/]
proxy_pass = %[3]s
`, probe, up, closedPort(t), root)
			servertest.ForEachBackend(t, func(t *testing.T, backend string) {
				srv := servertest.Start(t, backend, "", keys)
				for _, proto := range protocols {
					cl := clientFor(srv, proto)
					for i := 0; i < 2; i++ { // twice: the connection goes on after the first
						r := do(t, cl, "GET", srv.URL+"/api/a")
						if r.status != 203 || r.body != "upstream body" || r.header.Get("X-Keep") != "module" ||
							r.header.Get("X-Upstream-Secret") != "" || r.header.Get("X-Untouched") != "u" ||
							r.header.Get("Content-Type") != "text/plain" ||
							strings.Join(r.header.Values("X-Order"), ",") != "location,server" {
							t.Errorf("%s: proxied: %d %q %v", proto, r.status, r.body, r.header)
						}
					}
					r := do(t, cl, "HEAD", srv.URL+"/api/a")
					if r.status != 203 || r.header.Get("X-Keep") != "module" {
						t.Errorf("%s: HEAD proxied: %d %v", proto, r.status, r.header)
					}
					r = do(t, cl, "GET", srv.URL+"/api/a", "X-Probe", "respfail")
					if r.status != 500 || strings.Contains(r.body, "upstream body") || r.header.Get("X-Keep") != "" {
						t.Errorf("%s: failing hook: %d %q %v", proto, r.status, r.body, r.header)
					}
					r = do(t, cl, "GET", srv.URL+"/api/a")
					if r.status != 203 || r.body != "upstream body" {
						t.Errorf("%s: after a failing hook: %d %q", proto, r.status, r.body)
					}
					r = do(t, cl, "GET", srv.URL+"/down/")
					if r.status != 502 || r.header.Get("X-Order") != "server" {
						t.Errorf("%s: the proxy's 502: %d %v", proto, r.status, r.header)
					}
					r = do(t, cl, "GET", srv.URL+"/err/x")
					if r.status != 404 || r.body != "<p>index</p>\n" || r.header.Get("X-Order") != "server" {
						t.Errorf("%s: an intercepted 404: %d %q %v", proto, r.status, r.body, r.header)
					}
				}
			})
		})
	}
}

// closedPort returns a loopback address that refuses connections for
// the whole test (see servertest.RefusedAddr: a closed listener's port
// can go to the next listener bound, the worker's own included).
func closedPort(t *testing.T) string { return servertest.RefusedAddr(t) }

// TestLogHook checks what a log hook sees of each kind of exchange: a
// static file, a 404, a module's own answer in a [location], a proxied
// response and the proxy's own error, over HTTP/1.1 and HTTP/2: method,
// path, status, body bytes, client address, and the request's fields as
// the request hooks left them (the path too: not the one strip_prefix
// left, nor the error page's).
func TestLogHook(t *testing.T) {
	for _, form := range forms {
		t.Run(form.String(), func(t *testing.T) {
			probe := modules.BuildModule(t, form, "testdata/probe")
			upstream, root := echoUpstream(t), siteRoot(t)
			if err := os.WriteFile(filepath.Join(root, "404.html"), []byte("no such page\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			keys := fmt.Sprintf(`http2 = on
module = %[1]s reqset=X-Probe-Log:set-by-module
static_root = %[2]s
error_page = 404 /404.html
[location /api/]
proxy_pass = %[3]s
[location /tiny/]
proxy_pass = %[3]s
strip_prefix = on
[location /down/]
proxy_pass = %[4]s
[location = /teapot]
module = %[1]s answer=418:tea
`, probe, root, upstream, closedPort(t))
			servertest.ForEachBackend(t, func(t *testing.T, backend string) {
				srv := servertest.Start(t, backend, "", keys)
				for _, proto := range protocols {
					cl := clientFor(srv, proto)
					var want []string
					for _, req := range []struct {
						method, path string
						status       int
					}{
						{"GET", "/index.html", 200},
						{"HEAD", "/index.html", 200},
						{"GET", "/missing", 404},
						{"GET", "/teapot", 418},
						{"GET", "/api/x", 200},
						{"GET", "/tiny/x", 200},
						{"GET", "/down/", 502},
					} {
						r := do(t, cl, req.method, srv.URL+req.path)
						if r.status != req.status {
							t.Errorf("%s %s %s: %d, want %d", proto, req.method, req.path, r.status, req.status)
						}
						want = append(want, fmt.Sprintf("%s %s %d %d 127.0.0.1 set-by-module", req.method, req.path, req.status, len(r.body)))
					}
					r := do(t, cl, "GET", srv.URL+"/", "X-Probe", "lastlog")
					var got []string
					for _, line := range strings.Split(r.body, "\n") {
						if !strings.HasPrefix(line, "GET / ") { // an earlier lastlog's own exchange
							got = append(got, line)
						}
					}
					if r.status != 200 || strings.Join(got, "\n") != strings.Join(want, "\n") {
						t.Errorf("%s: the log hook saw\n%s\nwant\n%s", proto, r.body, strings.Join(want, "\n"))
					}
				}
			})
		})
	}
}

// TestRequestIDInAccessLog checks that a request field a module sets is
// the access log's $http_NAME: the requestid example's X-Request-ID, the
// same the response echoes, on static and proxied exchanges, over
// HTTP/1.1 and HTTP/2, in each form and on each backend.
func TestRequestIDInAccessLog(t *testing.T) {
	for _, form := range forms {
		t.Run(form.String(), func(t *testing.T) {
			rid := modules.BuildModule(t, form, "examples/requestid")
			upstream, root := echoUpstream(t), siteRoot(t)
			servertest.ForEachBackend(t, func(t *testing.T, backend string) {
				logPath := filepath.Join(t.TempDir(), "access.log")
				srv := servertest.Start(t, backend, `log_format = ids $request_uri $status id=$http_x_request_id`+"\n",
					fmt.Sprintf("http2 = on\naccess_log = %s ids\nmodule = %s\nstatic_root = %s\n[location /api/]\nproxy_pass = %s\n",
						logPath, rid, root, upstream))
				var want []string
				n := 0
				for _, proto := range protocols {
					cl := clientFor(srv, proto)
					for _, path := range []string{"/index.html", "/missing", "/api/x"} {
						n++
						uri := fmt.Sprintf("%s?n=%d", path, n)
						r := do(t, cl, "GET", srv.URL+uri)
						id := r.header.Get("X-Request-Id")
						if !requestID.MatchString(id) {
							t.Fatalf("%s %s: X-Request-Id %q", proto, uri, id)
						}
						want = append(want, fmt.Sprintf("%s %d id=%s", uri, r.status, id))
					}
					// The client's own ID is kept, and logged.
					n++
					uri := fmt.Sprintf("/api/own?n=%d", n)
					r := do(t, cl, "GET", srv.URL+uri, "X-Request-Id", "client-"+proto)
					if r.header.Get("X-Request-Id") != "client-"+proto {
						t.Errorf("%s: the client's ID came back as %q", proto, r.header.Get("X-Request-Id"))
					}
					want = append(want, fmt.Sprintf("%s 200 id=client-%s", uri, proto))
				}
				// Lines are written in batches, at least once a second.
				var got string
				servertest.WaitFor(t, "the access log lines", func() bool {
					b, _ := os.ReadFile(logPath)
					got = string(b)
					return strings.Count(got, "\n") >= len(want)
				})
				for _, line := range want {
					if !strings.Contains(got, line+"\n") {
						t.Errorf("no line %q in the access log:\n%s", line, got)
					}
				}
			})
		})
	}
}

// TestStreamedListingHooks checks that the response and log hooks see a
// directory listing long enough to be streamed (a step that takes the
// exchange over, as the proxy does, without a backend), over HTTP/1.1 and
// HTTP/2, and that a failing response hook answers 500 instead.
func TestStreamedListingHooks(t *testing.T) {
	probe := modules.BuildModule(t, modules.WASM, "testdata/probe")
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "many"), 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range 1100 { // past the 1000 entries a listing answers at once
		if err := os.WriteFile(filepath.Join(root, "many", fmt.Sprintf("f%04d", i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	servertest.ForEachBackend(t, func(t *testing.T, backend string) {
		srv := servertest.Start(t, backend, "", fmt.Sprintf("http2 = on\nmodule = %s respadd=X-Listing:1\nstatic_root = %s\nautoindex = on\n", probe, root))
		for _, proto := range protocols {
			cl := clientFor(srv, proto)
			r := do(t, cl, "GET", srv.URL+"/many/")
			if r.status != 200 || !strings.Contains(r.body, "f1099") || r.header.Get("X-Listing") != "1" {
				t.Fatalf("%s: listing %d, %d bytes, %v", proto, r.status, len(r.body), r.header)
			}
			r = do(t, cl, "GET", srv.URL+"/many/", "X-Probe", "respfail")
			if r.status != 500 || strings.Contains(r.body, "f1099") {
				t.Errorf("%s: a failing hook on a listing: %d, %d bytes", proto, r.status, len(r.body))
			}
			r = do(t, cl, "GET", srv.URL+"/", "X-Probe", "lastlog")
			if !strings.Contains(r.body, "GET /many/ 200 ") || !strings.Contains(r.body, "GET /many/ 500 ") {
				t.Errorf("%s: the log hook saw\n%s", proto, r.body)
			}
		}
	})
}
