//go:build linux

package modules_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nproxy/nproxy/internal/servertest"
	"github.com/nproxy/nproxy/modules"
)

// End-to-end: modules built from the examples and testdata, loaded by
// the configuration of a worker running in this process, on every
// reactor backend, answering real requests.

// forms are the forms every example is tested in.
var forms = []modules.Kind{modules.WASM, modules.Native}

// echoUpstream is a backend that answers with what it received: the path,
// then one "Name: value" line per header field, sorted.
func echoUpstream(t *testing.T) string {
	t.Helper()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lines := []string{"path: " + r.URL.Path}
		for name, values := range r.Header {
			for _, v := range values {
				lines = append(lines, name+": "+v)
			}
		}
		sort.Strings(lines[1:])
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, strings.Join(lines, "\n")+"\n")
	}))
	t.Cleanup(up.Close)
	return strings.TrimPrefix(up.URL, "http://")
}

// siteRoot is a directory with an index.html.
func siteRoot(t testing.TB) string {
	t.Helper()
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "index.html"), []byte("<p>index</p>\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

// reply is a response read whole.
type reply struct {
	status int
	header http.Header
	body   string
}

// get sends GET url with the header fields of hdr ("Name", "value", ...).
func get(t *testing.T, srv *servertest.Server, path string, hdr ...string) reply {
	t.Helper()
	req, err := http.NewRequest("GET", srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: body: %v", path, err)
	}
	return reply{resp.StatusCode, resp.Header, string(b)}
}

var requestID = regexp.MustCompile(`^[0-9a-f]{32}$`)

// TestExamples runs the three examples together, in each form, on each
// backend: secheaders (global), authcheck and requestid (the [server]'s),
// in front of static files and, in a [location], a reverse proxy.
func TestExamples(t *testing.T) {
	for _, form := range forms {
		t.Run(form.String(), func(t *testing.T) {
			sec := modules.BuildModule(t, form, "examples/secheaders")
			auth := modules.BuildModule(t, form, "examples/authcheck")
			rid := modules.BuildModule(t, form, "examples/requestid")
			upstream, root := echoUpstream(t), siteRoot(t)
			servertest.ForEachBackend(t, func(t *testing.T, backend string) {
				srv := servertest.Start(t, backend, "module = "+sec+"\n", fmt.Sprintf(
					"module = %s key=k1 key=k2\nmodule = %s\nstatic_root = %s\n[location /api/]\nproxy_pass = %s\n",
					auth, rid, root, upstream))

				r := get(t, srv, "/index.html")
				if r.status != 401 || r.body != "missing X-Api-Key\n" || r.header.Get("X-Frame-Options") != "DENY" {
					t.Errorf("no key: %d %q %v", r.status, r.body, r.header)
				}
				r = get(t, srv, "/index.html", "X-Api-Key", "nope")
				if r.status != 403 || r.header.Get("X-Content-Type-Options") != "nosniff" {
					t.Errorf("unknown key: %d %v", r.status, r.header)
				}
				r = get(t, srv, "/index.html", "X-Api-Key", "k2")
				if r.status != 200 || r.body != "<p>index</p>\n" || r.header.Get("Referrer-Policy") != "no-referrer" ||
					!requestID.MatchString(r.header.Get("X-Request-Id")) {
					t.Errorf("static file: %d %q %v", r.status, r.body, r.header)
				}
				r = get(t, srv, "/api/x", "X-Api-Key", "k1", "X-Request-Id", "client-id-1")
				if r.status != 200 || !strings.Contains(r.body, "X-Request-Id: client-id-1\n") || strings.Contains(r.body, "X-Api-Key") ||
					r.header.Get("X-Request-Id") != "client-id-1" || r.header.Get("X-Frame-Options") != "DENY" {
					t.Errorf("proxied, the client's ID: %d %q %v", r.status, r.body, r.header)
				}
				r = get(t, srv, "/api/y", "X-Api-Key", "k1")
				if m := regexp.MustCompile(`X-Request-Id: (\S+)`).FindStringSubmatch(r.body); r.status != 200 || m == nil || !requestID.MatchString(m[1]) ||
					r.header.Get("X-Request-Id") != m[1] {
					t.Errorf("proxied, a new ID (sent upstream and echoed): %d %q %v", r.status, r.body, r.header)
				}
			})
		})
	}
}

// TestProbeChanges checks, in each form, the request's view and the
// changes a module makes: request fields upstream, the path, response
// fields, local answers and ordering across global, [server] and
// [location] modules.
func TestProbeChanges(t *testing.T) {
	for _, form := range forms {
		t.Run(form.String(), func(t *testing.T) {
			probe := modules.BuildModule(t, form, "testdata/probe")
			upstream, root := echoUpstream(t), siteRoot(t)
			globals := "module = " + probe + " respadd=X-Order:global\n"
			keys := fmt.Sprintf(`module = %[1]s reqset=X-From:probe reqdel=X-Secret respadd=X-Order:server
static_root = %[2]s
[location /api/]
proxy_pass = %[3]s
[location /old/]
module = %[1]s path=/index.html respadd=X-Order:location
[location = /teapot]
module = %[1]s answer=418:short%%20and%%20stout
`, probe, root, upstream)
			servertest.ForEachBackend(t, func(t *testing.T, backend string) {
				srv := servertest.Start(t, backend, globals, keys)

				r := get(t, srv, "/api/a?x=1", "X-Secret", "s", "X-Other", "o")
				if r.status != 200 || !strings.Contains(r.body, "path: /api/a\n") || !strings.Contains(r.body, "X-From: probe\n") ||
					!strings.Contains(r.body, "X-Other: o\n") || strings.Contains(r.body, "X-Secret") {
					t.Errorf("upstream saw: %d %q", r.status, r.body)
				}

				r = get(t, srv, "/old/anything")
				if r.status != 200 || r.body != "<p>index</p>\n" {
					t.Errorf("path changed by a [location] module: %d %q", r.status, r.body)
				}
				// Request hooks ran global, server, location; response
				// hooks run the other way round.
				if got := strings.Join(r.header.Values("X-Order"), ","); got != "location,server,global" {
					t.Errorf("X-Order %q", got)
				}

				r = get(t, srv, "/teapot")
				if r.status != 418 || r.body != "short%20and%20stout" || r.header.Get("Content-Type") != "text/plain" {
					t.Errorf("local answer: %d %q %v", r.status, r.body, r.header)
				}

				r = get(t, srv, "/index.html?q=1", "X-Probe", "echo", "X-Multi", "m")
				for _, want := range []string{
					"method: GET\n", "path: /index.html\n", "query: q=1\n", "host: " + srv.Addr + "\n",
					"client: 127.0.0.1\n", "header: X-Multi=m\n",
					"set content-length: hook: header managed by nproxy\n",
					"set bad name: hook: invalid value\n", "set bad value: hook: invalid value\n",
					"path ..: hook: invalid value\n",
				} {
					if !strings.Contains(r.body, want) {
						t.Errorf("echo: no %q in %q", want, r.body)
					}
				}
				if r.header.Get("X-Second-Respond") != "hook: not allowed in this phase" {
					t.Errorf("second Respond: %v", r.header)
				}
			})
		})
	}
}

// TestProbeFailures checks that a module's failures answer 500 and leave
// the worker and the module serving: an error and a panic in both forms;
// a trap, an endless loop and a memory hog in a WebAssembly module (a
// native module has no bounds but panics).
func TestProbeFailures(t *testing.T) {
	for _, form := range forms {
		t.Run(form.String(), func(t *testing.T) {
			probe := modules.BuildModule(t, form, "testdata/probe")
			root := siteRoot(t)
			failures := []string{"fail", "trap"}
			if form == modules.WASM {
				failures = append(failures, "loop", "hog")
			}
			servertest.ForEachBackend(t, func(t *testing.T, backend string) {
				srv := servertest.Start(t, backend, "", fmt.Sprintf("module = %s respadd=X-Probe-Out:1\nstatic_root = %s\n", probe, root))
				for _, mode := range failures {
					start := time.Now()
					r := get(t, srv, "/index.html", "X-Probe", mode)
					if r.status != 500 {
						t.Errorf("%s: %d %q, want 500", mode, r.status, r.body)
					}
					if took := time.Since(start); took > servertest.Timeout/2 {
						t.Errorf("%s: answered after %v", mode, took)
					}
					r = get(t, srv, "/index.html")
					if r.status != 200 || r.header.Get("X-Probe-Out") != "1" {
						t.Errorf("after %s: %d %v, want 200 with the module's header", mode, r.status, r.header)
					}
				}
			})
		})
	}
}
