package config

import (
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/nproxy/nproxy/accesslog"
)

// TestSyslogDestinations: the syslog: destinations of access_log and
// error_log are kept as written (the server opens them), not resolved as
// paths, and survive -T.
func TestSyslogDestinations(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "log.sock")
	pc, err := net.ListenPacket("unixgram", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	errorLog := "syslog:server=unix:" + sock + ",nohostname"
	accessLog := "syslog:server=127.0.0.1:5140,severity=notice,tag=web"
	src := "error_log = " + errorLog + "\n[server]\nlisten = 127.0.0.1:8080\naccess_log = " + accessLog + " json\n"
	cfg, err := Parse("syslog.ini", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ErrorLog != errorLog {
		t.Errorf("ErrorLog = %q, want %q", cfg.ErrorLog, errorLog)
	}
	if s := cfg.Servers[0]; s.AccessLog != accessLog || !reflect.DeepEqual(s.AccessFormat, accesslog.Builtin("json")) {
		t.Errorf("AccessLog = %q (%v), want %q json", s.AccessLog, s.AccessFormat, accessLog)
	}
	text, err := cfg.Effective()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"error_log = " + errorLog + "\n", "access_log = " + accessLog + " json\n"} {
		if !strings.Contains(string(text), want) {
			t.Errorf("-T lacks %q:\n%s", want, text)
		}
	}
}

// TestSyslogUserCanWrite: with user = NAME, a UNIX socket the workers'
// user could not connect to is an error at its key's line.
func TestSyslogUserCanWrite(t *testing.T) {
	nobody(t)
	top := t.TempDir()
	os.Chmod(top, 0o755)
	os.Chmod(filepath.Dir(top), 0o755)
	sock := filepath.Join(top, "log.sock")
	pc, err := net.ListenPacket("unixgram", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	os.Chmod(sock, 0o600)
	conf := "user = nobody\nerror_log = syslog:server=unix:" + sock + "\n[server]\nlisten = 127.0.0.1:1\n" +
		"access_log = syslog:server=unix:" + sock + ",nohostname combined\n"
	_, err = Parse(filepath.Join(top, "u.ini"), []byte(conf))
	checkErr(t, err, `u.ini:2: error_log: "syslog:server=unix:`+sock+`": permission denied: user nobody cannot write to `+sock+" (Srw-------")
	checkErr(t, err, `u.ini:5: access_log: "syslog:server=unix:`+sock+`,nohostname": permission denied: user nobody cannot write to `+sock)

	os.Chmod(sock, 0o666)
	if _, err = Parse(filepath.Join(top, "u.ini"), []byte(conf)); err != nil {
		t.Fatal(err)
	}
}
