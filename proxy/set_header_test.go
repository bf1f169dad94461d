//go:build linux

package proxy

import (
	"strings"
	"testing"

	"github.com/nproxy/nproxy/config"
	"github.com/nproxy/nproxy/http"
	"github.com/nproxy/nproxy/vars"
)

// setHeaders parses proxy_set_header values as the configuration does.
func setHeaders(t testing.TB, lines ...string) []config.SetHeader {
	t.Helper()
	text := "[server]\nlisten = 127.0.0.1:1\nproxy_pass = 127.0.0.1:2\n"
	for _, l := range lines {
		text += "proxy_set_header = " + l + "\n"
	}
	cfg, err := config.Parse("t.ini", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Servers[0].ProxySetHeaders
}

// TestSetHeaders checks the head sent upstream with proxy_set_header:
// the client's header and nproxy's own of a set name are replaced, an
// empty value removes, variables expand.
func TestSetHeaders(t *testing.T) {
	in := []byte("GET /a?b=1 HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\nX-Real-IP: 6.6.6.6\r\nX-Forwarded-For: 10.0.0.1\r\nUser-Agent: u\r\n\r\n")
	var p http.Parser
	req := new(http.Request)
	req.Reset()
	if done, err := p.Parse(in, req); !done || err != nil {
		t.Fatal(err)
	}
	vals := &vars.Values{Host: []byte("x"), RemoteAddr: []byte(testPeer), XFF: []byte("10.0.0.1"), Scheme: []byte("https")}
	x := &http.Exchange{Req: req, Buf: in, Vars: vals}
	set := setHeaders(t, "Host backend.internal", "X-Real-IP $remote_addr", `Accept-Encoding ""`,
		"X-Forwarded-For $proxy_add_x_forwarded_for", "X-Forwarded-Proto $scheme")
	got := string(appendRequestHead(nil, x, []byte(testPeer), testBackend, false, false, set, nil))
	want := "GET /a?b=1 HTTP/1.1\r\nHost: backend.internal\r\nUser-Agent: u\r\n" +
		"X-Forwarded-Host: x\r\nVia: 1.1 nproxy\r\n" +
		"X-Real-IP: " + testPeer + "\r\nX-Forwarded-For: 10.0.0.1, " + testPeer + "\r\nX-Forwarded-Proto: https\r\n\r\n"
	if got != want {
		t.Errorf("upstream head:\n%s\nwant:\n%s", strings.ReplaceAll(got, "\r\n", "\\r\\n\n"), strings.ReplaceAll(want, "\r\n", "\\r\\n\n"))
	}
}

// TestSetHeadersKeepSpaces checks that a request's value goes to the
// backend with its spaces, as nginx sends it: a User-Agent copied by
// $http_user_agent, and the client's X-Forwarded-For list extended by
// $proxy_add_x_forwarded_for (both came out with "%20" before).
func TestSetHeadersKeepSpaces(t *testing.T) {
	in := []byte("GET / HTTP/1.1\r\nHost: x\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\nX-Forwarded-For: 10.0.0.1, 10.0.0.2\r\n\r\n")
	var p http.Parser
	req := new(http.Request)
	req.Reset()
	if done, err := p.Parse(in, req); !done || err != nil {
		t.Fatal(err)
	}
	vals := &vars.Values{Host: []byte("x"), RemoteAddr: []byte(testPeer), XFF: []byte("10.0.0.1, 10.0.0.2"), Headers: headerSource{req, in}}
	x := &http.Exchange{Req: req, Buf: in, Vars: vals}
	set := setHeaders(t, "X-UA $http_user_agent", "X-Forwarded-For $proxy_add_x_forwarded_for")
	got := string(appendRequestHead(nil, x, []byte(testPeer), testBackend, false, false, set, nil))
	for _, want := range []string{
		"\r\nX-UA: Mozilla/5.0 (X11; Linux x86_64)\r\n",
		"\r\nX-Forwarded-For: 10.0.0.1, 10.0.0.2, " + testPeer + "\r\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("upstream head lacks %q:\n%s", want, got)
		}
	}
}

// headerSource is a request's header fields for $http_NAME.
type headerSource struct {
	req *http.Request
	buf []byte
}

func (h headerSource) Header(name string) ([]byte, bool) { return h.req.Header(h.buf, name) }
