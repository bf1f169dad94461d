package proxy

import (
	"regexp"
	"strings"
	"testing"

	"github.com/nproxy/nproxy/http"
	"github.com/nproxy/nproxy/vars"
)

// uriExchange parses "GET target" and returns its exchange with the
// captures of re on path.
func uriExchange(t testing.TB, target, path string, re *regexp.Regexp) *http.Exchange {
	t.Helper()
	in := []byte("GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n")
	var p http.Parser
	req := new(http.Request)
	req.Reset()
	if done, err := p.Parse(in, req); !done || err != nil {
		t.Fatal(err)
	}
	subj := []byte(path)
	return &http.Exchange{Req: req, Buf: in, Path: subj, Vars: &vars.Values{
		URI: subj, Args: req.Query.Bytes(in), Subject: subj, Match: re.FindSubmatchIndex(subj),
	}}
}

// TestProxyURI checks the request target of proxy_pass = http://b/URI in
// a regex location: captures and $uri path-escaped (they are decoded
// text), $args as sent, and the client's query only where the URI puts
// it.
func TestProxyURI(t *testing.T) {
	re := regexp.MustCompile(`^/api/v1/(?P<rest>.*)$`)
	tests := []struct {
		name, uri, target, path, want string
	}{
		{name: "capture and query", uri: "/$1$is_args$args", target: "/api/v1/users?id=7", path: "/api/v1/users", want: "GET /users?id=7 HTTP/1.1\r\n"},
		{name: "query dropped", uri: "/v2/$rest", target: "/api/v1/a?x", path: "/api/v1/a", want: "GET /v2/a HTTP/1.1\r\n"},
		{name: "escaped", uri: "/$1", target: "/api/v1/a%20b%3Fc%25", path: "/api/v1/a b?c%", want: "GET /a%20b%3Fc%25 HTTP/1.1\r\n"},
		{name: "uri", uri: "/x$uri", target: "/api/v1/%C3%A9", path: "/api/v1/\xc3\xa9", want: "GET /x/api/v1/%C3%A9 HTTP/1.1\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			uri, err := vars.ParseNamed(tt.uri, re.NumSubexp(), re.SubexpNames())
			if err != nil {
				t.Fatal(err)
			}
			x := uriExchange(t, tt.target, tt.path, re)
			head := string(appendRequestHead(nil, x, []byte(testPeer), testBackend, false, false, nil, &uri))
			if !strings.HasPrefix(head, tt.want) {
				t.Errorf("head %q, want it to start %q", head, tt.want)
			}
		})
	}
}
