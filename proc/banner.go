//go:build linux

package proc

import (
	"strconv"
	"strings"

	"github.com/nproxy/nproxy/config"
)

// banner is what the master prints once, when its first workers accept,
// on stderr whatever error_log says: for the person who just started it,
// what each [server] serves, at which URLs they can click, on which
// backend and with how many workers. One line per [server]:
//
//	serving /srv/www at http://127.0.0.1:8080 (io_uring, 2 workers)
//	proxying https://0.0.0.0:443 to 10.0.0.1:8000, 10.0.0.2:8000 (io_uring, 2 workers)
//	serving /srv/www at http://[::1]:8080, /api/ proxied to 127.0.0.1:9001 (epoll, 1 worker)
func banner(cfg *config.Config, backend string, workers int) string {
	tail := " (" + backend + ", " + strconv.Itoa(workers) + " worker"
	if workers != 1 {
		tail += "s"
	}
	tail += ")\n"
	var b strings.Builder
	for _, s := range cfg.Servers {
		scheme := "http://"
		if s.HasTLS() {
			scheme = "https://"
		}
		urls := make([]string, len(s.Listen))
		for i, addr := range s.Listen {
			urls[i] = scheme + addr
		}
		at := strings.Join(urls, ", ")
		backends := make([]string, len(s.ProxyPass))
		for i, u := range s.ProxyPass {
			backends[i] = u.Addr
		}
		to := strings.Join(backends, ", ")
		switch {
		case s.StaticRoot != "" && s.HasProxy():
			b.WriteString("serving " + s.StaticRoot + " at " + at + ", " + s.ProxyPrefix + " proxied to " + to)
		case s.StaticRoot != "":
			b.WriteString("serving " + s.StaticRoot + " at " + at)
		case s.HasProxy():
			b.WriteString("proxying " + at + " to " + to)
		default:
			b.WriteString("answering at " + at)
		}
		b.WriteString(tail)
	}
	return b.String()
}
