package syslog

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// jan2 is a time whose day has one digit, which RFC 3164 pads with a
// space.
var jan2 = time.Date(2026, time.January, 2, 15, 4, 5, 0, time.Local)

func TestAppendHeader(t *testing.T) {
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		target string
		sev    int
		at     time.Time
		want   string
	}{
		{"defaults: local7.info", "syslog:server=127.0.0.1", SevInfo, jan2,
			"<190>Jan  2 15:04:05 " + host + " nproxy: "},
		{"error, nohostname", "syslog:server=127.0.0.1,nohostname", SevError, jan2,
			"<187>Jan  2 15:04:05 nproxy: "},
		{"facility and tag", "syslog:server=127.0.0.1,facility=daemon,tag=edge,nohostname", SevDebug,
			time.Date(2026, time.November, 30, 9, 0, 59, 0, time.Local),
			"<31>Nov 30 09:00:59 edge: "},
		{"kern.emerg is 0", "syslog:server=127.0.0.1,facility=kern,nohostname", 0, jan2,
			"<0>Jan  2 15:04:05 nproxy: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tg, err := Parse(tt.target)
			if err != nil {
				t.Fatal(err)
			}
			w, err := Open(tg)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			if got := string(w.AppendHeader(nil, tt.at, tt.sev)); got != tt.want {
				t.Errorf("header = %q, want %q", got, tt.want)
			}
			// The second is cached: a later second is formatted anew.
			if got := string(w.AppendHeader(nil, tt.at.Add(time.Second), tt.sev)); got == tt.want {
				t.Errorf("header of the next second = %q, unchanged", got)
			}
		})
	}
}

// readDatagram reads one datagram from c, within a generous bound.
func readDatagram(t *testing.T, c net.PacketConn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b := make([]byte, 65536)
	n, _, err := c.ReadFrom(b)
	if err != nil {
		t.Fatal(err)
	}
	return string(b[:n])
}

func TestSendUDP(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	tg, err := Parse("syslog:server=" + pc.LocalAddr().String() + ",nohostname,severity=notice")
	if err != nil {
		t.Fatal(err)
	}
	w, err := Open(tg)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.Send(jan2, tg.Severity, []byte("GET / 200\n"))
	w.Send(jan2, SevError, []byte("second"))
	if got, want := readDatagram(t, pc), "<189>Jan  2 15:04:05 nproxy: GET / 200"; got != want {
		t.Errorf("datagram = %q, want %q", got, want)
	}
	if got, want := readDatagram(t, pc), "<187>Jan  2 15:04:05 nproxy: second"; got != want {
		t.Errorf("datagram = %q, want %q", got, want)
	}
	if n, err := w.TakeDropped(); n != 0 || err != nil {
		t.Errorf("TakeDropped = %d, %v; want none", n, err)
	}
}

func TestSendUnixReconnects(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log.sock")
	tg, err := Parse("syslog:server=unix:" + path)
	if err != nil {
		t.Fatal(err)
	}
	// Nobody listens yet: Open succeeds, the lines are dropped.
	w, err := Open(tg)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	now := time.Now()
	w.Send(now, SevInfo, []byte("lost 1"))
	w.Send(now, SevInfo, []byte("lost 2"))
	n, err := w.TakeDropped()
	if n != 2 || err == nil || !strings.Contains(err.Error(), "2 lines dropped") {
		t.Fatalf("TakeDropped = %d, %v; want 2 and the reason", n, err)
	}
	if n, _ := w.TakeDropped(); n != 0 {
		t.Errorf("TakeDropped again = %d, want 0", n)
	}

	pc, err := net.ListenPacket("unixgram", path)
	if err != nil {
		t.Fatal(err)
	}
	// Within retryEvery of the failed try the line is dropped without
	// a connect; after it, the socket connects.
	w.Send(now, SevInfo, []byte("lost 3"))
	now = now.Add(retryEvery)
	w.Send(now, SevInfo, []byte("arrives"))
	host, _ := os.Hostname()
	if got := readDatagram(t, pc); !strings.HasSuffix(got, " "+host+" nproxy: arrives") || !strings.HasPrefix(got, "<190>") {
		t.Errorf("datagram = %q", got)
	}
	if w.Dropped() != 3 {
		t.Errorf("Dropped = %d, want 3", w.Dropped())
	}

	// The daemon restarts: its socket is re-created at the same path.
	pc.Close()
	os.Remove(path)
	w.Send(now, SevInfo, []byte("lost 4")) // ECONNREFUSED: reconnect later
	pc, err = net.ListenPacket("unixgram", path)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	now = now.Add(retryEvery)
	w.Send(now, SevInfo, []byte("again"))
	if got := readDatagram(t, pc); !strings.HasSuffix(got, "nproxy: again") {
		t.Errorf("datagram after the restart = %q", got)
	}
	if w.Dropped() != 4 {
		t.Errorf("Dropped = %d, want 4", w.Dropped())
	}
}

// TestSendNeverBlocks fills a server's receive buffer that nobody reads:
// the sends return, and what the kernel refused is counted.
func TestSendNeverBlocks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log.sock")
	pc, err := net.ListenPacket("unixgram", path)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	tg, _ := Parse("syslog:server=unix:" + path)
	w, err := Open(tg)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	line := []byte(strings.Repeat("x", 1000))
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 100000 && w.Dropped() == 0; i++ {
			w.Send(jan2, SevInfo, line)
		}
	}()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("Send blocked")
	}
	n, err := w.TakeDropped()
	if n == 0 || err == nil {
		t.Fatalf("no line dropped with nobody reading: %d, %v", n, err)
	}
	if !errors.Is(err, unix.EAGAIN) {
		t.Errorf("reason = %v, want EAGAIN", err)
	}
}
