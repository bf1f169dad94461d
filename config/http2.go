package config

// HTTP/2 to clients: http2 = on|off per [server] (package http2, and
// server/h2conn.go). Every route is served over HTTP/2, proxied ones
// included (server/h2proxy.go: the proxy stays HTTP/1.1 upstream). The
// default is on for a [server] with TLS (ALPN offers h2, and a client
// that does not ask for it gets HTTP/1.1 as before) and off in the clear,
// where h2c with prior knowledge must be asked for.

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

// checkHTTP2 applies the default of http2 once the file is read: on for
// a [server] with TLS that does not set it, as Caddy and HAProxy users
// expect. Nothing is refused: a [server] that proxies (in the block or
// in a [location]) speaks HTTP/2 as a static one does, since a stream is
// proxied as an HTTP/1.1 request is (server/h2proxy.go).
func (l *loader) checkHTTP2(servers []*Server) {
	for _, s := range servers {
		if s.http2Line == 0 && s.HasTLS() {
			s.HTTP2 = true
		}
	}
}
