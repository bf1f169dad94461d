//go:build linux

package proxy

import (
	"bytes"
	"strings"
	"testing"

	"github.com/nproxy/nproxy/http"
)

// The request head nproxy sends upstream, for the findings of issue 9
// that it answers: the framing and Host are always nproxy's own (2, 9,
// 13), and header names with '_' are dropped unless allowed (10).

const (
	testPeer    = "192.0.2.1"
	testBackend = "10.0.0.9:8080"
	// forwardedTail is what follows the client's headers for a request
	// whose Host is x.
	forwardedTail = "X-Forwarded-For: " + testPeer + "\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Host: x\r\nVia: 1.1 nproxy\r\n"
)

// upstreamHeadCase is a client request and the exact head sent upstream.
type upstreamHeadCase struct {
	name        string
	in          string // the client's request head (and body, ignored)
	rewritten   string // if set, a rewrite rule's new path
	underscores bool   // underscores_in_headers on
	want        string
}

// upstreamHead parses in and returns the head appendRequestHead makes of it.
func upstreamHead(t testing.TB, in []byte, rewritten string, underscores bool) (string, *http.Request) {
	t.Helper()
	var p http.Parser
	req := new(http.Request)
	req.Reset()
	if done, err := p.Parse(in, req); !done || err != nil {
		t.Fatalf("parse %q: done=%v err=%v", in, done, err)
	}
	x := &http.Exchange{Req: req, Buf: in}
	if rewritten != "" {
		x.Path, x.Rewritten = []byte(rewritten), true
	}
	return string(appendRequestHead(nil, x, []byte(testPeer), testBackend, underscores, false, nil, nil)), req
}

func runUpstreamHeadCases(t *testing.T, cases []upstreamHeadCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, _ := upstreamHead(t, []byte(tc.in), tc.rewritten, tc.underscores)
			if got != tc.want {
				t.Errorf("upstream head:\n%s\nwant:\n%s", strings.ReplaceAll(got, "\r\n", "\\r\\n\n"),
					strings.ReplaceAll(tc.want, "\r\n", "\\r\\n\n"))
			}
		})
	}
}

func TestFinding2UpstreamFramingIsOurs(t *testing.T) {
	runUpstreamHeadCases(t, []upstreamHeadCase{
		{
			name: "Connection: content-length cannot drop the length",
			in:   "POST /a HTTP/1.1\r\nHost: x\r\nConnection: content-length\r\nContent-Length: 5\r\n\r\nhello",
			want: "POST /a HTTP/1.1\r\nHost: x\r\n" + forwardedTail + "Content-Length: 5\r\n\r\n",
		},
		{
			name: "Connection: transfer-encoding cannot drop chunked",
			in:   "POST /a HTTP/1.1\r\nHost: x\r\nConnection: transfer-encoding\r\nTransfer-Encoding: chunked\r\n\r\n",
			want: "POST /a HTTP/1.1\r\nHost: x\r\n" + forwardedTail + "Transfer-Encoding: chunked\r\n\r\n",
		},
		{
			name: "Connection: trailer cannot drop Trailer of a chunked body",
			in:   "POST /a HTTP/1.1\r\nHost: x\r\nConnection: trailer, connection\r\nTrailer: X-Sum\r\nTransfer-Encoding: chunked\r\n\r\n",
			want: "POST /a HTTP/1.1\r\nHost: x\r\nTrailer: X-Sum\r\n" + forwardedTail + "Transfer-Encoding: chunked\r\n\r\n",
		},
		{
			name: "Trailer without a chunked body is dropped",
			in:   "POST /a HTTP/1.1\r\nHost: x\r\nTrailer: X-Sum\r\nContent-Length: 1\r\n\r\n",
			want: "POST /a HTTP/1.1\r\nHost: x\r\n" + forwardedTail + "Content-Length: 1\r\n\r\n",
		},
		{
			name: "Connection: upgrade, connection keeps the upgrade",
			in:   "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: upgrade, connection, upgrade\r\nUpgrade: websocket\r\n\r\n",
			want: "GET /ws HTTP/1.1\r\nHost: x\r\n" + forwardedTail + "Connection: upgrade\r\nUpgrade: websocket\r\n\r\n",
		},
		{
			name: "client framing lines never copied",
			in:   "PUT /a HTTP/1.1\r\nContent-Length: 003\r\nHost: x\r\nX-A: 1\r\n\r\n",
			want: "PUT /a HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n" + forwardedTail + "Content-Length: 3\r\n\r\n",
		},
		{
			name: "explicit zero length on POST",
			in:   "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
			want: "POST /a HTTP/1.1\r\nHost: x\r\n" + forwardedTail + "Content-Length: 0\r\n\r\n",
		},
		{
			name: "no length, no framing header",
			in:   "GET /a HTTP/1.1\r\nHost: x\r\n\r\n",
			want: "GET /a HTTP/1.1\r\nHost: x\r\n" + forwardedTail + "\r\n",
		},
		{
			name: "an ordinary option is still hop-by-hop",
			in:   "GET /a HTTP/1.1\r\nHost: x\r\nConnection: X-Secret\r\nX-Secret: 1\r\nX-Keep: 2\r\n\r\n",
			want: "GET /a HTTP/1.1\r\nHost: x\r\nX-Keep: 2\r\n" + forwardedTail + "\r\n",
		},
		{
			name: "options of every Connection line count",
			in:   "GET /a HTTP/1.1\r\nHost: x\r\nConnection: x-secret\r\nX-Secret: 1\r\nConnection: keep-alive\r\nX-Keep: 2\r\n\r\n",
			want: "GET /a HTTP/1.1\r\nHost: x\r\nX-Keep: 2\r\n" + forwardedTail + "\r\n",
		},
		{
			name: "X-Forwarded-For named in Connection is not merged",
			in:   "GET /a HTTP/1.1\r\nHost: x\r\nConnection: x-forwarded-for\r\nX-Forwarded-For: 6.6.6.6\r\n\r\n",
			want: "GET /a HTTP/1.1\r\nHost: x\r\n" + forwardedTail + "\r\n",
		},
	})
}

func TestFinding9UpstreamOriginForm(t *testing.T) {
	runUpstreamHeadCases(t, []upstreamHeadCase{
		{
			name: "absolute-form: target's host replaces Host",
			in:   "GET http://evil.example/x?q=1 HTTP/1.1\r\nHost: good\r\n\r\n",
			want: "GET /x?q=1 HTTP/1.1\r\nHost: evil.example\r\nX-Forwarded-For: " + testPeer +
				"\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Host: evil.example\r\nVia: 1.1 nproxy\r\n\r\n",
		},
		{
			name: "absolute-form without path",
			in:   "GET HTTPS://x HTTP/1.1\r\nHost: y\r\n\r\n",
			want: "GET / HTTP/1.1\r\nHost: x\r\n" + forwardedTail + "\r\n",
		},
		{
			name: "absolute-form with query but no path",
			in:   "GET http://x?a=b HTTP/1.1\r\nHost: x\r\n\r\n",
			want: "GET /?a=b HTTP/1.1\r\nHost: x\r\n" + forwardedTail + "\r\n",
		},
		{
			name: "absolute-form OPTIONS without path is asterisk-form",
			in:   "OPTIONS http://x HTTP/1.1\r\nHost: x\r\n\r\n",
			want: "OPTIONS * HTTP/1.1\r\nHost: x\r\n" + forwardedTail + "\r\n",
		},
		{
			name: "absolute-form OPTIONS with a path keeps it",
			in:   "OPTIONS http://x/p HTTP/1.1\r\nHost: x\r\n\r\n",
			want: "OPTIONS /p HTTP/1.1\r\nHost: x\r\n" + forwardedTail + "\r\n",
		},
		{
			name:      "absolute-form rewritten",
			in:        "GET http://x/old?q HTTP/1.1\r\nHost: x\r\n\r\n",
			rewritten: "/new path",
			want:      "GET /new%20path?q HTTP/1.1\r\nHost: x\r\n" + forwardedTail + "\r\n",
		},
		{
			name: "absolute-form in HTTP/1.0 without Host",
			in:   "GET http://x/p HTTP/1.0\r\n\r\n",
			want: "GET /p HTTP/1.1\r\nHost: x\r\n" + forwardedTail + "\r\n",
		},
		{
			name: "asterisk-form passes",
			in:   "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
			want: "OPTIONS * HTTP/1.1\r\nHost: x\r\n" + forwardedTail + "\r\n",
		},
		{
			name: "HTTP/1.0 without Host gets the backend's",
			in:   "GET /p HTTP/1.0\r\n\r\n",
			want: "GET /p HTTP/1.1\r\nHost: " + testBackend + "\r\nX-Forwarded-For: " + testPeer +
				"\r\nX-Forwarded-Proto: http\r\nVia: 1.1 nproxy\r\n\r\n",
		},
		{
			name: "empty Host gets the backend's, once",
			in:   "GET /p HTTP/1.1\r\nHost:\r\n\r\n",
			want: "GET /p HTTP/1.1\r\nHost: " + testBackend + "\r\nX-Forwarded-For: " + testPeer +
				"\r\nX-Forwarded-Proto: http\r\nVia: 1.1 nproxy\r\n\r\n",
		},
		{
			name: "client's X-Forwarded-Host and -Proto are replaced",
			in:   "GET /p HTTP/1.1\r\nX-Forwarded-Host: evil\r\nHost: x\r\nX-Forwarded-Proto: https\r\n\r\n",
			want: "GET /p HTTP/1.1\r\nHost: x\r\n" + forwardedTail + "\r\n",
		},
	})
}

func TestFinding10UnderscoreHeadersDropped(t *testing.T) {
	const in = "GET /a HTTP/1.1\r\nHost: x\r\nX_Forwarded_For: 6.6.6.6\r\nX-Forwarded-For: 10.0.0.1\r\nUser_Agent: u\r\nX-Ok: a_b\r\n\r\n"
	runUpstreamHeadCases(t, []upstreamHeadCase{
		{
			name: "dropped by default",
			in:   in,
			want: "GET /a HTTP/1.1\r\nHost: x\r\nX-Ok: a_b\r\nX-Forwarded-For: 10.0.0.1, " + testPeer +
				"\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Host: x\r\nVia: 1.1 nproxy\r\n\r\n",
		},
		{
			name:        "kept with underscores_in_headers on",
			in:          in,
			underscores: true,
			want: "GET /a HTTP/1.1\r\nHost: x\r\nX_Forwarded_For: 6.6.6.6\r\nUser_Agent: u\r\nX-Ok: a_b\r\nX-Forwarded-For: 10.0.0.1, " + testPeer +
				"\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Host: x\r\nVia: 1.1 nproxy\r\n\r\n",
		},
		{
			name: "Content_Length is neither a length nor forwarded",
			in:   "POST /a HTTP/1.1\r\nHost: x\r\nContent_Length: 5\r\n\r\n",
			want: "POST /a HTTP/1.1\r\nHost: x\r\n" + forwardedTail + "\r\n",
		},
	})
}

// TestFinding13UpstreamReframing: a Connection option never removes Host.
// (A Content-Length list or a repeated Content-Length is refused by the
// parser, as nginx refuses it: see http's TestFinding13Framing.)
func TestFinding13UpstreamReframing(t *testing.T) {
	runUpstreamHeadCases(t, []upstreamHeadCase{
		{
			name: "Connection: host keeps Host",
			in:   "GET /a HTTP/1.1\r\nConnection: host\r\nHost: x\r\n\r\n",
			want: "GET /a HTTP/1.1\r\nHost: x\r\n" + forwardedTail + "\r\n",
		},
	})
}

// FuzzAppendRequestHead checks, for any request the parser accepts, that
// the head sent upstream parses too, with the framing, method, Host and
// path nproxy acted on, one Host, and no name with '_'. The seeds are the
// parser's fuzz seeds and the cases above.
func FuzzAppendRequestHead(f *testing.F) {
	for _, s := range []string{
		"POST /a HTTP/1.1\r\nHost: x\r\nConnection: content-length\r\nContent-Length: 5\r\n\r\nhello",
		"POST /a HTTP/1.1\r\nHost: x\r\nConnection: transfer-encoding, host\r\nTransfer-Encoding: chunked\r\n\r\n",
		"GET http://evil.example/x?q=1 HTTP/1.1\r\nHost: good\r\n\r\n",
		"OPTIONS http://x HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /a HTTP/1.1\r\nHost: x\r\nX_Forwarded_For: 6.6.6.6\r\nConnection: a, b\r\nConnection: c\r\n\r\n",
		"POST /a HTTP/1.0\r\nContent-Length: 5, 5\r\n\r\n",
		"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: websocket\r\nTrailer: x\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var p http.Parser
		var req http.Request
		req.Reset()
		if done, err := p.Parse(in, &req); !done || err != nil {
			return
		}
		out, _ := upstreamHead(t, in, "", false)
		var up http.Request
		up.Reset()
		p.Reset()
		done, err := p.Parse([]byte(out), &up)
		if err == http.ErrTooManyHeaders || err == http.ErrHeaderTooLarge {
			return // the client's head was at a limit; nproxy's lines pushed it over
		}
		if !done || err != nil || up.HeadLen != len(out) {
			t.Fatalf("upstream head does not parse: done=%v err=%v\n%q", done, err, out)
		}
		ob := []byte(out)
		switch {
		case up.Chunked != req.Chunked, up.ContentLength != req.ContentLength:
			t.Fatalf("framing: chunked %v length %d upstream, %v %d from the client\n%q",
				up.Chunked, up.ContentLength, req.Chunked, req.ContentLength, out)
		case up.Method != req.Method || !bytes.Equal(up.MethodSpan.Bytes(ob), req.MethodSpan.Bytes(in)):
			t.Fatalf("method %q upstream", up.MethodSpan.Bytes(ob))
		case up.Absolute:
			t.Fatalf("absolute-form upstream: %q", out)
		case up.Upgrade != req.Upgrade:
			t.Fatalf("upgrade %v upstream, %v from the client", up.Upgrade, req.Upgrade)
		case up.HasUnderscoreHeader:
			t.Fatalf("a name with '_' went upstream: %q", out)
		}
		wantHost := req.Host.Bytes(in)
		if len(wantHost) == 0 {
			wantHost = []byte(testBackend)
		}
		if !bytes.Equal(up.Host.Bytes(ob), wantHost) {
			t.Fatalf("Host %q upstream, want %q", up.Host.Bytes(ob), wantHost)
		}
		if uri := up.URI.Bytes(ob); string(uri) != "*" && !bytes.Equal(up.Path.Bytes(ob), req.Path.Bytes(in)) &&
			!(req.Absolute && req.Path.Empty() && string(up.Path.Bytes(ob)) == "/") {
			t.Fatalf("path %q upstream, %q from the client", up.Path.Bytes(ob), req.Path.Bytes(in))
		}
	})
}
