package config

// HTTP/2 to clients: http2 = on|off per [server] (package http2, and
// server/h2conn.go). Every route is served over HTTP/2, proxied ones
// included (server/h2proxy.go: the proxy stays HTTP/1.1 upstream).

// http2Keys are the [server] keys of this file; keys.go merges them.
var http2Keys = map[string]serverKey{
	"http2": func(l *loader, s *Server, v string) (err error) {
		s.http2Line = l.line
		s.HTTP2, err = parseSwitch(v)
		return err
	},
}

func init() {
	for k, f := range http2Keys {
		serverKeys[k] = f
	}
}

// checkHTTP2 checks the http2 keys of servers once the file is read.
// Nothing is refused any more: a [server] that proxies (in the block or
// in a [location]) may speak HTTP/2 to its clients, since a stream is
// proxied as an HTTP/1.1 request is (server/h2proxy.go).
func (l *loader) checkHTTP2(servers []*Server) {}
