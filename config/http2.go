package config

// HTTP/2 to clients: http2 = on|off per [server] (package http2, and
// server/h2conn.go). Off by default in this build: proxied routes are not
// served over HTTP/2 yet, so a block that turns it on may not proxy, and
// a block that does not ask for it keeps speaking HTTP/1.1 only.

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

// checkHTTP2 refuses http2 = on on a [server] that proxies (proxy_pass
// in the block or in one of its [location]s): requests over HTTP/2 cannot
// be proxied in this build, and a site that asked for HTTP/2 must fail
// `nproxy -t` rather than break at run time.
func (l *loader) checkHTTP2(servers []*Server) {
	for _, s := range servers {
		if !s.HTTP2 {
			continue
		}
		proxied := s.HasProxy()
		for _, loc := range s.Locations {
			proxied = proxied || loc.Server.HasProxy()
		}
		if proxied {
			l.addf(s.http2Line, ErrNotImplemented, "http2: on: proxied requests are not served over HTTP/2 in this build (proxy_pass in this [server] or its [location]s); set http2 = off here")
		}
	}
}
