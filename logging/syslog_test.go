package logging

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

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

func TestSyslog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log.sock")
	pc, err := net.ListenPacket("unixgram", path)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	l, err := New("syslog:server=unix:"+path+",nohostname,facility=daemon,tag=np", Info)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, time.January, 2, 3, 4, 5, 0, time.Local)
	l.now = func() time.Time { return at }
	l.Debugf("not sent")
	l.Errorf("upstream %s refused", "10.0.0.1:80")
	l.Warnf("w")
	l.Infof("i")
	pid := os.Getpid()
	for _, want := range []string{
		fmt.Sprintf("<27>Jan  2 03:04:05 np: [error] %d: upstream 10.0.0.1:80 refused", pid),
		fmt.Sprintf("<28>Jan  2 03:04:05 np: [warn] %d: w", pid),
		fmt.Sprintf("<30>Jan  2 03:04:05 np: [info] %d: i", pid),
	} {
		if got := recv(t, pc); got != want {
			t.Errorf("datagram\n got %q\nwant %q", got, want)
		}
	}
	// JSON lines are sent whole.
	l.SetJSON(true)
	l.Errorf("j")
	if got := recv(t, pc); !strings.HasPrefix(got, "<27>Jan  2 03:04:05 np: {") || !strings.HasSuffix(got, `"msg":"j"}`) {
		t.Errorf("json datagram = %q", got)
	}
	// SIGUSR1 changes nothing; Close sends later lines to stderr.
	if err := l.Reopen(); err != nil {
		t.Error(err)
	}
	l.SetJSON(false)
	l.Errorf("after reopen")
	if got := recv(t, pc); !strings.HasSuffix(got, "after reopen") {
		t.Errorf("after Reopen: %q", got)
	}
	if l.Dropped() != 0 {
		t.Errorf("Dropped = %d, want 0", l.Dropped())
	}
	if err := l.Close(); err != nil {
		t.Error(err)
	}
}

// TestSyslogDropsReported: the lines a missing syslog server did not
// take are counted and, in a later second, reported in a line of their
// own once the server is there.
func TestSyslogDropsReported(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log.sock")
	l, err := New("syslog:server=unix:"+path+",nohostname", Info)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	at := time.Unix(1_700_000_000, 0)
	l.now = func() time.Time { return at }
	l.Errorf("lost")
	l.Errorf("lost too")
	if l.Dropped() != 2 {
		t.Fatalf("Dropped = %d, want 2", l.Dropped())
	}
	pc, err := net.ListenPacket("unixgram", path)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	at = at.Add(2 * time.Second) // past the Writer's reconnect delay
	l.Errorf("arrives")
	if got := recv(t, pc); !strings.Contains(got, "[warn]") || !strings.Contains(got, "2 lines dropped") {
		t.Errorf("first datagram = %q, want the drop report", got)
	}
	if got := recv(t, pc); !strings.HasSuffix(got, "arrives") {
		t.Errorf("second datagram = %q", got)
	}
}

func TestSyslogBadDestination(t *testing.T) {
	if _, err := New("syslog:server=127.0.0.1,severity=loud", Info); err == nil || !strings.Contains(err.Error(), `unknown severity "loud"`) {
		t.Errorf("New = %v, want the unknown severity", err)
	}
}
