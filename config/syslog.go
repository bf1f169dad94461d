package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/nproxy/nproxy/syslog"
)

// logDest checks a log destination of access_log or error_log: a file
// (outputPath) or, as nginx's, a syslog server,
// "syslog:server=ADDRESS[,facility=F][,severity=S][,tag=T][,nohostname]"
// (syslog.Parse). A UNIX socket's directory must exist and the path, if
// it exists, must be a socket; a socket that does not exist yet is
// accepted (the syslog daemon may start after nproxy: the lines are
// dropped and counted until it listens).
func (l *loader) logDest(v string) (string, error) {
	if !syslog.IsTarget(v) {
		return l.outputPath(v)
	}
	t, err := syslog.Parse(v)
	if err != nil {
		return "", fmt.Errorf("%s", strings.TrimPrefix(err.Error(), "syslog: "))
	}
	if t.Network != "unixgram" {
		return v, nil
	}
	fi, err := os.Stat(t.Addr)
	switch {
	case err == nil && fi.Mode().Type() != os.ModeSocket:
		return "", fileError(fmt.Sprintf("%q: %s is not a socket", v, t.Addr))
	case err == nil:
		return v, nil
	}
	if dir, err := os.Stat(filepath.Dir(t.Addr)); err != nil || !dir.IsDir() {
		return "", fileError(fmt.Sprintf("%q: the socket's directory %s does not exist", v, filepath.Dir(t.Addr)))
	}
	return v, nil
}
