//go:build linux

package proxy

import (
	"strings"
	"testing"

	"github.com/nproxy/nproxy/config"
	"github.com/nproxy/nproxy/http"
	"github.com/nproxy/nproxy/vars"
)

// TestForwarded checks the Forwarded field (RFC 7239) of the head sent
// upstream: merged after the client's with proxy_forwarded = on, IPv6
// quoted in brackets, a Host with a port quoted, replaced by a
// proxy_set_header Forwarded, and the client's passed as it came when
// off.
func TestForwarded(t *testing.T) {
	tests := []struct {
		name      string
		req       string
		peer      string
		tls       bool
		forwarded bool
		set       []string
		want      string // the Forwarded line(s) of the upstream head, "" for none
	}{
		{name: "off, none", req: "GET / HTTP/1.1\r\nHost: x\r\n\r\n", peer: testPeer, want: ""},
		{name: "off, client's kept", req: "GET / HTTP/1.1\r\nHost: x\r\nForwarded: for=6.6.6.6\r\n\r\n", peer: testPeer,
			want: "Forwarded: for=6.6.6.6\r\n"},
		{name: "on", req: "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n", peer: testPeer, forwarded: true,
			want: "Forwarded: for=192.0.2.1;host=example.com;proto=http\r\n"},
		{name: "on, client's first", req: "GET / HTTP/1.1\r\nHost: x\r\nForwarded: for=6.6.6.6;proto=https\r\n\r\n", peer: testPeer, forwarded: true,
			want: "Forwarded: for=6.6.6.6;proto=https, for=192.0.2.1;host=x;proto=http\r\n"},
		{name: "ipv6, port, tls", req: "GET / HTTP/1.1\r\nHost: example.com:8443\r\n\r\n", peer: "2001:db8::1", tls: true, forwarded: true,
			want: "Forwarded: for=\"[2001:db8::1]\";host=\"example.com:8443\";proto=https\r\n"},
		{name: "HTTP/1.0 without Host", req: "GET / HTTP/1.0\r\n\r\n", peer: testPeer, forwarded: true,
			want: "Forwarded: for=192.0.2.1;proto=http\r\n"},
		{name: "a Connection option drops the client's", req: "GET / HTTP/1.1\r\nHost: x\r\nConnection: forwarded\r\nForwarded: for=6.6.6.6\r\n\r\n", peer: testPeer, forwarded: true,
			want: "Forwarded: for=192.0.2.1;host=x;proto=http\r\n"},
		{name: "proxy_set_header wins", req: "GET / HTTP/1.1\r\nHost: x\r\nForwarded: for=6.6.6.6\r\n\r\n", peer: testPeer, forwarded: true,
			set: []string{"Forwarded for=$remote_addr"}, want: "Forwarded: for=192.0.2.1\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := []byte(tt.req)
			var p http.Parser
			req := new(http.Request)
			req.Reset()
			if done, err := p.Parse(in, req); !done || err != nil {
				t.Fatalf("parse: %v", err)
			}
			x := &http.Exchange{Req: req, Buf: in, TLS: tt.tls}
			var set []config.SetHeader
			if len(tt.set) > 0 {
				set = setHeaders(t, tt.set...)
				x.Vars = &vars.Values{RemoteAddr: []byte(tt.peer)}
			}
			head := string(appendRequestHead(nil, x, []byte(tt.peer), testBackend, false, tt.forwarded, set, nil))
			got := ""
			for _, line := range strings.SplitAfter(head, "\r\n") {
				if strings.HasPrefix(strings.ToLower(line), "forwarded:") {
					got += line
				}
			}
			if got != tt.want {
				t.Errorf("Forwarded lines %q, want %q\nhead:\n%s", got, tt.want, head)
			}
		})
	}
}
