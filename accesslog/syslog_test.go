package accesslog

import (
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// listenUDP returns a UDP socket on loopback standing in for a syslog
// server.
func listenUDP(t testing.TB) net.PacketConn {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return pc
}

// recv reads one datagram, within a generous bound.
func recv(t *testing.T, pc net.PacketConn) string {
	t.Helper()
	pc.SetReadDeadline(time.Now().Add(10 * time.Second))
	b := make([]byte, 65536)
	n, _, err := pc.ReadFrom(b)
	if err != nil {
		t.Fatal(err)
	}
	return string(b[:n])
}

func TestSyslogLines(t *testing.T) {
	pc := listenUDP(t)
	l, err := Open("syslog:server=" + pc.LocalAddr().String() + ",facility=local0,severity=notice,tag=edge,nohostname")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	at := time.Date(2026, time.March, 7, 8, 9, 10, 0, time.Local)
	e := Entry{Addr: netip.MustParseAddr("192.0.2.7"), Time: at, Request: []byte("GET /a HTTP/1.1"),
		Status: 200, BodyBytes: 612, Headers: hdrs("", "curl/8.5.0")}
	if err := l.Write(Combined, &e); err != nil {
		t.Fatal(err)
	}
	// Over UDP the line waits for the end of the loop's turn (Tick).
	if err := l.Tick(at); err != nil {
		t.Fatal(err)
	}
	stamp := at.Format("02/Jan/2006:15:04:05 -0700")
	want := `<133>Mar  7 08:09:10 edge: 192.0.2.7 - - [` + stamp + `] "GET /a HTTP/1.1" 200 612 "-" "curl/8.5.0"`
	if got := recv(t, pc); got != want {
		t.Errorf("datagram\n got %q\nwant %q", got, want)
	}
	// A condition that is not met sends nothing: the next datagram is
	// the next line that is logged.
	cf, err := Combined.WithCondition("$http_referer")
	if err != nil {
		t.Fatal(err)
	}
	l.Write(cf, &e)
	e.Status = 404
	l.Write(Combined, &e)
	l.Flush() // as the server does when it drains
	if got := recv(t, pc); !strings.Contains(got, `" 404 612 "`) {
		t.Errorf("datagram after the unmet condition = %q, want the 404", got)
	}
	// A reopen (SIGUSR1) changes nothing.
	if err := l.Reopen(); err != nil {
		t.Error(err)
	}
	l.Write(Combined, &e)
	l.Close() // sends what is queued
	if got := recv(t, pc); !strings.HasPrefix(got, "<133>") {
		t.Errorf("datagram after Reopen = %q", got)
	}
	if err := l.Tick(time.Now()); err != nil || l.Dropped() != 0 {
		t.Errorf("Tick = %v, Dropped = %d; want nothing dropped", err, l.Dropped())
	}
}

// TestSyslogDrops: a UNIX socket nobody listens on drops the lines;
// Tick reports them once.
func TestSyslogDrops(t *testing.T) {
	l, err := Open("syslog:server=unix:" + filepath.Join(t.TempDir(), "none.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	e := Entry{Time: time.Now(), Status: 200}
	for range 3 {
		if err := l.Write(Combined, &e); err != nil {
			t.Fatal(err)
		}
	}
	if l.Dropped() != 3 {
		t.Errorf("Dropped = %d, want 3", l.Dropped())
	}
	err = l.Tick(time.Now())
	if err == nil || !strings.Contains(err.Error(), "3 lines dropped") {
		t.Errorf("Tick = %v, want the 3 dropped lines", err)
	}
	if err := l.Tick(time.Now()); err != nil {
		t.Errorf("second Tick = %v, want nil (reported once)", err)
	}
}

func TestSyslogOpenErrors(t *testing.T) {
	for _, dest := range []string{"syslog:server=127.0.0.1,facility=nope", "syslog:tag=x"} {
		if _, err := Open(dest); err == nil || !strings.HasPrefix(err.Error(), "accesslog: syslog: ") {
			t.Errorf("Open(%q) = %v, want a syslog error", dest, err)
		}
	}
}
