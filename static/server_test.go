//go:build linux

package static_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nproxy/nproxy/internal/servertest"
)

// serverTree writes the tree the server tests share and returns its root:
// a root without index.html, hostile names, version-control and secret
// files, /.well-known/, a directory with an index, and big/ with
// bigEntries files (more than Serve answers in one piece).
func serverTree(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	files := map[string]string{
		"a.txt":                            "hello\n",
		"<b>&\"'.txt":                      "x",
		"Ünïcödé.txt":                      "x",
		".git/config":                      "[core]\n",
		".env":                             "SECRET=1\n",
		".htpasswd":                        "u:x\n",
		"sub/.htpasswd":                    "u:x\n",
		"sub/page.txt":                     "page\n",
		".well-known/acme-challenge/token": "token\n",
		"site/index.html":                  "<p>index</p>\n",
	}
	for name, data := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(root, "passwd-link")); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(root, "big")
	if err := os.Mkdir(big, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range bigEntries {
		if err := os.WriteFile(filepath.Join(big, bigName(i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// bigEntries is the size of big/: past the 1000 entries answered whole.
const bigEntries = 1500

func bigName(i int) string { return fmt.Sprintf("f%04d-%s.txt", i, strings.Repeat("x", i%40)) }

// get sends a request and returns the response with its body read.
func get(t *testing.T, srv *servertest.Server, path string, hdrs ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("GET", srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hdrs {
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Set(k, v)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s: body: %v", path, err)
	}
	return resp, string(body)
}

// names returns the link targets of an HTML listing, "../" excluded.
func names(page string) []string {
	var out []string
	for _, part := range strings.Split(page, "<a href=\"")[1:] {
		href, _, _ := strings.Cut(part, "\"")
		if href != "../" {
			out = append(out, href)
		}
	}
	return out
}

// TestListingServer lists directories through a running worker on both
// backends: the small root answered whole, big/ streamed chunked, both
// forms, validators, an index that wins, and the connection kept alive
// and in order after a streamed listing.
func TestListingServer(t *testing.T) {
	root := serverTree(t)
	var bigWant []string
	for i := range bigEntries {
		bigWant = append(bigWant, bigName(i))
	}
	slices.Sort(bigWant)
	servertest.ForEachBackend(t, func(t *testing.T, backend string) {
		srv := servertest.Start(t, backend, "", "static_root = "+root+"\nautoindex = on\nhidden_files = deny\n")

		resp, body := get(t, srv, "/")
		want := []string{".well-known/", "%3Cb%3E%26%22%27.txt", "a.txt", "big/", "site/", "sub/", "%C3%9Cn%C3%AFc%C3%B6d%C3%A9.txt"}
		if resp.StatusCode != 200 || resp.ContentLength != int64(len(body)) || !slices.Equal(names(body), want) {
			t.Errorf("/: status %d, length %d, entries %q; want %q", resp.StatusCode, resp.ContentLength, names(body), want)
		}
		if !strings.Contains(body, ">&lt;b&gt;&amp;&#34;&#39;.txt</a>") || strings.Contains(body, "<b>") {
			t.Errorf("/: a name is not escaped:\n%s", body)
		}

		resp, body = get(t, srv, "/", "If-None-Match: "+resp.Header.Get("ETag"))
		if resp.StatusCode != 304 || body != "" {
			t.Errorf("/ If-None-Match: status %d", resp.StatusCode)
		}

		resp, body = get(t, srv, "/sub/?format=json")
		var entries []map[string]any
		if err := json.Unmarshal([]byte(body), &entries); err != nil || resp.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("/sub/?format=json: %v, Content-Type %q:\n%s", err, resp.Header.Get("Content-Type"), body)
		}
		if len(entries) != 1 || entries[0]["name"] != "page.txt" || entries[0]["type"] != "file" || entries[0]["size"] != 5.0 {
			t.Errorf("/sub/ JSON: %v", entries)
		}
		if !strings.Contains(body, `"mtime":"`) {
			t.Errorf("/sub/ JSON has no mtime: %s", body)
		}

		if resp, body = get(t, srv, "/site/"); resp.StatusCode != 200 || body != "<p>index</p>\n" {
			t.Errorf("/site/: status %d body %q, want its index.html", resp.StatusCode, body)
		}

		resp, body = get(t, srv, "/big/")
		if resp.StatusCode != 200 || !slices.Equal(resp.TransferEncoding, []string{"chunked"}) {
			t.Fatalf("/big/: status %d, Transfer-Encoding %q; want 200, chunked", resp.StatusCode, resp.TransferEncoding)
		}
		if got := names(body); !slices.Equal(got, bigWant) {
			t.Errorf("/big/: %d entries, want %d in order", len(got), len(bigWant))
		}
		etag := resp.Header.Get("ETag")
		if resp, _ := get(t, srv, "/big/", "If-None-Match: "+etag); resp.StatusCode != 304 {
			t.Errorf("/big/ If-None-Match: status %d", resp.StatusCode)
		}
		resp, body = get(t, srv, "/big/", "Accept: application/json")
		if err := json.Unmarshal([]byte(body), &entries); err != nil || len(entries) != bigEntries {
			t.Errorf("/big/ JSON: %d entries, %v", len(entries), err)
		}

		// Pipelined after a streamed listing: answered, in order, on the
		// same connection; then HTTP/1.0, close-delimited.
		c, err := net.DialTimeout("tcp", srv.Addr, servertest.Timeout)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(servertest.Timeout))
		fmt.Fprint(c, "GET /big/ HTTP/1.1\r\nHost: x\r\n\r\nHEAD /big/ HTTP/1.1\r\nHost: x\r\n\r\nGET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
		r := bufio.NewReader(c)
		for _, want := range []struct {
			method string
			body   string // "" for any
		}{{"GET", ""}, {"HEAD", ""}, {"GET", "hello\n"}} {
			resp, err := http.ReadResponse(r, &http.Request{Method: want.method})
			if err != nil {
				t.Fatalf("pipelined %s: %v", want.method, err)
			}
			b, err := io.ReadAll(resp.Body)
			if err != nil || resp.StatusCode != 200 || want.body != "" && string(b) != want.body || want.method == "HEAD" && len(b) != 0 {
				t.Errorf("pipelined %s: status %d, %d body bytes, %v", want.method, resp.StatusCode, len(b), err)
			}
		}
		c10, err := net.DialTimeout("tcp", srv.Addr, servertest.Timeout)
		if err != nil {
			t.Fatal(err)
		}
		defer c10.Close()
		c10.SetDeadline(time.Now().Add(servertest.Timeout))
		fmt.Fprint(c10, "GET /big/ HTTP/1.0\r\n\r\n")
		raw, err := io.ReadAll(c10) // ends when the server closes
		head, page, _ := strings.Cut(string(raw), "\r\n\r\n")
		if err != nil || strings.Contains(head, "Transfer-Encoding") || !strings.HasSuffix(page, "</html>\n") || len(names(page)) != bigEntries {
			t.Errorf("HTTP/1.0: %v, head:\n%s", err, head)
		}
	})
}

// TestHiddenFilesServer requests dot paths through a running worker on
// both backends, with hidden_files = deny and allow.
func TestHiddenFilesServer(t *testing.T) {
	root := serverTree(t)
	tests := []struct {
		path        string
		deny, allow int
	}{
		{"/.git/config", 404, 200},
		{"/.env", 404, 200},
		{"/.htpasswd", 404, 200},
		{"/sub/.htpasswd", 404, 200},
		{"/%2egit/config", 404, 200},
		{"/.well-known/acme-challenge/token", 200, 200},
		{"/a.txt", 200, 200},
		{"/passwd-link", 404, 404}, // leaves the root
	}
	servertest.ForEachBackend(t, func(t *testing.T, backend string) {
		for _, mode := range []string{"deny", "allow"} {
			srv := servertest.Start(t, backend, "", "static_root = "+root+"\nhidden_files = "+mode+"\n")
			for _, tt := range tests {
				want := tt.allow
				if mode == "deny" {
					want = tt.deny
				}
				if resp, _ := get(t, srv, tt.path); resp.StatusCode != want {
					t.Errorf("%s %s: status %d, want %d", mode, tt.path, resp.StatusCode, want)
				}
			}
		}
	})
}

// TestListingLocation checks autoindex and hidden_files set per
// [location], through a running worker on both backends: the location
// lists and hides, its [server] does neither.
func TestListingLocation(t *testing.T) {
	root := serverTree(t)
	servertest.ForEachBackend(t, func(t *testing.T, backend string) {
		srv := servertest.Start(t, backend, "", "static_root = "+root+"\n"+
			"[location /files/]\nalias = "+root+"/\nautoindex = on\nhidden_files = deny\n")
		resp, body := get(t, srv, "/files/sub/")
		if resp.StatusCode != 200 || !strings.Contains(body, "<title>Index of /files/sub/</title>") || !slices.Equal(names(body), []string{"page.txt"}) {
			t.Errorf("/files/sub/: status %d, entries %q:\n%s", resp.StatusCode, names(body), body)
		}
		for path, want := range map[string]int{
			"/files/.env": 404, "/files/sub/.htpasswd": 404, "/files/a.txt": 200,
			"/sub/": 403, "/.env": 200, "/sub/.htpasswd": 200,
		} {
			if resp, _ := get(t, srv, path); resp.StatusCode != want {
				t.Errorf("%s: status %d, want %d", path, resp.StatusCode, want)
			}
		}
	})
}
