//go:build linux && !race

package server

import (
	"net"
	"testing"

	"github.com/nproxy/nproxy/accesslog"
	"github.com/nproxy/nproxy/http"
)

// TestSyslogObserveAllocs is TestObserveAllocs with access_log =
// syslog:server=...: a line sent as a datagram allocates nothing either.
func TestSyslogObserveAllocs(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	c, req, buf, file := observeFixture(t)
	file.Close()
	al, err := accesslog.Open("syslog:server=" + pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer al.Close()
	c.vh.alog = al
	var r http.Response
	r.Reset(nil)
	r.SetBody(200, "", []byte("hello"))
	c.observe(req, buf, &r, false)
	if n := testing.AllocsPerRun(1000, func() { c.observe(req, buf, &r, false) }); n != 0 {
		t.Errorf("observe with a syslog access log: %v allocs, want 0", n)
	}
}
